#include "enclave/pki/pki_init.h"

#include "base/file.h"
#include "enclave/pki/out_dir.h"

namespace kmra::enclave::pki {

Status PkiInit(const PkiInitOptions& options) {
  namespace fs = std::filesystem;
  if (options.dir.empty()) return InvalidArgument("--dir is required");
  for (const char* sub : {"tls", "sgx", "collateral"}) {
    const fs::path p = options.dir / sub;
    std::error_code ec;
    if (!fs::exists(p, ec)) continue;
    if (!options.force) {
      return AlreadyExists(p.string() + " exists; pass --force to replace the PKI in " +
                           options.dir.string());
    }
    fs::remove_all(p, ec);
    if (ec) return Internal("cannot remove " + p.string() + ": " + ec.message());
  }
  KMRA_TRY(CreateDirectories(options.dir, 0700));
  KMRA_TRY(WriteTlsPki(options.dir, options.tls));
  KMRA_TRY(WriteSgxPki(options.dir, options.sgx));
  return SyncFilesystem(options.dir);
}

}  // namespace kmra::enclave::pki
