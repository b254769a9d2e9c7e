// Collateral: what a verifier needs besides the quote to judge it, as Intel's PCS/PCCS serve it.
//
// Plain data, no verification here. An empty field means "not provided"; the verifier then reports
// `collateral.missing` for it. Field contents are kept byte-exact: the signatures of tcbInfo.json and
// qeIdentity.json cover the raw bytes of their `tcbInfo` / `enclaveIdentity` values.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/result.h"

namespace kmra::dcap {

struct Collateral {
  std::string tcb_info_json;           // {"tcbInfo":{...},"signature":"<hex r||s>"}
  std::string qe_identity_json;        // {"enclaveIdentity":{...},"signature":"..."}
  std::string tcb_signing_chain_pem;   // TCB Signing certificate followed by the root CA
  std::vector<uint8_t> root_ca_crl_der;    // Root CA CRL (DER)
  std::vector<uint8_t> pck_crl_der;        // CRL of the PCK certificate's issuer (DER)
  std::string pck_crl_issuer_chain_pem;    // that CRL's issuer chain (informational)
  std::string trusted_root_pem;            // optional: the root this collateral bundle trusts
};

// Converts a CRL given as DER, PEM or a hex string of the DER (what PCCS serves for the root CA CRL)
// to DER. InvalidArgument when it is none of these.
Result<std::vector<uint8_t>> CrlToDer(std::span<const uint8_t> bytes);

// Loads a collateral directory laid out like Intel's offline bundles:
//   tcbInfo.json, qeIdentity.json, tcbSignChain.pem, rootCaCrl.der|.pem, pckCrl.der|.pem,
//   pckCrlIssuerChain.pem, trustedRootCaCert.pem (all optional).
// NotFound when `dir` is not a readable directory or holds none of these files; InvalidArgument when a
// CRL file is not a CRL. Absent files leave their field empty.
Result<Collateral> LoadCollateralDir(const std::string& dir);

}  // namespace kmra::dcap
