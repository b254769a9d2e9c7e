// OpenSSL's reading of a certificate (d2i_X509), as a reference the DER-direct parser
// (crypto/x509.h) is compared with: by the unit tests on every certificate of the test data and by
// the x509 fuzz target on arbitrary input.
#pragma once

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/x509.h>

#include <ctime>
#include <string>
#include <vector>

#include "base/clock.h"
#include "crypto/ossl.h"
#include "crypto/x509.h"

namespace kmra::crypto::testing {

inline ossl::Ptr<X509> OpenSslCert(std::span<const uint8_t> der) {
  const unsigned char* p = der.data();
  ossl::Ptr<X509> x(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (x && p != der.data() + der.size()) x.reset();
  ERR_clear_error();
  return x;
}

inline std::string OpenSslCn(const X509_NAME* name) {
  const int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (idx < 0) return "";
  const ASN1_STRING* s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<size_t>(ASN1_STRING_length(s)));
}

inline std::vector<uint8_t> OpenSslNameDer(const X509_NAME* name) {
  const unsigned char* der = nullptr;
  size_t len = 0;
  if (X509_NAME_get0_der(name, &der, &len) != 1) return {};
  return {der, der + len};
}

inline int64_t OpenSslTime(const ASN1_TIME* t) {
  struct tm tm {};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return -1;
  return DaysFromCivil(tm.tm_year + 1900, static_cast<unsigned>(tm.tm_mon + 1),
                       static_cast<unsigned>(tm.tm_mday)) *
             86400 +
         tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec;
}

// "" when `ours` holds what OpenSSL reads from the same DER; otherwise the first field that
// differs.
inline std::string DifferenceFromOpenSsl(const Cert& ours, X509* x) {
  if (OpenSslCn(X509_get_subject_name(x)) != ours.subject_cn) return "subject CN";
  if (OpenSslCn(X509_get_issuer_name(x)) != ours.issuer_cn) return "issuer CN";
  if (OpenSslNameDer(X509_get_subject_name(x)) != ours.subject_name) return "subject name";
  if (OpenSslNameDer(X509_get_issuer_name(x)) != ours.issuer_name) return "issuer name";
  if (OpenSslTime(X509_get0_notBefore(x)) != ours.not_before) return "notBefore";
  if (OpenSslTime(X509_get0_notAfter(x)) != ours.not_after) return "notAfter";
  const ASN1_INTEGER* serial = X509_get0_serialNumber(x);
  if (ASN1_STRING_type(serial) != V_ASN1_INTEGER) return "serial sign";
  const std::vector<uint8_t> serial_bytes(
      ASN1_STRING_get0_data(serial), ASN1_STRING_get0_data(serial) + ASN1_STRING_length(serial));
  if (serial_bytes != ours.serial) return "serial";
  EVP_PKEY* key = X509_get0_pubkey(x);
  std::array<uint8_t, 65> point{};
  size_t point_len = 0;
  if (key == nullptr ||
      EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point.data(),
                                      point.size(), &point_len) != 1 ||
      point_len != point.size() || point != ours.public_point) {
    ERR_clear_error();
    return "public key";
  }
  const ASN1_BIT_STRING* sig = nullptr;
  const X509_ALGOR* alg = nullptr;
  X509_get0_signature(&sig, &alg, x);
  if (X509_get_signature_nid(x) != NID_ecdsa_with_SHA256) return "signature algorithm";
  const unsigned char* p = ASN1_STRING_get0_data(sig);
  ossl::Ptr<ECDSA_SIG> ecdsa(d2i_ECDSA_SIG(nullptr, &p, ASN1_STRING_length(sig)));
  std::array<uint8_t, 64> raw{};
  if (!ecdsa || BN_bn2binpad(ECDSA_SIG_get0_r(ecdsa.get()), raw.data(), 32) != 32 ||
      BN_bn2binpad(ECDSA_SIG_get0_s(ecdsa.get()), raw.data() + 32, 32) != 32 ||
      raw != ours.signature) {
    ERR_clear_error();
    return "signature value";
  }
  unsigned char* tbs = nullptr;
  const int tbs_len = i2d_re_X509_tbs(x, &tbs);
  const bool same_tbs = tbs_len > 0 && std::vector<uint8_t>(tbs, tbs + tbs_len) == ours.tbs;
  OPENSSL_free(tbs);
  if (!same_tbs) return "TBSCertificate bytes";
  if (X509_get_ext_count(x) != static_cast<int>(ours.extensions.size())) return "extension count";
  for (int i = 0; i < X509_get_ext_count(x); ++i) {
    X509_EXTENSION* ext = X509_get_ext(x, i);
    const ASN1_OBJECT* obj = X509_EXTENSION_get_object(ext);
    const auto& mine = ours.extensions[static_cast<size_t>(i)];
    const std::vector<uint8_t> oid(OBJ_get0_data(obj), OBJ_get0_data(obj) + OBJ_length(obj));
    const ASN1_OCTET_STRING* data = X509_EXTENSION_get_data(ext);
    const std::vector<uint8_t> value(ASN1_STRING_get0_data(data),
                                     ASN1_STRING_get0_data(data) + ASN1_STRING_length(data));
    if (oid != mine.oid || value != mine.value ||
        (X509_EXTENSION_get_critical(ext) == 1) != mine.critical) {
      return "extension " + std::to_string(i);
    }
  }
  // Both verify the certificate's signature with its own key alike (true for self-signed ones).
  const bool openssl_self = X509_verify(x, key) == 1;
  ERR_clear_error();
  if (openssl_self != SignedBy(ours, *ours.key)) return "self-signature verdict";
  return "";
}

}  // namespace kmra::crypto::testing
