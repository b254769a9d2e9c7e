#include "crypto/x509.h"

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <ctime>
#include <memory>

#include "base/clock.h"
#include "base/hex.h"
#include "crypto/hash.h"

namespace kmra::crypto {
namespace {

std::string NameToString(const X509_NAME* name) {
  auto bio = ossl::Wrap(BIO_new(BIO_s_mem()));
  if (!bio || name == nullptr) return "";
  // RFC 2253 escaping and separators, but in the certificate's own RDN order (Intel writes CN
  // first and C last; reversing would make its names read backwards).
  X509_NAME_print_ex(bio.get(), name, 0,
                     (XN_FLAG_RFC2253 & ~XN_FLAG_DN_REV) & ~ASN1_STRFLGS_ESC_MSB);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return len > 0 ? std::string(data, static_cast<size_t>(len)) : std::string();
}

std::vector<uint8_t> IntegerBytes(const ASN1_INTEGER* i) {
  ossl::Ptr<BIGNUM> bn(ASN1_INTEGER_to_BN(i, nullptr));
  if (!bn) return {0};
  std::vector<uint8_t> out(static_cast<size_t>(BN_num_bytes(bn.get())));
  BN_bn2bin(bn.get(), out.data());
  if (out.empty()) out.push_back(0);
  return out;
}

bool LooksLikePem(std::span<const uint8_t> b) {
  std::string_view s(reinterpret_cast<const char*>(b.data()), b.size());
  return s.find("-----BEGIN ") != std::string_view::npos;
}

std::string_view AsText(std::span<const uint8_t> b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

ossl::Ptr<BIO> MemBio(std::string_view text) {
  return ossl::Wrap(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

ChainCheck Classify(int err) {
  switch (err) {
    case X509_V_OK: return ChainCheck::kOk;
    case X509_V_ERR_CERT_HAS_EXPIRED: return ChainCheck::kExpired;
    case X509_V_ERR_CERT_NOT_YET_VALID: return ChainCheck::kNotYetValid;
    case X509_V_ERR_CERT_REVOKED: return ChainCheck::kRevoked;
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_CERT_UNTRUSTED:
    case X509_V_ERR_CERT_REJECTED:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
      return ChainCheck::kUntrusted;
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
    case X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE:
    case X509_V_ERR_UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY:
      return ChainCheck::kBadSignature;
    case X509_V_ERR_UNABLE_TO_GET_CRL:
    case X509_V_ERR_UNABLE_TO_GET_CRL_ISSUER:
      return ChainCheck::kCrlMissing;
    case X509_V_ERR_CRL_HAS_EXPIRED: return ChainCheck::kCrlExpired;
    case X509_V_ERR_CRL_NOT_YET_VALID: return ChainCheck::kCrlNotYetValid;
    case X509_V_ERR_CRL_SIGNATURE_FAILURE:
    case X509_V_ERR_UNABLE_TO_DECRYPT_CRL_SIGNATURE:
      return ChainCheck::kCrlBadSignature;
    case X509_V_ERR_INVALID_CA:
    case X509_V_ERR_PATH_LENGTH_EXCEEDED:
    case X509_V_ERR_KEYUSAGE_NO_CERTSIGN:
    case X509_V_ERR_KEYUSAGE_NO_CRL_SIGN:
      return ChainCheck::kNotCa;
    default: return ChainCheck::kInvalid;
  }
}

}  // namespace

namespace internal {
int64_t Asn1TimeToUnix(const ASN1_TIME* t) {
  std::tm tm{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return 0;
  int64_t days = DaysFromCivil(tm.tm_year + 1900, static_cast<unsigned>(tm.tm_mon + 1),
                               static_cast<unsigned>(tm.tm_mday));
  return days * 86400 + int64_t{tm.tm_hour} * 3600 + int64_t{tm.tm_min} * 60 + tm.tm_sec;
}
}  // namespace internal

// ---- Certificate ----

Result<Certificate> Certificate::FromDer(std::span<const uint8_t> der) {
  const unsigned char* p = der.data();
  auto x = ossl::Wrap(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!x) {
    return ossl::Fail(Code::kInvalidArgument, "certificate is not valid DER X.509 (" +
                                                  std::to_string(der.size()) + " bytes)");
  }
  if (p != der.data() + der.size()) {
    return InvalidArgument("certificate DER has " + std::to_string(der.data() + der.size() - p) +
                           " trailing bytes");
  }
  return Certificate(std::move(x));
}

Result<Certificate> Certificate::FromPem(std::string_view pem) {
  auto bio = MemBio(pem);
  auto x = ossl::Wrap(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!x) {
    return ossl::Fail(Code::kInvalidArgument,
                      "no valid PEM certificate found (expected -----BEGIN CERTIFICATE-----)");
  }
  return Certificate(std::move(x));
}

Result<Certificate> Certificate::Parse(std::span<const uint8_t> bytes) {
  return LooksLikePem(bytes) ? FromPem(AsText(bytes)) : FromDer(bytes);
}

Result<std::vector<Certificate>> Certificate::ParsePemChain(std::string_view pem) {
  static constexpr std::string_view kBegin = "-----BEGIN CERTIFICATE-----";
  std::vector<Certificate> out;
  size_t pos = pem.find(kBegin);
  while (pos != std::string_view::npos) {
    size_t next = pem.find(kBegin, pos + kBegin.size());
    std::string_view block = pem.substr(pos, next == std::string_view::npos ? next : next - pos);
    auto cert = FromPem(block);
    if (!cert) {
      return tl::unexpected<Error>(
          cert.error().WithContext("certificate " + std::to_string(out.size() + 1) + " of the chain"));
    }
    out.push_back(std::move(*cert));
    pos = next;
  }
  if (out.empty()) {
    return InvalidArgument("no PEM certificate found (expected -----BEGIN CERTIFICATE-----)");
  }
  return out;
}

Certificate::Certificate(const Certificate& other) : x509_(other.x509_.get()) {
  if (x509_) X509_up_ref(x509_.get());
}

Certificate& Certificate::operator=(const Certificate& other) {
  if (this != &other) {
    if (other.x509_) X509_up_ref(other.x509_.get());
    x509_.reset(other.x509_.get());
  }
  return *this;
}

std::string Certificate::Subject() const { return NameToString(X509_get_subject_name(get())); }
std::string Certificate::Issuer() const { return NameToString(X509_get_issuer_name(get())); }

std::string Certificate::SubjectCommonName() const {
  const X509_NAME* name = X509_get_subject_name(get());
  int idx = -1;
  int last = -1;
  while ((idx = X509_NAME_get_index_by_NID(name, NID_commonName, idx)) >= 0) last = idx;
  if (last < 0) return "";
  const ASN1_STRING* s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, last));
  unsigned char* utf8 = nullptr;
  int len = ASN1_STRING_to_UTF8(&utf8, s);
  if (len < 0) return "";
  std::string out(reinterpret_cast<char*>(utf8), static_cast<size_t>(len));
  OPENSSL_free(utf8);
  return out;
}

std::vector<uint8_t> Certificate::Serial() const {
  return IntegerBytes(X509_get0_serialNumber(get()));
}

int64_t Certificate::NotBefore() const { return internal::Asn1TimeToUnix(X509_get0_notBefore(get())); }
int64_t Certificate::NotAfter() const { return internal::Asn1TimeToUnix(X509_get0_notAfter(get())); }

Result<crypto::PublicKey> Certificate::PublicKey() const {
  EVP_PKEY* k = X509_get_pubkey(get());  // get1: a new reference
  if (k == nullptr) {
    return ossl::Fail(Code::kInvalidArgument,
                      "certificate '" + Subject() + "' has an unsupported or malformed public key");
  }
  return crypto::PublicKey::Adopt(ossl::Ptr<EVP_PKEY>(k));
}

bool Certificate::IsCa() const { return (X509_get_extension_flags(get()) & EXFLAG_CA) != 0; }

bool Certificate::IsSelfSigned() const { return X509_self_signed(get(), 1) == 1; }

Result<std::vector<uint8_t>> Certificate::Extension(std::string_view oid) const {
  std::string oid_text(oid);
  auto obj = ossl::Wrap(OBJ_txt2obj(oid_text.c_str(), 1));
  if (!obj) return InvalidArgument("'" + oid_text + "' is not a dotted object identifier");
  int idx = X509_get_ext_by_OBJ(get(), obj.get(), -1);
  if (idx < 0) {
    return NotFound("certificate '" + Subject() + "' has no extension " + oid_text);
  }
  const ASN1_OCTET_STRING* data = X509_EXTENSION_get_data(X509_get_ext(get(), idx));
  const unsigned char* p = ASN1_STRING_get0_data(data);
  return std::vector<uint8_t>(p, p + ASN1_STRING_length(data));
}

Status Certificate::VerifySignedBy(const crypto::PublicKey& issuer_key) const {
  if (X509_verify(get(), issuer_key.get()) == 1) return OkStatus();
  ERR_clear_error();
  return Unauthenticated("the signature of certificate '" + Subject() +
                         "' does not verify with the given issuer key");
}

std::vector<uint8_t> Certificate::ToDer() const {
  int len = i2d_X509(get(), nullptr);
  if (len <= 0) return {};
  std::vector<uint8_t> out(static_cast<size_t>(len));
  unsigned char* p = out.data();
  i2d_X509(get(), &p);
  return out;
}

std::string Certificate::ToPem() const {
  auto bio = ossl::Wrap(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), get()) != 1) return "";
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

std::array<uint8_t, 32> Certificate::Sha256Fingerprint() const { return Sha256(ToDer()); }

bool Certificate::operator==(const Certificate& other) const { return ToDer() == other.ToDer(); }

// ---- Crl ----

Result<Crl> Crl::FromDer(std::span<const uint8_t> der) {
  const unsigned char* p = der.data();
  auto c = ossl::Wrap(d2i_X509_CRL(nullptr, &p, static_cast<long>(der.size())));
  if (!c) {
    return ossl::Fail(Code::kInvalidArgument,
                      "CRL is not valid DER (" + std::to_string(der.size()) + " bytes)");
  }
  if (p != der.data() + der.size()) {
    return InvalidArgument("CRL DER has " + std::to_string(der.data() + der.size() - p) +
                           " trailing bytes");
  }
  return Crl(std::move(c));
}

Result<Crl> Crl::FromPem(std::string_view pem) {
  auto bio = MemBio(pem);
  auto c = ossl::Wrap(PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr));
  if (!c) {
    return ossl::Fail(Code::kInvalidArgument,
                      "no valid PEM CRL found (expected -----BEGIN X509 CRL-----)");
  }
  return Crl(std::move(c));
}

Result<Crl> Crl::Parse(std::span<const uint8_t> bytes) {
  return LooksLikePem(bytes) ? FromPem(AsText(bytes)) : FromDer(bytes);
}

Crl::Crl(const Crl& other) : crl_(other.crl_.get()) {
  if (crl_) X509_CRL_up_ref(crl_.get());
}

Crl& Crl::operator=(const Crl& other) {
  if (this != &other) {
    if (other.crl_) X509_CRL_up_ref(other.crl_.get());
    crl_.reset(other.crl_.get());
  }
  return *this;
}

std::string Crl::Issuer() const { return NameToString(X509_CRL_get_issuer(get())); }

int64_t Crl::ThisUpdate() const { return internal::Asn1TimeToUnix(X509_CRL_get0_lastUpdate(get())); }

std::optional<int64_t> Crl::NextUpdate() const {
  const ASN1_TIME* t = X509_CRL_get0_nextUpdate(get());
  if (t == nullptr) return std::nullopt;
  return internal::Asn1TimeToUnix(t);
}

bool Crl::IsRevoked(const Certificate& cert) const {
  X509_REVOKED* rev = nullptr;
  // get0_by_serial needs a non-const serial; it does not modify it.
  auto* serial = const_cast<ASN1_INTEGER*>(X509_get0_serialNumber(cert.get()));
  return X509_CRL_get0_by_serial(get(), &rev, serial) == 1;
}

std::vector<std::vector<uint8_t>> Crl::RevokedSerials() const {
  std::vector<std::vector<uint8_t>> out;
  STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(get());
  const int n = sk_X509_REVOKED_num(revoked);
  out.reserve(static_cast<size_t>(n > 0 ? n : 0));
  for (int i = 0; i < n; ++i) {
    out.push_back(IntegerBytes(X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(revoked, i))));
  }
  return out;
}

