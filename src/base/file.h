// Whole-file reads and crash-safe writes: the one implementation of reading a file into memory
// (ReadOpenFile; the token store opens its files its own way, relative to a directory descriptor
// and without following links, then reads them with it). Errors name the path and the system's
// reason.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "base/secret_bytes.h"

namespace kmra {

// Files larger than this are refused by the readers unless a larger limit is passed.
inline constexpr size_t kDefaultMaxFileBytes = size_t{64} << 20;

// An owned file descriptor, closed on destruction.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  UniqueFd& operator=(UniqueFd&& o) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd();

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  // Closes now and returns close(2)'s result (it can report delayed write errors).
  int Close();

 private:
  int fd_ = -1;
};

// Reads the rest of the open file `fd` (named `shown` in errors). ResourceExhausted when it holds
// more than `max_bytes`; the system's reason (Unavailable, PermissionDenied, ...) when read(2)
// fails. `size_hint` (the file's size, when known) saves reallocations.
Result<std::vector<uint8_t>> ReadOpenFile(int fd, const std::string& shown,
                                          size_t max_bytes = kDefaultMaxFileBytes,
                                          size_t size_hint = 0);

// Reads a whole regular file. NotFound when it does not exist, PermissionDenied when it cannot be
// opened for that reason, ResourceExhausted when it is larger than `max_bytes`.
Result<std::vector<uint8_t>> ReadFileBytes(const std::filesystem::path& path,
                                           size_t max_bytes = kDefaultMaxFileBytes);

// As ReadFileBytes, returning the bytes as a string (no encoding check).
Result<std::string> ReadFileText(const std::filesystem::path& path,
                                 size_t max_bytes = kDefaultMaxFileBytes);

// As ReadFileBytes, for key files and PINs: the content only ever lives in wiping memory.
Result<SecretBytes> ReadFileSecret(const std::filesystem::path& path,
                                   size_t max_bytes = kDefaultMaxFileBytes);

// Replaces `path` atomically: writes a temporary file in the same directory with permissions
// `mode`, fsyncs it, renames it over `path`, then fsyncs the directory. Readers see either the old
// or the new content, never a mix, even after a crash. The temporary file is removed on failure.
Status WriteFileAtomic(const std::filesystem::path& path, std::span<const uint8_t> bytes,
                       mode_t mode = 0600);
Status WriteFileAtomic(const std::filesystem::path& path, std::string_view text,
                       mode_t mode = 0600);

// Creates `path` and its missing parents with permissions `mode` (default 0700). Succeeds when the
// directory already exists (its permissions are left alone); fails if `path` is not a directory.
Status CreateDirectories(const std::filesystem::path& path, mode_t mode = 0700);

}  // namespace kmra
