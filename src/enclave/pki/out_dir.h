// Writes the many files of a freshly made PKI directory. Each file is new (O_EXCL) and gets its
// mode at creation; one syncfs() at the end makes them durable together. Per-file fsync+rename
// (WriteFileAtomic) would cost ~80 fsyncs for one `kmra pki init` and buys nothing here: the
// directories are created empty by the same run, so no reader can see an old version, and a run
// that dies halfway is redone with --force.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <span>
#include <string_view>

#include "base/result.h"

namespace kmra::enclave::pki {

// Creates `path` (which must not exist) with `mode` and writes `bytes`.
Status WriteNewFile(const std::filesystem::path& path, std::span<const std::uint8_t> bytes,
                    mode_t mode);
Status WriteNewFile(const std::filesystem::path& path, std::string_view text, mode_t mode);

// Flushes the filesystem that holds `dir` to disk.
Status SyncFilesystem(const std::filesystem::path& dir);

}  // namespace kmra::enclave::pki
