// The phases of DCAP quote verification (Intel QVL's order, DCAP.md §11), each a function that
// returns its checks. The verifier runs them in order and appends their checks to the report; a
// phase reads only what it is given (parsed quote, prepared facts, the time) and, where it names
// one, writes report fields through `out`.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "dcap/internal/checks.h"
#include "dcap/internal/facts.h"
#include "dcap/quote.h"
#include "dcap/report.h"
#include "dcap/tcb_eval.h"

namespace kmra::dcap::internal {

// quote.parse (passed: `q` parsed) and quote.qe_vendor.
Checks QuoteFormat(const Quote& q);

// pck_chain.present, only when `chain_pem` is empty: the quote carries no PCK chain and none was
// given. Its code is quote.unsupported for a platform manifest (type 7), else collateral.missing.
Checks PckChainPresence(const Quote& q, std::string_view chain_pem);

// pck_chain.parse (when it does not parse), else pck_chain.names, .signatures and .trusted_root:
// the chain leads to the trusted root. All pass exactly when chain.trusted().
Checks PckChainTrust(const PckChainFacts& chain);

// The CRLs of the collateral and what they say about the PCK chain (`chain` null when there is no
// parsed chain; `revocation` its facts for this collateral): root_ca_crl.*, pck_crl.*,
// pck_ca.not_revoked, pck.not_revoked, pck_chain.validity at `at`, root_ca_crl.validity and
// pck_crl.validity.
Checks Revocation(const CollateralFacts& cf, const PckChainFacts* chain,
                  const PckRevocationFacts* revocation, int64_t at, int64_t clock_skew);

// tcb_signing_chain.* and tcb_info.* (presence, parse, signature, validity at `at`). The TCB info
// is usable for the later phases when cf.tcb_info is set.
Checks TcbInfoDocument(const CollateralFacts& cf, int64_t at, int64_t clock_skew);

// qe_identity.* (presence, parse, signature, validity at `at`).
Checks QeIdentityDocument(const CollateralFacts& cf, int64_t at, int64_t clock_skew);

// pck.extension (when the leaf's SGX extension does not read), and with a TCB info
// tcb_info.tee_type, tcb_info.fmspc, tcb_info.pce_id. Writes out->fmspc, pce_id, pck_ca from the
// leaf.
Checks PlatformMatch(const Quote& q, const PckChainFacts* chain, const TcbInfo* tcb_info,
                     VerificationReport* out);

// tdx_module.identity for TDX quotes with a TDX TCB info; *module is the matching identity or null.
Checks TdxModule(const Quote& q, const TcbInfo* tcb_info, const TdxModuleIdentity** module);

// qe_report.signature (when `signature_ok` is set: the PCK chain is trusted) and qe_report.binding.
Checks QeReport(const Quote& q, std::optional<bool> signature_ok);

// qe_identity.id and qe_identity.report against the QE identity; writes out->qe_identity_status and
// returns the QE's level in *level.
Checks QeIdentityMatch(const Quote& q, const EnclaveIdentity& qe_identity,
                       std::optional<EnclaveIdentityLevel>* level, VerificationReport* out);

// quote.signature: `key_ok` when the attestation key is a P-256 point (else `key_error`), `ok`
// when the signature over header and body verifies with it.
Checks QuoteSignature(bool key_ok, const std::string& key_error, bool ok);

// tcb.level: the TCB level the platform meets (failing with tcb.level_not_supported when none), the
// converged status of platform, TDX module and QE; writes out->tcb_status, tdx_module_status and
// advisory_ids.
Checks TcbLevel(const Quote& q, const TcbInfo& tcb_info, const PckExtension& pck,
                const TdxModuleIdentity* module, const EnclaveIdentity* qe_identity,
                const std::optional<EnclaveIdentityLevel>& qe_level, VerificationReport* out);

// The window in which all the collateral is valid at once and what expires first (no checks).
void CollateralWindow(const CollateralFacts& cf, VerificationReport* out);

}  // namespace kmra::dcap::internal
