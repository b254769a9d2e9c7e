#include "base/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace kmra {
namespace {

tl::unexpected<Error> SysError(const std::string& what, const std::filesystem::path& path,
                               int err) {
  std::string msg = what + " '" + path.string() + "': " + std::strerror(err);
  switch (err) {
    case ENOENT:
    case ENOTDIR:
      return NotFound(std::move(msg));
    case EACCES:
    case EPERM:
      return PermissionDenied(std::move(msg));
    case ENOSPC:
    case EDQUOT:
      return ResourceExhausted(std::move(msg));
    default:
      return Unavailable(std::move(msg));
  }
}

// Reads the rest of `fd` into any byte container with resize()/data().
template <class Container>
Result<Container> ReadFdInto(int fd, const std::string& shown, size_t max_bytes, size_t size_hint) {
  auto too_large = [&] {
    return ResourceExhausted("'" + shown + "' is larger than the limit of " +
                             std::to_string(max_bytes) + " bytes");
  };
  Container out;
  size_t used = 0;
  // One byte more than the expected size, so reaching the end takes no second allocation.
  out.resize(size_hint > 0 && size_hint <= max_bytes ? size_hint + 1 : 4096);
  for (;;) {
    if (used == out.size()) {
      if (out.size() > max_bytes) return too_large();
      out.resize(out.size() * 2);
    }
    ssize_t n = ::read(fd, out.data() + used, out.size() - used);
    if (n < 0) {
      if (errno == EINTR) continue;
      return SysError("cannot read", shown, errno);
    }
    if (n == 0) break;
    used += static_cast<size_t>(n);
  }
  if (used > max_bytes) return too_large();
  out.resize(used);
  return out;
}

// Opens and reads a whole file into any byte container with resize()/data().
template <class Container>
Result<Container> ReadInto(const std::filesystem::path& path, size_t max_bytes) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return SysError("cannot open", path, errno);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return SysError("cannot stat", path, errno);
  if (S_ISDIR(st.st_mode)) {
    return InvalidArgument("'" + path.string() + "' is a directory, expected a file");
  }
  if (S_ISREG(st.st_mode) && static_cast<uint64_t>(st.st_size) > max_bytes) {
    return ResourceExhausted("'" + path.string() + "' is " + std::to_string(st.st_size) +
                             " bytes, more than the limit of " + std::to_string(max_bytes));
  }
  return ReadFdInto<Container>(fd.get(), path.string(), max_bytes,
                               S_ISREG(st.st_mode) ? static_cast<size_t>(st.st_size) : 0);
}

Status WriteAll(int fd, const uint8_t* p, size_t n, const std::filesystem::path& path) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return SysError("cannot write", path, errno);
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return OkStatus();
}

}  // namespace

UniqueFd& UniqueFd::operator=(UniqueFd&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.fd_;
    o.fd_ = -1;
  }
  return *this;
}

UniqueFd::~UniqueFd() {
  if (fd_ >= 0) ::close(fd_);
}

int UniqueFd::Close() {
  int r = ::close(fd_);
  fd_ = -1;
  return r;
}

Result<std::vector<uint8_t>> ReadOpenFile(int fd, const std::string& shown, size_t max_bytes,
                                          size_t size_hint) {
  return ReadFdInto<std::vector<uint8_t>>(fd, shown, max_bytes, size_hint);
}

Result<std::vector<uint8_t>> ReadFileBytes(const std::filesystem::path& path, size_t max_bytes) {
  return ReadInto<std::vector<uint8_t>>(path, max_bytes);
}

Result<std::string> ReadFileText(const std::filesystem::path& path, size_t max_bytes) {
  return ReadInto<std::string>(path, max_bytes);
}

Result<SecretBytes> ReadFileSecret(const std::filesystem::path& path, size_t max_bytes) {
  // SecretBytes has the container surface ReadInto needs except data(); go through a small adapter.
  struct Adapter {
    SecretBytes s;
    void resize(size_t n) { s.resize(n); }
    size_t size() const { return s.size(); }
    uint8_t* data() { return s.RevealMutable().data(); }
  };
  KMRA_ASSIGN_OR_RETURN(Adapter a, ReadInto<Adapter>(path, max_bytes));
  return std::move(a.s);
}

Status WriteFileAtomic(const std::filesystem::path& path, std::span<const uint8_t> bytes,
                       mode_t mode) {
  std::filesystem::path dir = path.parent_path();
  if (dir.empty()) dir = ".";
  std::string tmpl = (dir / ("." + path.filename().string() + ".tmp-XXXXXX")).string();
  int raw = ::mkostemp(tmpl.data(), O_CLOEXEC);
  if (raw < 0) return SysError("cannot create a temporary file beside", path, errno);
  UniqueFd fd(raw);
  const std::filesystem::path tmp(tmpl);
  auto fail = [&](tl::unexpected<Error> e) -> Status {
    ::unlink(tmp.c_str());
    return e;
  };
  // mkostemp creates 0600; set the requested mode explicitly (fchmod is not affected by umask).
  if (::fchmod(fd.get(), mode) != 0) return fail(SysError("cannot chmod", tmp, errno));
  if (auto s = WriteAll(fd.get(), bytes.data(), bytes.size(), tmp); !s) {
    return fail(tl::unexpected<Error>(s.error()));
  }
  if (::fsync(fd.get()) != 0) return fail(SysError("cannot fsync", tmp, errno));
  if (fd.Close() != 0) return fail(SysError("cannot close", tmp, errno));
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return fail(SysError("cannot rename a temporary file onto", path, errno));
  }
  // The rename is durable only once the directory entry is on disk.
  UniqueFd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dfd.get() < 0) return SysError("cannot open directory", dir, errno);
  if (::fsync(dfd.get()) != 0) return SysError("cannot fsync directory", dir, errno);
  return OkStatus();
}

Status WriteFileAtomic(const std::filesystem::path& path, std::string_view text, mode_t mode) {
  return WriteFileAtomic(
      path, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()),
      mode);
}

Status CreateDirectories(const std::filesystem::path& path, mode_t mode) {
  std::filesystem::path current;
  for (const auto& part : path) {
    current /= part;
    if (current == current.root_path()) continue;
    if (::mkdir(current.c_str(), mode) == 0) {
      // mkdir applies the umask; state the mode we were asked for.
      if (::chmod(current.c_str(), mode) != 0) return SysError("cannot chmod", current, errno);
      continue;
    }
    if (errno != EEXIST) return SysError("cannot create directory", current, errno);
    struct stat st {};
    if (::stat(current.c_str(), &st) != 0) return SysError("cannot stat", current, errno);
    if (!S_ISDIR(st.st_mode)) {
      return FailedPrecondition("'" + current.string() + "' exists and is not a directory");
    }
  }
  return OkStatus();
}

}  // namespace kmra
