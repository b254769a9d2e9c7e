#include "dcap/internal/x509.h"

#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include <cstring>
#include <ctime>

#include "base/base64.h"
#include "crypto/ecdsa.h"
#include "dcap/internal/bytes.h"

namespace kmra::dcap::internal {
namespace {

Result<Cert> FromX509(ossl::Ptr<X509> x) {
  Cert c;
  unsigned char* der = nullptr;
  const int len = i2d_X509(x.get(), &der);
  if (len <= 0) return ossl::Fail(Code::kInternal, "cannot encode a certificate as DER");
  c.der.assign(der, der + len);
  OPENSSL_free(der);
  c.subject_cn = CommonName(X509_get_subject_name(x.get()));
  c.issuer_cn = CommonName(X509_get_issuer_name(x.get()));
  c.not_before = ToUnix(X509_get0_notBefore(x.get()));
  c.not_after = ToUnix(X509_get0_notAfter(x.get()));
  const ASN1_INTEGER* serial = X509_get0_serialNumber(x.get());
  c.serial_hex = Hex(std::span<const uint8_t>(ASN1_STRING_get0_data(serial),
                                              static_cast<size_t>(ASN1_STRING_length(serial))));
  c.x509 = std::move(x);
  return c;
}

}  // namespace

int64_t ToUnix(const ASN1_TIME* t) {
  struct tm tm {};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return 0;
  return DaysFromCivil(tm.tm_year + 1900, static_cast<unsigned>(tm.tm_mon + 1),
                       static_cast<unsigned>(tm.tm_mday)) *
             86400 +
         int64_t{tm.tm_hour} * 3600 + int64_t{tm.tm_min} * 60 + tm.tm_sec;
}

std::string CommonName(const X509_NAME* name) {
  if (name == nullptr) return "";
  const int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (idx < 0) return "";
  const ASN1_STRING* s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<size_t>(ASN1_STRING_length(s)));
}

Cert ShareCert(const Cert& cert) {
  Cert c;
  X509_up_ref(cert.x509.get());
  c.x509.reset(cert.x509.get());
  c.der = cert.der;
  c.subject_cn = cert.subject_cn;
  c.issuer_cn = cert.issuer_cn;
  c.not_before = cert.not_before;
  c.not_after = cert.not_after;
  c.serial_hex = cert.serial_hex;
  return c;
}

Result<std::vector<Cert>> ParsePemChain(std::string_view pem, std::string_view what,
                                        const Cert* known) {
  static constexpr std::string_view kBegin = "-----BEGIN CERTIFICATE-----";
  static constexpr std::string_view kEnd = "-----END CERTIFICATE-----";
  std::vector<Cert> out;
  size_t pos = 0;
  while ((pos = pem.find(kBegin, pos)) != std::string_view::npos) {
    const size_t body = pos + kBegin.size();
    const size_t end = pem.find(kEnd, body);
    const std::string n = std::to_string(out.size() + 1);
    if (end == std::string_view::npos) {
      return InvalidArgument(std::string(what) + ": certificate " + n + " has no END line");
    }
    std::string b64;
    b64.reserve(end - body);
    for (char ch : pem.substr(body, end - body)) {
      if (ch != '\n' && ch != '\r' && ch != ' ' && ch != '\t') b64 += ch;
    }
    auto der = Base64Decode(b64);
    if (!der) {
      return InvalidArgument(std::string(what) + ": certificate " + n +
                             " is not valid base64: " + der.error().message());
    }
    if (known != nullptr && *der == known->der) {
      out.push_back(ShareCert(*known));
    } else {
      KMRA_ASSIGN_OR_RETURN(Cert c, ParseDerCert(*der, std::string(what) + ": certificate " + n));
      out.push_back(std::move(c));
    }
    pos = end + kEnd.size();
  }
  if (out.empty()) return InvalidArgument(std::string(what) + " holds no PEM certificate");
  return out;
}

Result<Cert> ParseDerCert(std::span<const uint8_t> der, std::string_view what) {
  const unsigned char* p = der.data();
  ossl::Ptr<X509> x(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!x || p != der.data() + der.size()) {
    return ossl::Fail(Code::kInvalidArgument, std::string(what) + " is not a DER certificate");
  }
  return FromX509(std::move(x));
}

