#include "dcap/verifier.h"

#include <openssl/sha.h>

#include <algorithm>
#include <atomic>
#include <cstring>

#include "dcap/intel_root.h"
#include "dcap/internal/bytes.h"
#include "dcap/internal/facts.h"
#include "dcap/internal/lru.h"
#include "dcap/tcb_eval.h"

namespace kmra::dcap {
namespace {

using internal::CollateralFacts;
using internal::FormatUtc;
using internal::Hex;
using internal::HexUpper;
using internal::PckChainFacts;

struct AttestationKey {
  ossl::Ptr<EVP_PKEY> key;
  std::string error;
};

// Appends checks and errors in order; `code` is recorded only when the check fails.
class Builder {
 public:
  Builder(VerificationReport* r, int64_t clock_skew) : r_(r), skew_(clock_skew) {}
  bool Add(std::string name, bool ok, std::string detail, std::string_view code) {
    if (!ok) r_->errors.push_back({std::string(code), name + ": " + detail});
    r_->checks.push_back({std::move(name), ok, std::move(detail)});
    return ok;
  }
  bool Add(std::string name, const internal::Fact& f, std::string_view code) {
    return Add(std::move(name), f.ok, f.detail, code);
  }
  // A signature fact: `unchecked_code` when it could not be checked (its chain is not trusted).
  bool Signature(std::string name, const internal::Fact& f, std::string_view invalid_code,
                 std::string_view unchecked_code) {
    return Add(std::move(name), f.ok, f.detail, f.checked ? invalid_code : unchecked_code);
  }
  // A document valid from `not_before` (its `start_field`, less the clock skew allowance) to
  // `not_after` inclusive, like QVL's nextUpdate check.
  bool Validity(std::string name, const std::string& what, const char* start_field,
                int64_t not_before, int64_t not_after, int64_t at, std::string_view early_code,
                std::string_view late_code) {
    if (at + skew_ < not_before) {
      return Add(std::move(name), false,
                 what + " is not valid before " + FormatUtc(not_before) + " (" + start_field +
                     "); verification time is " + FormatUtc(at) +
                     (skew_ > 0 ? " (clock skew allowance " + std::to_string(skew_) + " s)" : ""),
                 early_code);
    }
    const bool ok = at <= not_after;
    const std::string from = what + " (" + start_field + " " + FormatUtc(not_before) + ")";
    return Add(std::move(name), ok,
               ok ? from + " valid until " + FormatUtc(not_after)
                  : from + " expired at " + FormatUtc(not_after) + "; verification time is " +
                        FormatUtc(at),
               late_code);
  }
  bool CrlValid(std::string name, const std::string& what, const internal::Crl& crl, int64_t at) {
    if (crl.next_update == 0) {
      return Add(std::move(name), false, what + " has no nextUpdate", "crl.expired");
    }
    return Validity(std::move(name), what, "thisUpdate", crl.this_update, crl.next_update, at,
                    "crl.not_yet_valid", "crl.expired");
  }