Status Crl::VerifySignedBy(const crypto::PublicKey& issuer_key) const {
  if (X509_CRL_verify(get(), issuer_key.get()) == 1) return OkStatus();
  ERR_clear_error();
  return Unauthenticated("the signature of the CRL of '" + Issuer() +
                         "' does not verify with the given issuer key");
}

std::vector<uint8_t> Crl::ToDer() const {
  int len = i2d_X509_CRL(get(), nullptr);
  if (len <= 0) return {};
  std::vector<uint8_t> out(static_cast<size_t>(len));
  unsigned char* p = out.data();
  i2d_X509_CRL(get(), &p);
  return out;
}

// ---- chain verification ----

std::string_view ChainCheckName(ChainCheck check) {
  switch (check) {
    case ChainCheck::kOk: return "ok";
    case ChainCheck::kExpired: return "expired";
    case ChainCheck::kNotYetValid: return "not_yet_valid";
    case ChainCheck::kRevoked: return "revoked";
    case ChainCheck::kUntrusted: return "untrusted";
    case ChainCheck::kBadSignature: return "bad_signature";
    case ChainCheck::kCrlMissing: return "crl_missing";
    case ChainCheck::kCrlExpired: return "crl_expired";
    case ChainCheck::kCrlNotYetValid: return "crl_not_yet_valid";
    case ChainCheck::kCrlBadSignature: return "crl_bad_signature";
    case ChainCheck::kNotCa: return "not_ca";
    case ChainCheck::kInvalid: return "invalid";
  }
  return "invalid";
}

