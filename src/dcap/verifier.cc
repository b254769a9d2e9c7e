#include "dcap/verifier.h"

#include <algorithm>
#include <atomic>
#include <cstring>

#include "crypto/ec.h"
#include "crypto/ecdsa.h"
#include "dcap/intel_root.h"
#include "dcap/internal/bytes.h"
#include "dcap/internal/facts.h"
#include "dcap/internal/lru.h"
#include "dcap/internal/phases.h"
#include "dcap/tcb_eval.h"

namespace kmra::dcap {
namespace {

using internal::CollateralFacts;
using internal::FormatUtc;
using internal::Hex;
using internal::HexUpper;
using internal::PckChainFacts;

// About how many checks one verification records (37 or 38 for the quotes under tests/data/dcap).
constexpr size_t kChecksPerQuote = 40;

struct AttestationKey {
  std::optional<crypto::PublicKey> key;
  std::string error;
};

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

// The PCK chain Verify uses: given explicitly, else the one in the certification data (type 5 or
// 6 -> 5).
std::string_view ChainPem(const Quote& q, std::string_view given) {
  return given.empty() ? std::string_view(q.cert_data.pck_chain_pem) : given;
}

// The collateral cache's key: every byte of the collateral, each part preceded by its length. Built
// in a buffer each thread keeps (a lookup allocates nothing once it has grown).
std::string_view CollateralKey(const Collateral& c) {
  thread_local std::string key;
  key.clear();
  key.reserve(c.tcb_info_json.size() + c.qe_identity_json.size() + c.tcb_signing_chain_pem.size() +
              c.root_ca_crl_der.size() + c.pck_crl_der.size() + 64);
  auto add = [](const void* data, size_t n) {
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
    const std::string_view key = CollateralKey(c);
    if (auto hit = collateral_cache->Get(key)) return hit;
    std::string stored(key);  // the thread's buffer is reused by its next lookup
    auto facts = internal::PrepareCollateral(c, root, next_id++);
    collateral_cache->Put(stored, facts);
    return facts;
  }

  // The PCK chain facts of `pem`, shared by every collateral (they do not depend on it).
  std::shared_ptr<const PckChainFacts> Chain(std::string_view pem) {
    if (!chain_cache) return internal::PreparePckChain(pem, root, next_id++);
    if (auto hit = chain_cache->Get(pem)) return hit;
    auto facts = internal::PreparePckChain(pem, root, next_id++);
    chain_cache->Put(std::string(pem), facts);
    return facts;
  }

  // What the collateral's CRLs say about `chain`, remembered with the chain per collateral.
  std::shared_ptr<const internal::PckRevocationFacts> Revocation(const PckChainFacts& chain,
                                                                 const CollateralFacts& c) {
    if (!options.enable_cache) return internal::PreparePckRevocation(chain, c);
    {
      std::shared_lock<std::shared_mutex> lock(chain.revocation_mu);
      for (const auto& [id, facts] : chain.revocation_memo) {
        if (id == c.id) return facts;
      }
    }
    auto facts = internal::PreparePckRevocation(chain, c);
    std::unique_lock<std::shared_mutex> lock(chain.revocation_mu);
    if (chain.revocation_memo.size() >= 4) {
      chain.revocation_memo.erase(chain.revocation_memo.begin());
    }
    chain.revocation_memo.emplace_back(c.id, facts);
    return facts;
  }

  std::shared_ptr<const AttestationKey> Key(const std::array<uint8_t, 64>& raw) {
    auto make = [&raw]() {
      auto k = std::make_shared<AttestationKey>();
      auto key = crypto::EcPublicKeyFromPoint(crypto::EcCurve::kP256, raw);
      if (key) {
        k->key = std::move(*key);
      } else {
        k->error = "the attestation key is not a P-256 point";
      }
      return k;
    };
    if (!key_cache) return make();
    const std::string_view key(reinterpret_cast<const char*>(raw.data()), raw.size());
    if (auto hit = key_cache->Get(key)) return hit;
    std::shared_ptr<const AttestationKey> k = make();
    key_cache->Put(std::string(key), k);
    return k;
  }

  bool QeReportSignature(const PckChainFacts& chain, const Quote& q) {
    auto verify = [&]() {
      const crypto::PublicKey* key = chain.leaf_key();
      return key != nullptr && crypto::EcdsaVerifyRaw(*key, crypto::HashAlg::kSha256,
                                                      q.qe_report.raw, q.qe_report_signature)
                                   .has_value();
    };
    if (!options.enable_cache) return verify();
    const std::string_view report(reinterpret_cast<const char*>(q.qe_report.raw.data()),
                                  q.qe_report.raw.size());
    const std::string_view signature(reinterpret_cast<const char*>(q.qe_report_signature.data()),
                                     q.qe_report_signature.size());
    {
      std::shared_lock<std::shared_mutex> lock(chain.qe_mu);
      for (const auto& [m, ok] : chain.qe_memo) {
        if (m.size() == report.size() + signature.size() && m.starts_with(report) &&
            m.ends_with(signature)) {
          return ok;
        }
      }
    }
    std::string memo(report);
    memo += signature;
    const bool ok = verify();
    std::unique_lock<std::shared_mutex> lock(chain.qe_mu);
    if (chain.qe_memo.size() >= 8) chain.qe_memo.erase(chain.qe_memo.begin());
    chain.qe_memo.emplace_back(std::move(memo), ok);
    return ok;
  }

  VerificationReport Run(const Quote& q, const dcap::Collateral& collateral, int64_t at,
                         std::string_view pck_chain_pem);
};

Verifier::Verifier(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Verifier::~Verifier() = default;

Result<std::unique_ptr<Verifier>> Verifier::Create(VerifierOptions options) {
  auto impl = std::make_unique<Impl>();
  const std::string pem = options.trusted_root_pem.empty() ? std::string(IntelSgxRootCaPem())
                                                           : options.trusted_root_pem;
  auto certs = crypto::ParsePemChain(pem, "the trusted root");
  if (!certs) return tl::unexpected(certs.error());
  if (certs->size() != 1) {
    return InvalidArgument("the trusted root PEM holds " + std::to_string(certs->size()) +
                           " certificates; expected exactly one");
  }
  impl->root.cert = std::move((*certs)[0]);
  impl->root.self_signed = crypto::SignedBy(impl->root.cert, *impl->root.cert.key);
  if (options.enable_cache) {
    impl->collateral_cache =
        std::make_unique<internal::Lru<CollateralFacts>>(options.cache_entries);
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
  auto parsed = ParseQuote(quote);
  if (!parsed) {
    // QVL step 1: nothing else can be checked.
    VerificationReport r;
    r.verified_at = at_unix;
    internal::Checks b;
    const bool unsupported = parsed.error().code() == Code::kUnimplemented;
    b.Add("quote.parse", false, parsed.error().message(),
          unsupported ? "quote.unsupported" : "quote.malformed");
    internal::Record(std::move(b), &r);
    return r;
  }
  return impl_->Run(*parsed, collateral, at_unix, pck_chain_pem);
}

VerificationReport Verifier::Verify(const Quote& quote, const Collateral& collateral,
                                    int64_t at_unix, std::string_view pck_chain_pem) const {
  return impl_->Run(quote, collateral, at_unix, pck_chain_pem);
}

// The phases in QVL's order; each returns its checks, appended to the report as they come.
VerificationReport Verifier::Impl::Run(const Quote& q, const dcap::Collateral& collateral,
                                       int64_t at, std::string_view pck_chain_pem) {
  const int64_t skew = options.clock_skew_seconds;
  VerificationReport r;
  r.verified_at = at;
  r.checks.reserve(kChecksPerQuote);
  FillIdentity(q, &r);
  internal::Record(internal::QuoteFormat(q), &r);
  const std::string_view chain_pem = ChainPem(q, pck_chain_pem);
  internal::Record(internal::PckChainPresence(q, chain_pem), &r);

  // A. PCK certificate chain and CRLs (QVL sgxAttestationVerifyPCKCertificate).
  auto cf = Collateral(collateral);
  std::shared_ptr<const PckChainFacts> chain;
  if (!chain_pem.empty()) {
    chain = Chain(chain_pem);
    internal::Record(internal::PckChainTrust(*chain), &r);
    if (!chain->parse_error.empty()) chain.reset();
  }
  const bool chain_trusted = chain && chain->trusted();
  std::shared_ptr<const internal::PckRevocationFacts> revocation;
  if (chain) revocation = Revocation(*chain, *cf);
  internal::Record(internal::Revocation(*cf, chain.get(), revocation.get(), at, skew), &r);

  // B. TCB info and its signing chain; C. QE identity.
  internal::Record(internal::TcbInfoDocument(*cf, at, skew), &r);
  internal::Record(internal::QeIdentityDocument(*cf, at, skew), &r);
  const TcbInfo* tcb_info = cf->tcb_info.value();
  const EnclaveIdentity* qe_identity = cf->qe_identity.value();

  // D. The quote itself (QVL sgxAttestationVerifyQuote), in QVL's order.
  internal::Record(internal::PlatformMatch(q, chain.get(), tcb_info, &r), &r);
  const PckExtension* pck = chain && chain->extension ? &*chain->extension : nullptr;
  const TdxModuleIdentity* module = nullptr;
  internal::Record(internal::TdxModule(q, tcb_info, &module), &r);
  std::optional<bool> qe_signature;
  if (chain_trusted) qe_signature = QeReportSignature(*chain, q);
  internal::Record(internal::QeReport(q, qe_signature), &r);
  std::optional<EnclaveIdentityLevel> qe_level;
  if (qe_identity != nullptr) {
    internal::Record(internal::QeIdentityMatch(q, *qe_identity, &qe_level, &r), &r);
  }
  {
    auto key = Key(q.attestation_key);
    const bool ok = key->key && crypto::EcdsaVerifyRaw(*key->key, crypto::HashAlg::kSha256,
                                                       q.signed_bytes, q.signature);
    internal::Record(internal::QuoteSignature(key->key.has_value(), key->error, ok), &r);
  }

  // TCB level and status convergence (QVL step 4.1.2.4.17).
  if (tcb_info != nullptr && pck != nullptr) {
    internal::Record(internal::TcbLevel(q, *tcb_info, *pck, module, qe_identity, qe_level, &r), &r);
  }
  internal::CollateralWindow(*cf, &r);

  // Every check counts, the TCB level among them (TCBLevelNotSupported fails, as in QVL).
  r.verified =
      std::all_of(r.checks.begin(), r.checks.end(), [](const CheckOutcome& c) { return c.ok; });
  return r;
}

Verifier::PlatformCheck Verifier::Platform(const Quote& q, std::string_view pck_chain_pem) const {
  PlatformCheck out;
  VerificationReport r;  // collects the errors with Verify's codes and messages
  const std::string_view chain_pem = ChainPem(q, pck_chain_pem);
  internal::Record(internal::PckChainPresence(q, chain_pem), &r);
  if (chain_pem.empty()) {
    out.chain_present = false;
    out.errors = std::move(r.errors);
    return out;
  }
  auto chain = impl_->Chain(chain_pem);
  internal::Record(internal::PckChainTrust(*chain), &r);
  if (chain->trusted()) {
    internal::Record(internal::PlatformMatch(q, chain.get(), nullptr, &r), &r);
  }
  if (!r.errors.empty()) {
    out.errors = std::move(r.errors);
    return out;
  }
  const PckExtension& ext = *chain->extension;
  QuotePlatform p;
  p.tee_type = q.header.tee_type;
  p.tee = TeeName(q.header.tee_type);
  p.fmspc = r.fmspc;
  p.pce_id = r.pce_id;
  p.pck_ca = !chain->ca_type.empty()    ? chain->ca_type
             : ext.platform_instance_id ? "platform"
                                        : "processor";
  out.platform = std::move(p);
  return out;
}

Result<QuotePlatform> InspectQuote(std::span<const uint8_t> bytes, std::string_view pck_chain_pem) {
  KMRA_ASSIGN_OR_RETURN(Quote q, ParseQuote(bytes));
  std::string_view pem =
      pck_chain_pem.empty() ? std::string_view(q.cert_data.pck_chain_pem) : pck_chain_pem;
  if (pem.empty()) {
    return InvalidArgument("the quote carries certification data type " +
                           std::to_string(q.cert_data.nested_type) +
                           " without a PCK certificate; supply the PCK chain");
  }
  // Only the leaf is needed: cut the text after its END line to skip decoding the others.
  const size_t end = pem.find("-----END CERTIFICATE-----");
  if (end != std::string_view::npos) pem = pem.substr(0, end + 25);
  KMRA_ASSIGN_OR_RETURN(auto certs, crypto::ParsePemChain(pem, "the PCK certificate chain"));
  const crypto::Cert& leaf = certs[0];
  if (crypto::IssuedBy(leaf, leaf)) {
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
             : ext.platform_instance_id                     ? "platform"
                                                            : "processor";
  return p;
}

}  // namespace kmra::dcap
