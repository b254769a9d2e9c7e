// `kmra pki init`: the TLS PKI and the simulated SGX PKI with its collateral, in one directory.
#pragma once

#include <filesystem>

#include "base/result.h"
#include "enclave/pki/sgx_pki.h"
#include "enclave/pki/tls_pki.h"

namespace kmra::enclave::pki {

struct PkiInitOptions {
  std::filesystem::path dir;
  bool force = false;  // replace DIR/tls, DIR/sgx and DIR/collateral when they exist
  TlsPkiOptions tls;
  SgxPkiOptions sgx;
};

// Creates DIR (0700) and writes DIR/tls, DIR/sgx and DIR/collateral/<fmspc>. Refuses with
// AlreadyExists when any of them exists and `force` is false; never touches other files in DIR.
Status PkiInit(const PkiInitOptions& options);

}  // namespace kmra::enclave::pki