ChainVerification VerifyChain(const Certificate& leaf, std::span<const Certificate> intermediates,
                              const Certificate& root, std::span<const Crl> crls,
                              const ChainOptions& options) {
  ChainVerification v;
  auto internal_error = [&](const std::string& what) {
    v.check = ChainCheck::kInvalid;
    v.message = ossl::OpenSslError(Code::kInternal, what).message();
    return v;
  };
  auto store = ossl::Wrap(X509_STORE_new());
  if (!store || X509_STORE_add_cert(store.get(), root.get()) != 1) {
    return internal_error("cannot set up the trust store");
  }
  for (const Crl& crl : crls) {
    if (X509_STORE_add_crl(store.get(), crl.get()) != 1) {
      return internal_error("cannot add a CRL to the trust store");
    }
  }
  // The stack borrows the certificates (sk_X509_free, not pop_free) and must outlive ctx.
  struct StackFree {
    void operator()(STACK_OF(X509) * s) const { sk_X509_free(s); }
  };
  std::unique_ptr<STACK_OF(X509), StackFree> untrusted(sk_X509_new_null());
  if (!untrusted) return internal_error("out of memory");
  for (const Certificate& c : intermediates) sk_X509_push(untrusted.get(), c.get());
  auto ctx = ossl::Wrap(X509_STORE_CTX_new());
  if (!ctx || X509_STORE_CTX_init(ctx.get(), store.get(), leaf.get(), untrusted.get()) != 1) {
    return internal_error("cannot set up chain verification");
  }
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  X509_VERIFY_PARAM_set_time(param, static_cast<time_t>(options.at_unix));
  unsigned long flags = 0;
  if (options.crl_policy == CrlPolicy::kLeaf) flags = X509_V_FLAG_CRL_CHECK;
  if (options.crl_policy == CrlPolicy::kAll) flags = X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL;
  X509_VERIFY_PARAM_set_flags(param, flags);

  const int rc = X509_verify_cert(ctx.get());
  const std::string at = FormatRfc3339(options.at_unix);
  if (rc == 1) {
    STACK_OF(X509)* chain = X509_STORE_CTX_get0_chain(ctx.get());
    X509* top = sk_X509_value(chain, sk_X509_num(chain) - 1);
    if (X509_cmp(top, root.get()) != 0) {
      v.check = ChainCheck::kUntrusted;
      v.depth = sk_X509_num(chain) - 1;
      v.message = "the chain ends at a certificate that is not the pinned root '" +
                  root.Subject() + "'";
      return v;
    }
    ERR_clear_error();
    return v;
  }
  const int err = X509_STORE_CTX_get_error(ctx.get());
  v.check = Classify(err);
  v.depth = X509_STORE_CTX_get_error_depth(ctx.get());
  X509* cur = X509_STORE_CTX_get_current_cert(ctx.get());
  std::string issuer;
  std::string serial;
  int64_t not_before = 0;
  int64_t not_after = 0;
  if (cur != nullptr) {
    X509_up_ref(cur);
    Certificate c = Certificate::Adopt(ossl::Ptr<X509>(cur));
    v.subject = c.Subject();
    issuer = c.Issuer();
    serial = HexEncode(c.Serial());
    not_before = c.NotBefore();
    not_after = c.NotAfter();
  }
  const std::string who = "certificate '" + v.subject + "' (depth " + std::to_string(v.depth) + ")";
  X509_CRL* crl = X509_STORE_CTX_get0_current_crl(ctx.get());
  if (crl == nullptr && cur != nullptr) {
    // OpenSSL does not always keep the CRL it judged; find the one of the certificate's issuer.
    for (const Crl& c : crls) {
      if (X509_NAME_cmp(X509_CRL_get_issuer(c.get()), X509_get_issuer_name(cur)) == 0) {
        crl = c.get();
        break;
      }
    }
  }
  std::optional<int64_t> crl_this, crl_next;
  if (crl != nullptr) {
    crl_this = internal::Asn1TimeToUnix(X509_CRL_get0_lastUpdate(crl));
    if (X509_CRL_get0_nextUpdate(crl) != nullptr) {
      crl_next = internal::Asn1TimeToUnix(X509_CRL_get0_nextUpdate(crl));
    }
  }
  switch (v.check) {
    case ChainCheck::kExpired:
      v.message = who + " expired at " + FormatRfc3339(not_after) + "; verification time " + at;
      break;
    case ChainCheck::kNotYetValid:
      v.message = who + " is valid only from " + FormatRfc3339(not_before) +
                  "; verification time " + at;
      break;
    case ChainCheck::kRevoked:
      v.message = who + " with serial " + serial + " is revoked by the CRL of '" + issuer + "'";
      break;
    case ChainCheck::kUntrusted:
      v.message = who + " does not chain to the pinned root '" + root.Subject() + "' (" +
                  X509_verify_cert_error_string(err) + ")";
      break;
    case ChainCheck::kCrlMissing:
      v.message = "no usable CRL from '" + issuer + "' covers " + who + " (" +
                  X509_verify_cert_error_string(err) + ")";
      break;
    case ChainCheck::kCrlExpired:
      v.message = "the CRL of '" + issuer + "' (covering " + who + ") expired at " +
                  (crl_next ? FormatRfc3339(*crl_next) : std::string("?")) +
                  "; verification time " + at;
      break;
    case ChainCheck::kCrlNotYetValid:
      v.message = "the CRL of '" + issuer + "' (covering " + who + ") is valid only from " +
                  (crl_this ? FormatRfc3339(*crl_this) : std::string("?")) +
                  "; verification time " + at;
      break;
    default:
      v.message = who + ": " + X509_verify_cert_error_string(err);
      break;
  }
  ERR_clear_error();
  return v;
}

}  // namespace kmra::crypto
