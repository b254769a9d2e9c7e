// The phases over the PCK chain and the collateral documents (QVL's
// sgxAttestationVerifyPCKCertificate, sgxAttestationVerifyTCBInfo and
// sgxAttestationVerifyEnclaveIdentity), and the Checks list they return.
#include <algorithm>
#include <climits>

#include "dcap/internal/bytes.h"
#include "dcap/internal/phases.h"

namespace kmra::dcap::internal {
namespace {

std::string Quoted(const std::string& s) { return "\"" + s + "\""; }

// The first certificate of `certs` expired at `at`, or null.
const Cert* FirstExpired(const std::vector<Cert>& certs, int64_t at) {
  for (const auto& c : certs) {
    if (at > c.not_after) return &c;
  }
  return nullptr;
}

// The names of a signed JSON document's checks and the codes they fail with.
struct SignedDocChecks {
  std::string_view present, parse, signature, validity;  // check names
  std::string_view malformed, signature_invalid, signature_unchecked, not_yet_valid, expired;
  const char* missing;  // the detail when the document is not given
  const char* what;     // "the TCB info"
};

constexpr SignedDocChecks kTcbInfoChecks{"tcb_info.present",
                                         "tcb_info.parse",
                                         "tcb_info.signature",
                                         "tcb_info.validity",
                                         "tcb_info.malformed",
                                         "tcb_info.signature_invalid",
                                         "tcb_info.signature_unchecked",
                                         "tcb_info.not_yet_valid",
                                         "tcb_info.expired",
                                         "the TCB info (tcbInfo.json) is missing",
                                         "the TCB info"};
constexpr SignedDocChecks kQeIdentityChecks{"qe_identity.present",
                                            "qe_identity.parse",
                                            "qe_identity.signature",
                                            "qe_identity.validity",
                                            "qe_identity.malformed",
                                            "qe_identity.signature_invalid",
                                            "qe_identity.signature_unchecked",
                                            "qe_identity.not_yet_valid",
                                            "qe_identity.expired",
                                            "the QE identity (qeIdentity.json) is missing",
                                            "the QE identity"};

// <doc>.present, then .parse when it does not parse, else .signature and .validity at `at`
// (issueDate to nextUpdate).
template <class T>
void SignedDocument(const SignedDocFacts<T>& d, const SignedDocChecks& n, int64_t at, Checks* b) {
  if (!b->Add(n.present, d.present, d.present ? "provided" : n.missing, "collateral.missing")) {
    return;
  }
  if (!d.doc) {
    b->Add(n.parse, false, d.parse_error, n.malformed);
    return;
  }
  const T& v = d.doc->value;
  b->Signature(n.signature, d.signature, n.signature_invalid, n.signature_unchecked);
  b->Validity(n.validity, n.what, "issueDate", v.issue_date, v.next_update, at, n.not_yet_valid,
              n.expired);
}

// The names of a CRL's checks.
struct CrlChecks {
  std::string_view present, parse, issuer, extensions;
  const char* missing;  // the detail when the CRL is not given
};

constexpr CrlChecks kRootCrlChecks{
    "root_ca_crl.present", "root_ca_crl.parse", "root_ca_crl.issuer", "root_ca_crl.extensions",
    "the Root CA CRL (rootCaCrl.der) is missing; revocation of the PCK CA cannot be checked"};
constexpr CrlChecks kPckCrlChecks{
    "pck_crl.present", "pck_crl.parse", "pck_crl.issuer", "pck_crl.extensions",
    "the PCK CRL (pckCrl.der) is missing; revocation of the PCK certificate cannot be checked"};

// <crl>.present, then .parse when it does not parse, else .issuer (when `issuer` is known) and
// .extensions (Intel's CRL profile).
void CrlDocument(const CrlFacts& crl, const CrlChecks& n, const Fact* issuer, Checks* b) {
  if (!b->Add(n.present, crl.present, crl.present ? "provided" : n.missing, "collateral.missing")) {
    return;
  }
  if (!crl.crl) {
    b->Add(n.parse, false, crl.parse_error, "crl.issuer_mismatch");
    return;
  }
  if (issuer != nullptr) b->Add(n.issuer, *issuer, "crl.issuer_mismatch");
  b->Add(n.extensions, crl.extensions, "crl.profile_invalid");
}

}  // namespace

bool Checks::Add(std::string_view name, bool ok, std::string detail, std::string_view code) {
  list_.push_back({name, ok, std::move(detail), code});
  return ok;
}

bool Checks::Validity(std::string_view name, const std::string& what, const char* start_field,
                      int64_t not_before, int64_t not_after, int64_t at,
                      std::string_view early_code, std::string_view late_code) {
  if (at + skew_ < not_before) {
    return Add(name, false,
               what + " is not valid before " + FormatUtc(not_before) + " (" + start_field +
                   "); verification time is " + FormatUtc(at) +
                   (skew_ > 0 ? " (clock skew allowance " + std::to_string(skew_) + " s)" : ""),
               early_code);
  }
  const bool ok = at <= not_after;
  const std::string from = what + " (" + start_field + " " + FormatUtc(not_before) + ")";
  return Add(
      name, ok,
      ok ? from + " valid until " + FormatUtc(not_after)
         : from + " expired at " + FormatUtc(not_after) + "; verification time is " + FormatUtc(at),
      late_code);
}

bool Checks::CrlValid(std::string_view name, const std::string& what, const Crl& crl, int64_t at) {
  if (crl.next_update == 0) {
    return Add(name, false, what + " has no nextUpdate", "crl.expired");
  }
  return Validity(name, what, "thisUpdate", crl.this_update, crl.next_update, at,
                  "crl.not_yet_valid", "crl.expired");
}

bool Checks::all_ok() const {
  return std::all_of(list_.begin(), list_.end(), [](const Check& c) { return c.ok; });
}

void Record(Checks checks, VerificationReport* report) {
  for (Check& c : checks.list_) {
    if (!c.ok)
      report->errors.push_back({std::string(c.code), std::string(c.name) + ": " + c.detail});
    report->checks.push_back({c.name, c.ok, std::move(c.detail)});
  }
}

Checks QuoteFormat(const Quote& q) {
  Checks b;
  b.Add("quote.parse", true,
        "v" + std::to_string(q.header.version) + " " + TeeName(q.header.tee_type) + " quote, " +
            std::to_string(q.size) + " bytes" +
            (q.trailing_bytes ? ", followed by " + std::to_string(q.trailing_bytes) +
                                    " trailing bytes (accepted, not signed)"
                              : ""),
        "quote.malformed");
  const bool intel = q.header.qe_vendor_id == kIntelQeVendorId;
  b.Add("quote.qe_vendor", intel,
        "QE vendor ID " + Hex(q.header.qe_vendor_id) +
            (intel ? " (Intel)" : ", expected Intel's " + Hex(kIntelQeVendorId)),
        "quote.unsupported");
  return b;
}

Checks PckChainPresence(const Quote& q, std::string_view chain_pem) {
  Checks b;
  if (!chain_pem.empty()) return b;
  const uint16_t type = q.cert_data.nested_type;
  b.Add("pck_chain.present", false,
        "the quote carries certification data type " + std::to_string(type) +
            (type == 7 ? " (platform manifest), which cannot be verified"
                       : ", which has no PCK certificate chain; supply the chain "
                         "(kmra quote verify --pck-chain PEM)"),
        type == 7 ? "quote.unsupported" : "collateral.missing");
  return b;
}

Checks PckChainTrust(const PckChainFacts& chain) {
  Checks b;
  if (!chain.parse_error.empty()) {
    b.Add("pck_chain.parse", false, chain.parse_error, "pck_chain.untrusted");
    return b;
  }
  b.Add("pck_chain.names", chain.names, "pck_chain.untrusted");
  b.Add("pck_chain.signatures", chain.signatures, "pck_chain.untrusted");
  b.Add("pck_chain.trusted_root", chain.root, "pck_chain.untrusted");
  return b;
}

Checks Revocation(const CollateralFacts& cf, const PckChainFacts* chain,
                  const PckRevocationFacts* revocation, int64_t at, int64_t clock_skew) {
  Checks b(clock_skew);
  CrlDocument(cf.root_crl, kRootCrlChecks, &cf.root_crl_issuer, &b);
  CrlDocument(cf.pck_crl, kPckCrlChecks,
              revocation && revocation->pck_crl_issuer ? &*revocation->pck_crl_issuer : nullptr,
              &b);
  if (revocation && revocation->intermediate_not_revoked) {
    b.Add("pck_ca.not_revoked", *revocation->intermediate_not_revoked, "pck.revoked");
  }
  if (revocation && revocation->leaf_not_revoked) {
    b.Add("pck.not_revoked", *revocation->leaf_not_revoked, "pck.revoked");
  }
  if (chain) {
    // QVL checks notAfter only (PckCertVerifier.cpp): t <= notAfter for root, CA and PCK.
    int64_t earliest = INT64_MAX;
    for (const auto& c : chain->certs) earliest = std::min(earliest, c.not_after);
    const Cert* expired = FirstExpired(chain->certs, at);
    b.Add("pck_chain.validity", expired == nullptr,
          expired == nullptr
              ? "every certificate of the PCK chain is valid until at least " + FormatUtc(earliest)
              : Quoted(expired->subject_cn) + " expired at " + FormatUtc(expired->not_after) +
                    "; verification time is " + FormatUtc(at),
          "pck_chain.expired");
  }
  if (cf.root_crl.crl) b.CrlValid("root_ca_crl.validity", "the Root CA CRL", *cf.root_crl.crl, at);
  if (cf.pck_crl.crl) b.CrlValid("pck_crl.validity", "the PCK CRL", *cf.pck_crl.crl, at);
  return b;
}

Checks TcbInfoDocument(const CollateralFacts& cf, int64_t at, int64_t clock_skew) {
  Checks b(clock_skew);
  if (b.Add("tcb_signing_chain.present", cf.tcb_chain_present,
            cf.tcb_chain_present ? "provided"
                                 : "the TCB signing chain (tcbSignChain.pem) is "
                                   "missing",
            "collateral.missing")) {
    if (!cf.tcb_chain_parse_error.empty()) {
      b.Add("tcb_signing_chain.parse", false, cf.tcb_chain_parse_error, "tcb_signing.untrusted");
    } else {
      b.Add("tcb_signing_chain.names", cf.tcb_chain_names, "tcb_signing.untrusted");
      b.Add("tcb_signing_chain.signatures", cf.tcb_chain_signatures, "tcb_signing.untrusted");
      b.Add("tcb_signing_chain.trusted_root", cf.tcb_chain_root, "tcb_signing.untrusted");
      if (cf.tcb_signing_not_revoked) {
        b.Add("tcb_signing.not_revoked", *cf.tcb_signing_not_revoked, "tcb_signing.revoked");
      }
      const Cert* expired = FirstExpired(cf.tcb_chain, at);
      b.Add("tcb_signing_chain.validity", expired == nullptr,
            expired == nullptr
                ? "the TCB signing chain is valid until " +
                      FormatUtc(std::min(cf.tcb_chain[0].not_after, cf.tcb_chain.back().not_after))
                : Quoted(expired->subject_cn) + " expired at " + FormatUtc(expired->not_after) +
                      "; verification time is " + FormatUtc(at),
            "tcb_signing.expired");
    }
  }
  SignedDocument(cf.tcb_info, kTcbInfoChecks, at, &b);
  return b;
}

Checks QeIdentityDocument(const CollateralFacts& cf, int64_t at, int64_t clock_skew) {
  Checks b(clock_skew);
  SignedDocument(cf.qe_identity, kQeIdentityChecks, at, &b);
  return b;
}

void CollateralWindow(const CollateralFacts& cf, VerificationReport* out) {
  // max(issueDate, thisUpdate) .. min(nextUpdate).
  auto window = [out](int64_t not_before, int64_t not_after, const char* what) {
    out->collateral_not_before = std::max(out->collateral_not_before, not_before);
    if (not_after != 0 &&
        (out->collateral_not_after == 0 || not_after < out->collateral_not_after)) {
      out->collateral_not_after = not_after;
      out->collateral_expires_first = what;
    }
  };
  if (const TcbInfo* t = cf.tcb_info.value()) window(t->issue_date, t->next_update, "tcb_info");
  if (const EnclaveIdentity* q = cf.qe_identity.value()) {
    window(q->issue_date, q->next_update, "qe_identity");
  }
  if (cf.root_crl.crl) {
    window(cf.root_crl.crl->this_update, cf.root_crl.crl->next_update, "root_ca_crl");
  }
  if (cf.pck_crl.crl) window(cf.pck_crl.crl->this_update, cf.pck_crl.crl->next_update, "pck_crl");
}

}  // namespace kmra::dcap::internal