 private:
  VerificationReport* r_;
  int64_t skew_;
};

std::string Quoted(const std::string& s) { return "\"" + s + "\""; }

void AppendUnique(std::vector<std::string>* out, const std::vector<std::string>& ids) {
  for (const auto& id : ids) {
    if (std::find(out->begin(), out->end(), id) == out->end()) out->push_back(id);
  }
}

void FillIdentity(const Quote& q, VerificationReport* r) {
  r->tee = TeeName(q.header.tee_type);
  r->report_data = Hex(std::span<const uint8_t>(q.report_data()));
  r->quote_trailing_bytes = q.trailing_bytes;
  if (q.sgx) {
    const EnclaveReport& e = *q.sgx;
    r->mrenclave = Hex(e.mr_enclave);
    r->mrsigner = Hex(e.mr_signer);
    r->attributes = Hex(e.attributes);
    r->isv_prod_id = e.isv_prod_id;
    r->isv_svn = e.isv_svn;
    r->debug = e.debug();
  } else {
    const TdReport& t = *q.td;
    TdIdentity td;
    td.mr_td = Hex(t.mr_td);
    td.mr_seam = Hex(t.mr_seam);
    td.mrsigner_seam = Hex(t.mrsigner_seam);
    td.td_attributes = Hex(t.td_attributes);
    td.xfam = Hex(t.xfam);
    td.mr_config_id = Hex(t.mr_config_id);
    td.mr_owner = Hex(t.mr_owner);
    td.mr_owner_config = Hex(t.mr_owner_config);
    for (int i = 0; i < 4; ++i) td.rtmr[i] = Hex(t.rtmr[i]);
    td.tee_tcb_svn = Hex(t.tee_tcb_svn);
    r->td = std::move(td);
    r->attributes = Hex(t.td_attributes);
    r->debug = t.debug();
  }
}

// Bytes of masked comparisons, e.g. QE identity attributes.
bool MaskedEqual(std::span<const uint8_t> value, std::span<const uint8_t> mask,
                 std::span<const uint8_t> expected) {
  for (size_t i = 0; i < value.size(); ++i) {
    if ((value[i] & mask[i]) != expected[i]) return false;
  }
  return true;
}

std::string CollateralKey(const Collateral& c) {
  std::string key;
  key.reserve(c.tcb_info_json.size() + c.qe_identity_json.size() + c.tcb_signing_chain_pem.size() +
              c.root_ca_crl_der.size() + c.pck_crl_der.size() + 64);
  auto add = [&key](const void* data, size_t n) {
    key += std::to_string(n);
    key += ':';
    key.append(static_cast<const char*>(data), n);
  };
  add(c.tcb_info_json.data(), c.tcb_info_json.size());
  add(c.qe_identity_json.data(), c.qe_identity_json.size());
  add(c.tcb_signing_chain_pem.data(), c.tcb_signing_chain_pem.size());
  add(c.root_ca_crl_der.data(), c.root_ca_crl_der.size());
  add(c.pck_crl_der.data(), c.pck_crl_der.size());
  return key;
}

}  // namespace

struct Verifier::Impl {
  VerifierOptions options;
  internal::TrustedRoot root;
  std::atomic<uint64_t> next_id{1};
  std::unique_ptr<internal::Lru<CollateralFacts>> collateral_cache;
  std::unique_ptr<internal::Lru<PckChainFacts>> chain_cache;
  std::unique_ptr<internal::Lru<AttestationKey>> key_cache;

  std::shared_ptr<const CollateralFacts> Collateral(const dcap::Collateral& c) {
    if (!collateral_cache) return internal::PrepareCollateral(c, root, next_id++);
    const std::string key = CollateralKey(c);
    if (auto hit = collateral_cache->Get(key)) return hit;
    auto facts = internal::PrepareCollateral(c, root, next_id++);
    collateral_cache->Put(key, facts);
    return facts;
  }

  std::shared_ptr<const PckChainFacts> Chain(std::string_view pem, const CollateralFacts& c) {
    if (!chain_cache) return internal::PreparePckChain(pem, root, c);
    std::string key = std::to_string(c.id) + ":";
    key.append(pem);
    if (auto hit = chain_cache->Get(key)) return hit;
    auto facts = internal::PreparePckChain(pem, root, c);
    chain_cache->Put(key, facts);
    return facts;
  }

  std::shared_ptr<const AttestationKey> Key(const std::array<uint8_t, 64>& raw) {
    auto make = [&raw]() {
      auto k = std::make_shared<AttestationKey>();
      auto key = internal::P256FromRaw(std::span<const uint8_t, 64>(raw));
      if (key) {
        k->key = std::move(*key);
      } else {
        k->error = key.error().message();
      }
      return k;
    };
    if (!key_cache) return make();
    std::string key(reinterpret_cast<const char*>(raw.data()), raw.size());
    if (auto hit = key_cache->Get(key)) return hit;
    std::shared_ptr<const AttestationKey> k = make();
    key_cache->Put(key, k);
    return k;
  }

