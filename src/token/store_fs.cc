#include "token/store_fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <openssl/rand.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace kmra::token::fs {
namespace {

constexpr char kTempInfix[] = ".tmp.";
constexpr size_t kMaxFile = 64u << 20;

// What a link or a non-regular entry where a store file belongs gets as an answer.
Status RefuseEntry(const std::string& shown, const struct stat& st, const char* expected) {
  if (S_ISLNK(st.st_mode)) {
    return FailedPrecondition(shown +
                              " is a symbolic link; the token never makes one and follows "
                              "none (someone with write access to the token directory planted "
                              "it): remove it");
  }
  return FailedPrecondition(shown + " is not a " + expected + ": remove it");
}

// lstat of `name` in `dir` after an open failed with ELOOP / ENOTDIR, to say what is there.
Status ExplainOpenFailure(int dir, const std::string& name, const std::string& shown,
                          const char* expected) {
  const int saved = errno;
  struct stat st {};
  if (::fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
      (S_ISLNK(st.st_mode) || saved == ENOTDIR || saved == ELOOP)) {
    return RefuseEntry(shown, st, expected);
  }
  errno = saved;
  return Unavailable(Errno("cannot open " + shown));
}

// Opens regular file `name` of `dir` with `flags` (plus O_NOFOLLOW, O_NONBLOCK so a FIFO cannot
// block, O_CLOEXEC; created 0600), and stats it into `st`. NotFound when absent, PermissionDenied
// on EACCES / EROFS, FailedPrecondition for a link or anything but a regular file.
Result<Fd> OpenRegular(int dir, const std::string& name, const std::string& shown, int flags,
                       struct stat& st) {
  Fd fd(::openat(dir, name.c_str(), flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600));
  if (!fd.valid()) {
    if (errno == ENOENT) return NotFound(shown + " does not exist");
    if (errno == ELOOP) {
      return tl::unexpected(ExplainOpenFailure(dir, name, shown, "regular file").error());
    }
    if (errno == EACCES || errno == EROFS) return PermissionDenied(Errno("cannot open " + shown));
    return Unavailable(Errno("cannot open " + shown));
  }
  if (::fstat(fd.get(), &st) != 0) return Unavailable(Errno("cannot stat " + shown));
  if (!S_ISREG(st.st_mode)) return tl::unexpected(RefuseEntry(shown, st, "regular file").error());
  return fd;
}

}  // namespace

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

Status CheckOwnership(const struct stat& st, const std::string& shown, bool directory) {
  const uid_t me = ::geteuid();
  if (st.st_uid != me && st.st_uid != 0) {
    return FailedPrecondition(shown + " belongs to uid " + std::to_string(st.st_uid) +
                              ", not to this process's user (uid " + std::to_string(me) +
                              ") or root; another user's directory could point the token's writes "
                              "anywhere: run the token as uid " +
                              std::to_string(st.st_uid) + ", or `chown -R " + std::to_string(me) +
                              " " + shown + "`");
  }
  if (directory && (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    char mode[8];
    // At most 4 octal digits (the mask): cannot truncate.
    (void)std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return FailedPrecondition(shown + " is writable by its group or by everyone (mode " + mode +
                              "), so others could plant files or links in it: `chmod 0700 " +
                              shown + "`");
  }
  return OkStatus();
}

Result<Fd> OpenDir(int parent, const std::string& name, const std::string& shown) {
  if (::mkdirat(parent, name.c_str(), 0700) != 0 && errno != EEXIST) {
    return Unavailable(Errno("cannot create " + shown));
  }
  Fd fd(::openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ELOOP || errno == ENOTDIR) {
      return tl::unexpected(ExplainOpenFailure(parent, name, shown, "directory").error());
    }
    return Unavailable(Errno("cannot open " + shown));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return Unavailable(Errno("cannot stat " + shown));
  KMRA_TRY(CheckOwnership(st, shown, true));
  return fd;
}

Result<Fd> OpenLockFile(int dir, const std::string& name, const std::string& shown) {
  struct stat st {};
  auto fd = OpenRegular(dir, name, shown, O_RDWR | O_CREAT, st);
  if (!fd && fd.error().code() == Code::kPermissionDenied) {
    fd = OpenRegular(dir, name, shown, O_RDONLY, st);  // a read-only user of the token
  }
  if (!fd) return tl::unexpected(fd.error());
  KMRA_TRY(CheckOwnership(st, shown, false));
  return fd;
}

Result<std::vector<uint8_t>> ReadFileAt(int dir, const std::string& name,
                                        const std::string& shown) {
  struct stat st {};
  KMRA_ASSIGN_OR_RETURN(Fd fd, OpenRegular(dir, name, shown, O_RDONLY, st));
  const std::string too_large = shown + " is larger than any token file can be";
  if (static_cast<uint64_t>(st.st_size) > kMaxFile) return DataLoss(too_large);
  auto bytes = ReadOpenFile(fd.get(), shown, kMaxFile, static_cast<size_t>(st.st_size));
  if (!bytes && bytes.error().code() == Code::kResourceExhausted) return DataLoss(too_large);
  return bytes;
}

Status WriteFileAt(int dir, const std::string& name, const std::vector<uint8_t>& bytes,
                   const std::string& shown) {
  uint8_t raw[12];
  if (RAND_bytes(raw, sizeof raw) != 1) {
    return Unavailable("no randomness for a temp file name next to " + shown);
  }
  std::string tmp = "." + name + kTempInfix;
  static constexpr char kHex[] = "0123456789abcdef";
  for (uint8_t b : raw) {
    tmp.push_back(kHex[b >> 4]);
    tmp.push_back(kHex[b & 15]);
  }
  const std::string shown_tmp = shown + " (temp file " + tmp + ")";
  Fd fd(::openat(dir, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd.valid()) return Unavailable(Errno("cannot create " + shown_tmp));
  auto fail = [&](const std::string& what) {
    auto err = Unavailable(Errno(what));
    ::unlinkat(dir, tmp.c_str(), 0);
    return err;
  };
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = ::write(fd.get(), bytes.data() + off, bytes.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail("cannot write " + shown_tmp);
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd.get()) != 0) return fail("cannot fsync " + shown_tmp);
  fd = Fd();
  // renameat replaces whatever entry has the final name (a planted link included) without
  // following it.
  if (::renameat(dir, tmp.c_str(), dir, name.c_str()) != 0) {
    return fail("cannot rename " + shown_tmp + " into place");
  }
  if (::fsync(dir) != 0) return Unavailable(Errno("cannot fsync the directory of " + shown));
  return OkStatus();
}

Status RemoveAt(int dir, const std::string& name, const std::string& shown) {
  if (::unlinkat(dir, name.c_str(), 0) != 0 && errno != ENOENT) {
    return Unavailable(Errno("cannot remove " + shown));
  }
  if (::fsync(dir) != 0) return Unavailable(Errno("cannot fsync the directory of " + shown));
  return OkStatus();
}

Result<std::vector<std::string>> ListDir(int dir, const std::string& shown) {
  // A fresh open file description: fdopendir on a dup would share (and move) the offset.
  int fd = ::openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Unavailable(Errno("cannot list " + shown));
  DIR* d = ::fdopendir(fd);
  if (d == nullptr) {
    ::close(fd);
    return Unavailable(Errno("cannot list " + shown));
  }
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") names.push_back(std::move(n));
  }
  ::closedir(d);
  return names;
}

bool IsTempName(const std::string& name) {
  return !name.empty() && name[0] == '.' && name.find(kTempInfix) != std::string::npos;
}

}  // namespace kmra::token::fs
