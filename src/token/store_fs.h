// The file operations of the token store, made so that whoever else can write in token_dir cannot
// turn them against the process using the token (which may be root):
// - every file is reached relative to a directory descriptor (openat and friends), never through
//   a path that could be re-pointed between a check and its use;
// - no symbolic link is followed (O_NOFOLLOW; a link where a store file belongs is refused);
// - only regular files are read (a FIFO or device cannot block or feed the module), opened
//   O_NONBLOCK so the check itself cannot hang;
// - new files are created with O_EXCL under unpredictable names, then renamed into place;
// - directories must belong to the effective user (or root) and be writable by nobody else.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <string>
#include <vector>

#include "base/file.h"
#include "base/result.h"

namespace kmra::token::fs {

// An owned file descriptor (closed on destruction).
using Fd = kmra::UniqueFd;

// "<what>: <strerror(errno)>".
std::string Errno(const std::string& what);

// Whether `st` (of `shown`) may be trusted: owned by the effective user or root, and, for a
// directory, writable by nobody else. The error names the fix (chmod / chown).
Status CheckOwnership(const struct stat& st, const std::string& shown, bool directory);

// Opens directory `name` under `parent` (AT_FDCWD with an absolute path for token_dir itself),
// creating it 0700 when missing, without following a symbolic link, and checks its ownership.
Result<Fd> OpenDir(int parent, const std::string& name, const std::string& shown);

// Opens (creating when missing, 0600) the lock file `name` in `dir`; never through a link.
Result<Fd> OpenLockFile(int dir, const std::string& name, const std::string& shown);

// Reads regular file `name` of `dir` (opened here, read by base/file.h's ReadOpenFile): NotFound
// when absent, FailedPrecondition for a link or a non-regular file, DataLoss when larger than any
// token file.
Result<std::vector<uint8_t>> ReadFileAt(int dir, const std::string& name, const std::string& shown);

// Replaces `name` in `dir` atomically: a new file with an unpredictable name (O_EXCL, 0600),
// written, fsynced, renamed over `name`, then the directory fsynced.
Status WriteFileAt(int dir, const std::string& name, const std::vector<uint8_t>& bytes,
                   const std::string& shown);

// Removes `name` from `dir` (absent is fine) and fsyncs the directory.
Status RemoveAt(int dir, const std::string& name, const std::string& shown);

// The names in `dir` (without "." and "..").
Result<std::vector<std::string>> ListDir(int dir, const std::string& shown);

// Whether `name` is a temp file WriteFileAt may have left behind (crash between create and rename).
bool IsTempName(const std::string& name);

}  // namespace kmra::token::fs