Result<Crl> ParseCrl(std::span<const uint8_t> der, std::string_view what) {
  const unsigned char* p = der.data();
  Crl c;
  c.crl.reset(d2i_X509_CRL(nullptr, &p, static_cast<long>(der.size())));
  if (!c.crl || p != der.data() + der.size()) {
    return ossl::Fail(Code::kInvalidArgument, std::string(what) + " is not a DER CRL");
  }
  c.issuer_cn = CommonName(X509_CRL_get_issuer(c.crl.get()));
  c.this_update = ToUnix(X509_CRL_get0_lastUpdate(c.crl.get()));
  c.next_update = ToUnix(X509_CRL_get0_nextUpdate(c.crl.get()));
  return c;
}

std::string CrlProfileProblem(X509_CRL* crl) {
  std::string problems;
  auto note = [&problems](const std::string& problem) {
    problems += (problems.empty() ? "the CRL " : "; it ") + problem;
  };
  auto absent = [](int crit, const char* name) {
    return crit == -1   ? std::string("has no ") + name + " extension"
           : crit == -2 ? std::string("has more than one ") + name + " extension"
                        : std::string("has a ") + name + " extension that does not decode";
  };
  int crit = 0;
  auto* number =
      static_cast<ASN1_INTEGER*>(X509_CRL_get_ext_d2i(crl, NID_crl_number, &crit, nullptr));
  if (number == nullptr) note(absent(crit, "CRL Number"));
  ASN1_INTEGER_free(number);
  auto* aki = static_cast<AUTHORITY_KEYID*>(
      X509_CRL_get_ext_d2i(crl, NID_authority_key_identifier, &crit, nullptr));
  if (aki == nullptr) {
    note(absent(crit, "Authority Key Identifier"));
  } else if (aki->keyid == nullptr) {
    note("has an Authority Key Identifier extension without a key identifier");
  }
  AUTHORITY_KEYID_free(aki);
  ERR_clear_error();
  if (problems.empty()) return problems;
  return problems + " (Intel's CRL profile requires CRL Number and Authority Key Identifier)";
}

std::string Sha256Fingerprint(const Cert& cert) {
  uint8_t digest[SHA256_DIGEST_LENGTH];
  SHA256(cert.der.data(), cert.der.size(), digest);
  const std::string hex = HexUpper(std::span<const uint8_t>(digest, sizeof(digest)));
  std::string out;
  for (size_t i = 0; i < hex.size(); i += 2) {
    if (i != 0) out += ':';
    out.append(hex, i, 2);
  }
  return out;
}

std::string DescribeCert(const Cert& cert) {
  return "\"" + cert.subject_cn + "\" (serial " + cert.serial_hex + ", SHA-256 " +
         Sha256Fingerprint(cert) + ", valid " + FormatUtc(cert.not_before) + " .. " +
         FormatUtc(cert.not_after) + ")";
}

std::string RootFirstProblem(const std::vector<Cert>& chain, std::string_view what) {
  if (chain.size() < 2) return "";
  auto issued = [&chain](size_t cert, size_t issuer) {
    return X509_NAME_cmp(X509_get_issuer_name(chain[cert].x509.get()),
                         X509_get_subject_name(chain[issuer].x509.get())) == 0;
  };
  for (size_t i = 0; i + 1 < chain.size(); ++i) {
    if (issued(i, i + 1) || !issued(i + 1, i)) return "";
  }
  return std::string(what) + " is given root first (certificate 1 is \"" + chain[0].subject_cn +
         "\", the issuer of certificate 2 \"" + chain[1].subject_cn +
         "\"); give it leaf first, each certificate followed by its issuer and the root last, as "
         "Intel's PCS and the quote's certification data do";
}

bool SignedBy(X509* cert, EVP_PKEY* issuer_key) {
  const bool ok = issuer_key != nullptr && X509_verify(cert, issuer_key) == 1;
  ERR_clear_error();
  return ok;
}

bool CrlSignedBy(X509_CRL* crl, EVP_PKEY* issuer_key) {
  const bool ok = issuer_key != nullptr && X509_CRL_verify(crl, issuer_key) == 1;
  ERR_clear_error();
  return ok;
}

bool Revoked(X509_CRL* crl, X509* cert) {
  X509_REVOKED* entry = nullptr;
  return X509_CRL_get0_by_serial(crl, &entry,
                                 const_cast<ASN1_INTEGER*>(X509_get0_serialNumber(cert))) == 1;
}

bool VerifyRawEcdsa(EVP_PKEY* key, std::span<const uint8_t> message,
                    std::span<const uint8_t, 64> signature) {
  if (key == nullptr || EVP_PKEY_up_ref(key) != 1) return false;
  const auto shared = crypto::PublicKey::Adopt(ossl::Ptr<EVP_PKEY>(key));
  return crypto::EcdsaVerifyRaw(shared, crypto::HashAlg::kSha256, message, signature).has_value();
}

}  // namespace kmra::dcap::internal
