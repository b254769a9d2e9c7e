#include "enclave/pki/out_dir.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace kmra::enclave::pki {

Status WriteNewFile(const std::filesystem::path& path, std::span<const std::uint8_t> bytes,
                    mode_t mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return Internal("cannot create " + path.string() + ": " + std::strerror(errno));
  // The umask may have narrowed `mode`; set it exactly (never wider than asked).
  if (::fchmod(fd, mode) != 0) {
    ::close(fd);
    return Internal("cannot set the mode of " + path.string() + ": " + std::strerror(errno));
  }
  std::size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string reason = std::strerror(errno);
      ::close(fd);
      return Internal("cannot write " + path.string() + ": " + reason);
    }
    done += static_cast<std::size_t>(n);
  }
  if (::close(fd) != 0) {
    return Internal("cannot close " + path.string() + ": " + std::strerror(errno));
  }
  return OkStatus();
}

Status WriteNewFile(const std::filesystem::path& path, std::string_view text, mode_t mode) {
  return WriteNewFile(path,
                      std::span<const std::uint8_t>(
                          reinterpret_cast<const std::uint8_t*>(text.data()), text.size()),
                      mode);
}

Status SyncFilesystem(const std::filesystem::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Internal("cannot open " + dir.string() + ": " + std::strerror(errno));
  const int rc = ::syncfs(fd);
  const std::string reason = rc != 0 ? std::strerror(errno) : "";
  ::close(fd);
  if (rc != 0) return Internal("cannot sync " + dir.string() + " to disk: " + reason);
  return OkStatus();
}

}  // namespace kmra::enclave::pki
