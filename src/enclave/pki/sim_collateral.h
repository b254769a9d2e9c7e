// The signed collateral of the simulated SGX PKI: TCB info v3, QE identity v2, Root CA CRL, PCK
// Platform CA CRL and the chains, written as DIR/collateral/<fmspc>/ in the layout of an Intel
// collateral bundle (tcbInfo.json, qeIdentity.json, tcbSignChain.pem, rootCaCrl.der/.pem,
// pckCrl.der/.pem, pckCrlIssuerChain.pem). The trusted root is DIR/sgx/root.pem, deliberately not
// in the bundle: whoever verifies must name it.
#pragma once

#include <openssl/x509.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "base/result.h"
#include "enclave/pki/sgx_pki.h"

namespace kmra::enclave::pki {

// One level of the simulated TCB info; a platform of that profile carries exactly these SVNs.
struct TcbLevelSpec {
  TcbProfile profile;
  std::array<std::uint8_t, 16> components;
  std::uint16_t pce_svn;
  const char* status;  // Intel's tcbStatus string
  std::vector<std::string> advisory_ids;
};

// The levels in TCB info order (highest first): UpToDate, SWHardeningNeeded, OutOfDate, Revoked.
const std::vector<TcbLevelSpec>& SimTcbLevels();
const TcbLevelSpec& LevelFor(TcbProfile profile);

// ISVSVN of the simulated QE (the UpToDate level of the simulated QE identity).
inline constexpr std::uint16_t kSimQeIsvSvn = 8;
// MRSIGNER of the simulated QE, as in the QE identity.
std::array<std::uint8_t, 32> SimQeMrSigner();

struct SimCollateralInput {
  int64_t now = 0;
  bool expired = false;  // TCB info and QE identity nextUpdate a day before now
  X509* root = nullptr;
  EVP_PKEY* root_key = nullptr;
  X509* pck_ca = nullptr;
  EVP_PKEY* pck_ca_key = nullptr;
  X509* tcb_signing = nullptr;
  EVP_PKEY* tcb_signing_key = nullptr;
  std::vector<X509*> revoked_pcks;
};

// The signed JSON documents, exactly as written ({"tcbInfo":{...},"signature":"..."}).
Result<std::string> SignedTcbInfo(const SimCollateralInput& in);
Result<std::string> SignedQeIdentity(const SimCollateralInput& in);

// Writes the collateral folder (0755 directory, 0644 files: collateral is public).
Status WriteSimCollateral(const std::filesystem::path& dir, const SimCollateralInput& in);

}  // namespace kmra::enclave::pki