  bool QeReportSignature(const PckChainFacts& chain, const Quote& q) {
    auto verify = [&]() {
      return internal::VerifyRawEcdsa(chain.leaf_key(), q.qe_report.raw, q.qe_report_signature);
    };
    if (!options.enable_cache) return verify();
    std::string memo(reinterpret_cast<const char*>(q.qe_report.raw.data()), q.qe_report.raw.size());
    memo.append(reinterpret_cast<const char*>(q.qe_report_signature.data()), 64);
    {
      std::lock_guard<std::mutex> lock(chain.qe_mu);
      for (const auto& [m, ok] : chain.qe_memo) {
        if (m == memo) return ok;
      }
    }
    const bool ok = verify();
    std::lock_guard<std::mutex> lock(chain.qe_mu);
    if (chain.qe_memo.size() >= 8) chain.qe_memo.erase(chain.qe_memo.begin());
    chain.qe_memo.emplace_back(std::move(memo), ok);
    return ok;
  }

  VerificationReport Run(std::span<const uint8_t> bytes, const dcap::Collateral& collateral,
                         int64_t at, std::string_view pck_chain_pem);
};

Verifier::Verifier(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Verifier::~Verifier() = default;

Result<std::unique_ptr<Verifier>> Verifier::Create(VerifierOptions options) {
  auto impl = std::make_unique<Impl>();
  const std::string pem =
      options.trusted_root_pem.empty() ? std::string(IntelSgxRootCaPem()) : options.trusted_root_pem;
  auto certs = internal::ParsePemChain(pem, "the trusted root");
  if (!certs) return tl::unexpected(certs.error());
  if (certs->size() != 1) {
    return InvalidArgument("the trusted root PEM holds " + std::to_string(certs->size()) +
                           " certificates; expected exactly one");
  }
  impl->root.cert = std::move((*certs)[0]);
  impl->root.self_signed =
      internal::SignedBy(impl->root.cert.x509.get(), X509_get0_pubkey(impl->root.cert.x509.get()));
  if (options.enable_cache) {
    impl->collateral_cache = std::make_unique<internal::Lru<CollateralFacts>>(options.cache_entries);
    impl->chain_cache = std::make_unique<internal::Lru<PckChainFacts>>(options.cache_entries);
    impl->key_cache = std::make_unique<internal::Lru<AttestationKey>>(options.cache_entries);
  }
  impl->options = std::move(options);
  return std::unique_ptr<Verifier>(new Verifier(std::move(impl)));
}

CacheStats Verifier::Stats() const {
  CacheStats s;
  auto add = [&s](const auto& cache) {
    if (!cache) return;
    auto [h, m] = cache->hits_misses();
    s.hits += h;
    s.misses += m;
    s.entries += cache->size();
  };
  add(impl_->collateral_cache);
  add(impl_->chain_cache);
  add(impl_->key_cache);
  return s;
}

VerificationReport Verifier::Verify(std::span<const uint8_t> quote, const Collateral& collateral,
                                    int64_t at_unix, std::string_view pck_chain_pem) const {
  return impl_->Run(quote, collateral, at_unix, pck_chain_pem);
}

VerificationReport Verifier::Impl::Run(std::span<const uint8_t> bytes,
                                       const dcap::Collateral& collateral, int64_t at,
                                       std::string_view pck_chain_pem) {
  VerificationReport r;
  r.verified_at = at;
  Builder b(&r, options.clock_skew_seconds);

  // 1. Parse and validate the quote (QVL step 1).
  auto parsed = ParseQuote(bytes);
  if (!parsed) {
    const bool unsupported = parsed.error().code() == Code::kUnimplemented;
    b.Add("quote.parse", false, parsed.error().message(),
          unsupported ? "quote.unsupported" : "quote.malformed");
    return r;
  }
  const Quote& q = *parsed;
  FillIdentity(q, &r);
  b.Add("quote.parse", true,
        "v" + std::to_string(q.header.version) + " " + r.tee + " quote, " + std::to_string(q.size) +
            " bytes" +
            (q.trailing_bytes ? ", followed by " + std::to_string(q.trailing_bytes) +
                                    " trailing bytes (accepted, not signed)"
                              : ""),
        "quote.malformed");
  b.Add("quote.qe_vendor", q.header.qe_vendor_id == kIntelQeVendorId,
        "QE vendor ID " + Hex(q.header.qe_vendor_id) +
            (q.header.qe_vendor_id == kIntelQeVendorId ? " (Intel)"
                                                       : ", expected Intel's " +
                                                             Hex(kIntelQeVendorId)),
        "quote.unsupported");

  // Which PCK chain: given explicitly, else the one in the certification data (type 5 / 6->5).
  std::string_view chain_pem = pck_chain_pem;
  if (chain_pem.empty()) chain_pem = q.cert_data.pck_chain_pem;
  const uint16_t cert_type = q.cert_data.nested_type;
  if (chain_pem.empty()) {
    b.Add("pck_chain.present", false,
          "the quote carries certification data type " + std::to_string(cert_type) +
              (cert_type == 7 ? " (platform manifest), which cannot be verified"
                              : ", which has no PCK certificate chain; supply the chain "
                                "(kmra quote verify --pck-chain PEM)"),
          cert_type == 7 ? "quote.unsupported" : "collateral.missing");
  }

  // A. PCK certificate chain and CRLs (QVL sgxAttestationVerifyPCKCertificate).
  auto cf = Collateral(collateral);
  std::shared_ptr<const PckChainFacts> chain;
  if (!chain_pem.empty()) {
    chain = Chain(chain_pem, *cf);
    if (!chain->parse_error.empty()) {
      b.Add("pck_chain.parse", false, chain->parse_error, "pck_chain.untrusted");
      chain.reset();
    }
  }
  bool chain_trusted = false;
  if (chain) {
    chain_trusted = b.Add("pck_chain.names", chain->names, "pck_chain.untrusted");
    chain_trusted &= b.Add("pck_chain.signatures", chain->signatures, "pck_chain.untrusted");
    chain_trusted &= b.Add("pck_chain.trusted_root", chain->root, "pck_chain.untrusted");
  }
  if (!b.Add("root_ca_crl.present", cf->root_crl.present,
             cf->root_crl.present ? "provided" : "the Root CA CRL (rootCaCrl.der) is missing; "
                                                 "revocation of the PCK CA cannot be checked",
             "collateral.missing")) {
  } else if (!cf->root_crl.crl) {
    b.Add("root_ca_crl.parse", false, cf->root_crl.parse_error, "crl.issuer_mismatch");
  } else {
    b.Add("root_ca_crl.issuer", cf->root_crl_issuer, "crl.issuer_mismatch");
    b.Add("root_ca_crl.extensions", cf->root_crl.extensions, "crl.profile_invalid");
  }
  if (!b.Add("pck_crl.present", cf->pck_crl.present,
             cf->pck_crl.present ? "provided" : "the PCK CRL (pckCrl.der) is missing; revocation "
                                                "of the PCK certificate cannot be checked",
             "collateral.missing")) {
  } else if (!cf->pck_crl.crl) {
    b.Add("pck_crl.parse", false, cf->pck_crl.parse_error, "crl.issuer_mismatch");
  } else {
    if (chain && chain->pck_crl_issuer) {
      b.Add("pck_crl.issuer", *chain->pck_crl_issuer, "crl.issuer_mismatch");
    }
    b.Add("pck_crl.extensions", cf->pck_crl.extensions, "crl.profile_invalid");
  }
  if (chain && chain->intermediate_not_revoked) {
    b.Add("pck_ca.not_revoked", *chain->intermediate_not_revoked, "pck.revoked");
  }
  if (chain && chain->leaf_not_revoked) {
    b.Add("pck.not_revoked", *chain->leaf_not_revoked, "pck.revoked");
  }
  if (chain) {
    // QVL checks notAfter only (PckCertVerifier.cpp): t <= notAfter for root, CA and PCK.
    const internal::Cert* expired = nullptr;
    int64_t earliest = INT64_MAX;
    for (const auto& c : chain->certs) {
      earliest = std::min(earliest, c.not_after);
      if (at > c.not_after && expired == nullptr) expired = &c;
    }
    b.Add("pck_chain.validity", expired == nullptr,
          expired == nullptr
              ? "every certificate of the PCK chain is valid until at least " + FormatUtc(earliest)
              : Quoted(expired->subject_cn) + " expired at " + FormatUtc(expired->not_after) +
                    "; verification time is " + FormatUtc(at),
          "pck_chain.expired");
  }
  if (cf->root_crl.crl) b.CrlValid("root_ca_crl.validity", "the Root CA CRL", *cf->root_crl.crl, at);
  if (cf->pck_crl.crl) b.CrlValid("pck_crl.validity", "the PCK CRL", *cf->pck_crl.crl, at);

  // B. TCB info and its signing chain (QVL sgxAttestationVerifyTCBInfo).
  if (b.Add("tcb_signing_chain.present", cf->tcb_chain_present,
            cf->tcb_chain_present ? "provided" : "the TCB signing chain (tcbSignChain.pem) is "
                                                 "missing",
            "collateral.missing")) {
    if (!cf->tcb_chain_parse_error.empty()) {
      b.Add("tcb_signing_chain.parse", false, cf->tcb_chain_parse_error, "tcb_signing.untrusted");
    } else {
      b.Add("tcb_signing_chain.names", cf->tcb_chain_names, "tcb_signing.untrusted");
      b.Add("tcb_signing_chain.signatures", cf->tcb_chain_signatures, "tcb_signing.untrusted");
      b.Add("tcb_signing_chain.trusted_root", cf->tcb_chain_root, "tcb_signing.untrusted");
      if (cf->tcb_signing_not_revoked) {
        b.Add("tcb_signing.not_revoked", *cf->tcb_signing_not_revoked, "tcb_signing.revoked");
      }
      const internal::Cert* expired = nullptr;
      for (const auto& c : cf->tcb_chain) {
        if (at > c.not_after && expired == nullptr) expired = &c;
      }
      b.Add("tcb_signing_chain.validity", expired == nullptr,
            expired == nullptr ? "the TCB signing chain is valid until " +
                                     FormatUtc(std::min(cf->tcb_chain[0].not_after,
                                                        cf->tcb_chain.back().not_after))
                               : Quoted(expired->subject_cn) + " expired at " +
                                     FormatUtc(expired->not_after) + "; verification time is " +
                                     FormatUtc(at),
            "tcb_signing.expired");
    }
  }
  const TcbInfo* tcb_info = nullptr;
  if (b.Add("tcb_info.present", cf->tcb_info_present,
            cf->tcb_info_present ? "provided" : "the TCB info (tcbInfo.json) is missing",
            "collateral.missing")) {
    if (!cf->tcb_info) {
      b.Add("tcb_info.parse", false, cf->tcb_info_parse_error, "tcb_info.malformed");
    } else {
      tcb_info = &cf->tcb_info->value;
      b.Signature("tcb_info.signature", cf->tcb_info_signature, "tcb_info.signature_invalid",
                  "tcb_info.signature_unchecked");
      b.Validity("tcb_info.validity", "the TCB info", "issueDate", tcb_info->issue_date,
                 tcb_info->next_update, at, "tcb_info.not_yet_valid", "tcb_info.expired");
    }
  }

  // C. QE identity (QVL sgxAttestationVerifyEnclaveIdentity).
  const EnclaveIdentity* qe_identity = nullptr;
  if (b.Add("qe_identity.present", cf->qe_identity_present,
            cf->qe_identity_present ? "provided" : "the QE identity (qeIdentity.json) is missing",
            "collateral.missing")) {
    if (!cf->qe_identity) {
      b.Add("qe_identity.parse", false, cf->qe_identity_parse_error, "qe_identity.malformed");
    } else {
      qe_identity = &cf->qe_identity->value;
      b.Signature("qe_identity.signature", cf->qe_identity_signature,
                  "qe_identity.signature_invalid", "qe_identity.signature_unchecked");
      b.Validity("qe_identity.validity", "the QE identity", "issueDate", qe_identity->issue_date,
                 qe_identity->next_update, at, "qe_identity.not_yet_valid", "qe_identity.expired");
    }
  }

  // D. The quote itself (QVL sgxAttestationVerifyQuote), in QVL's order.
  const PckExtension* pck = nullptr;
  if (chain) {
    if (chain->extension) {
      pck = &*chain->extension;
      r.fmspc = HexUpper(pck->fmspc);
      r.pce_id = HexUpper(pck->pce_id);
      r.pck_ca = chain->ca_type;
    } else {
      b.Add("pck.extension", false, chain->extension_error, "pck.extension_invalid");
    }
  }
  if (tcb_info != nullptr) {
    const bool tdx = q.is_tdx();
    const bool tee_ok = tdx ? (tcb_info->version == 3 && tcb_info->id == "TDX")
                            : tcb_info->id == "SGX";
    b.Add("tcb_info.tee_type", tee_ok,
          "TCB info v" + std::to_string(tcb_info->version) + " id " + Quoted(tcb_info->id) +
              (tee_ok ? " matches the " : " does not fit the ") + r.tee + " quote",
          "tcb_info.mismatch");
    if (pck != nullptr) {
      const bool fmspc_ok = pck->fmspc == tcb_info->fmspc;
      b.Add("tcb_info.fmspc", fmspc_ok,
            fmspc_ok ? "FMSPC " + r.fmspc
                     : "the PCK certificate has FMSPC " + r.fmspc + ", the TCB info is for " +
                           HexUpper(tcb_info->fmspc),
            "tcb_info.mismatch");
      const bool pce_ok = pck->pce_id == tcb_info->pce_id;
      b.Add("tcb_info.pce_id", pce_ok,
            pce_ok ? "PCE-ID " + r.pce_id
                   : "the PCK certificate has PCE-ID " + r.pce_id + ", the TCB info is for " +
                         HexUpper(tcb_info->pce_id),
            "tcb_info.mismatch");
    }
  }
  const TdxModuleIdentity* module = nullptr;
  if (q.td && tcb_info != nullptr && tcb_info->id == "TDX") {
    module = SelectTdxModule(*tcb_info, *q.td);
    if (module == nullptr) {
      char id[8];
      std::snprintf(id, sizeof(id), "TDX_%02X", q.td->tee_tcb_svn[1]);
      b.Add("tdx_module.identity", false,
            std::string("the TCB info has no TDX module identity ") + id, "tdx_module.mismatch");
    } else {
      const bool signer_ok = q.td->mrsigner_seam == module->mrsigner;
      const bool attrs_zero = std::all_of(q.td->seam_attributes.begin(),
                                          q.td->seam_attributes.end(), [](uint8_t v) { return v == 0; });
      const bool attrs_ok =
          attrs_zero && MaskedEqual(q.td->seam_attributes, module->attributes_mask, module->attributes);
      b.Add("tdx_module.identity", signer_ok && attrs_ok,
            !signer_ok ? "MRSIGNER_SEAM " + Hex(q.td->mrsigner_seam) + ", expected " +
                             Hex(module->mrsigner)
            : !attrs_ok ? "SEAM_ATTRIBUTES " + Hex(q.td->seam_attributes) +
                              ", expected all zero and " + Hex(module->attributes) + " under mask " +
                              Hex(module->attributes_mask)
                        : "TDX module " + (module->id.empty() ? std::string("(tdxModule)") : module->id) +
                              " signer and attributes match",
            "tdx_module.mismatch");
    }
  }
  if (chain && chain_trusted) {
    const bool ok = QeReportSignature(*chain, q);
    b.Add("qe_report.signature", ok,
          ok ? "the QE report is signed by the PCK key"
             : "the QE report signature does not verify with the PCK certificate's key",
          "qe_report.signature_invalid");
  }
  {
    std::vector<uint8_t> data(q.attestation_key.begin(), q.attestation_key.end());
    data.insert(data.end(), q.qe_auth_data.begin(), q.qe_auth_data.end());
    uint8_t digest[32];
    SHA256(data.data(), data.size(), digest);
    const bool ok = std::memcmp(digest, q.qe_report.report_data.data(), 32) == 0;
    b.Add("qe_report.binding", ok,
          ok ? "QE report data = SHA-256(attestation key || QE authentication data)"
             : "QE report data[0..32] is " +
                   Hex(std::span<const uint8_t>(q.qe_report.report_data.data(), 32)) +
                   ", SHA-256(attestation key || QE authentication data) is " +
                   Hex(std::span<const uint8_t>(digest, 32)),
          "qe_report.binding_invalid");
  }
  std::optional<EnclaveIdentityLevel> qe_level;
  if (qe_identity != nullptr) {
    const char* want = q.is_tdx() ? "TD_QE" : "QE";
    const bool id_ok = qe_identity->id == want;
    b.Add("qe_identity.id", id_ok,
          "QE identity " + Quoted(qe_identity->id) + (id_ok ? " for a " : ", expected ") +
              (id_ok ? r.tee + " quote" : Quoted(want) + " for a " + r.tee + " quote"),
          "qe_identity.mismatch");
    const EnclaveReport& qr = q.qe_report;
    uint8_t misc[4];
    for (int i = 0; i < 4; ++i) misc[i] = static_cast<uint8_t>(qr.misc_select >> (8 * i));
    std::string mismatch;
    if (!MaskedEqual(misc, qe_identity->miscselect_mask, qe_identity->miscselect)) {
      mismatch = "MISCSELECT " + HexUpper(misc) + " under mask " +
                 HexUpper(qe_identity->miscselect_mask) + " is not " +
                 HexUpper(qe_identity->miscselect);
    } else if (!MaskedEqual(qr.attributes, qe_identity->attributes_mask, qe_identity->attributes)) {
      mismatch = "ATTRIBUTES " + HexUpper(qr.attributes) + " under mask " +
                 HexUpper(qe_identity->attributes_mask) + " is not " +
                 HexUpper(qe_identity->attributes);
    } else if (qr.mr_signer != qe_identity->mrsigner) {
      mismatch = "MRSIGNER " + HexUpper(qr.mr_signer) + ", expected " +
                 HexUpper(qe_identity->mrsigner);
    } else if (qr.isv_prod_id != qe_identity->isv_prod_id) {
      mismatch = "ISVPRODID " + std::to_string(qr.isv_prod_id) + ", expected " +
                 std::to_string(qe_identity->isv_prod_id);
    }
    b.Add("qe_identity.report", mismatch.empty(),
          mismatch.empty() ? "the QE report matches the QE identity (ISVSVN " +
                                 std::to_string(qr.isv_svn) + ")"
                           : mismatch,
          "qe_identity.mismatch");
    qe_level = SelectQeLevel(*qe_identity, qr.isv_svn);
    r.qe_identity_status = qe_level ? std::string(TcbStatusName(qe_level->status))
                                    : std::string(TcbStatusName(TcbStatus::kNotSupported));
  }
  {
    auto key = Key(q.attestation_key);
    const bool ok = key->key && internal::VerifyRawEcdsa(key->key.get(), q.signed_bytes, q.signature);
    b.Add("quote.signature", ok,
          ok ? "the quote is signed by the attestation key"
          : key->key ? "the quote signature over header and report body does not verify with the "
                       "attestation key (altered quote?)"
                     : key->error,
          "quote.signature_invalid");
  }

  // TCB level and status convergence (QVL step 4.1.2.4.17).
  if (tcb_info != nullptr && pck != nullptr) {
    auto level = SelectTcbLevel(*tcb_info, *pck, q.td ? &*q.td : nullptr);
    TcbStatus status = level ? level->status : TcbStatus::kNotSupported;
    if (level) AppendUnique(&r.advisory_ids, level->advisory_ids);
    if (module != nullptr && !module->levels.empty()) {
      auto mlevel = SelectTdxModuleLevel(*module, *q.td);
      const TcbStatus ms = mlevel ? mlevel->status : TcbStatus::kNotSupported;
      r.tdx_module_status = std::string(TcbStatusName(ms));
      if (mlevel) AppendUnique(&r.advisory_ids, mlevel->advisory_ids);
      status = Converge(status, ms);
    }
    if (qe_identity != nullptr) {
      status = Converge(status, qe_level ? qe_level->status : TcbStatus::kNotSupported);
      if (qe_level) AppendUnique(&r.advisory_ids, qe_level->advisory_ids);
    }
    r.tcb_status = std::string(TcbStatusName(status));
    std::string comps;
    for (uint8_t c : pck->tcb_components) comps += (comps.empty() ? "" : ",") + std::to_string(c);
    b.Add("tcb.level", level.has_value(),
          level ? "TCB level " + std::string(TcbStatusName(level->status)) + " of " +
                      FormatUtc(level->tcb_date) + " (PCK SVNs " + comps + ", PCESVN " +
                      std::to_string(pck->pce_svn) + "); converged status " + r.tcb_status
                : "no TCB level of the TCB info is met by the platform (PCK SVNs " + comps +
                      ", PCESVN " + std::to_string(pck->pce_svn) +
                      (q.td ? ", TEE_TCB_SVN " + Hex(q.td->tee_tcb_svn) : std::string()) + ")",
          "tcb.level_not_supported");
  }

  // Collateral window: max(issueDate, thisUpdate) .. min(nextUpdate).
  auto window = [&r](int64_t not_before, int64_t not_after, const char* what) {
    r.collateral_not_before = std::max(r.collateral_not_before, not_before);
    if (not_after != 0 && (r.collateral_not_after == 0 || not_after < r.collateral_not_after)) {
      r.collateral_not_after = not_after;
      r.collateral_expires_first = what;
    }
  };
  if (tcb_info) window(tcb_info->issue_date, tcb_info->next_update, "tcb_info");
  if (qe_identity) window(qe_identity->issue_date, qe_identity->next_update, "qe_identity");
  if (cf->root_crl.crl) window(cf->root_crl.crl->this_update, cf->root_crl.crl->next_update, "root_ca_crl");
  if (cf->pck_crl.crl) window(cf->pck_crl.crl->this_update, cf->pck_crl.crl->next_update, "pck_crl");

  // No TCB level met is a failed verification, as in QVL (TCB_NOT_SUPPORTED).
  r.verified =
      std::all_of(r.checks.begin(), r.checks.end(), [](const CheckOutcome& c) { return c.ok; });
  return r;
}

Result<QuotePlatform> InspectQuote(std::span<const uint8_t> bytes, std::string_view pck_chain_pem) {
  KMRA_ASSIGN_OR_RETURN(Quote q, ParseQuote(bytes));
  std::string_view pem = pck_chain_pem.empty() ? std::string_view(q.cert_data.pck_chain_pem)
                                               : pck_chain_pem;
  if (pem.empty()) {
    return InvalidArgument("the quote carries certification data type " +
                           std::to_string(q.cert_data.nested_type) +
                           " without a PCK certificate; supply the PCK chain");
  }
  // Only the leaf is needed: cut the text after its END line to skip decoding the others.
  const size_t end = pem.find("-----END CERTIFICATE-----");
  if (end != std::string_view::npos) pem = pem.substr(0, end + 25);
  KMRA_ASSIGN_OR_RETURN(auto certs, internal::ParsePemChain(pem, "the PCK certificate chain"));
  X509* leaf = certs[0].x509.get();
  if (X509_NAME_cmp(X509_get_issuer_name(leaf), X509_get_subject_name(leaf)) == 0) {
    return InvalidArgument("the PCK certificate chain starts with the self-issued \"" +
                           certs[0].subject_cn +
                           "\": give it leaf first (PCK certificate, PCK CA, root), as Intel's "
                           "PCS and the quote's certification data do");
  }
  KMRA_ASSIGN_OR_RETURN(PckExtension ext, PckExtensionOf(leaf));
  QuotePlatform p;
  p.tee_type = q.header.tee_type;  // only the leaf is decoded below
  p.tee = TeeName(q.header.tee_type);
  p.fmspc = HexUpper(ext.fmspc);
  p.pce_id = HexUpper(ext.pce_id);
  const std::string& issuer = certs[0].issuer_cn;
  p.pck_ca = issuer.find("Processor") != std::string::npos  ? "processor"
             : issuer.find("Platform") != std::string::npos ? "platform"
             : ext.platform_instance_id                      ? "platform"
                                                             : "processor";
  return p;
}

}  // namespace kmra::dcap
