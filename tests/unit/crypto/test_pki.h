// Builds small certificate hierarchies and CRLs in memory (with OpenSSL) for the X.509 tests.
#pragma once

#include <gtest/gtest.h>
#include <openssl/x509v3.h>

#include <string>
#include <vector>

#include "crypto/crl.h"
#include "crypto/ec.h"
#include "crypto/x509.h"

namespace kmra::crypto::testing {

struct CertSpec {
  CertSpec(std::string cn_, long serial_, int64_t not_before_, int64_t not_after_, bool ca_,
           std::string ext_oid_ = "", std::vector<uint8_t> ext_der_ = {})
      : cn(std::move(cn_)),
        serial(serial_),
        not_before(not_before_),
        not_after(not_after_),
        ca(ca_),
        ext_oid(std::move(ext_oid_)),
        ext_der(std::move(ext_der_)) {}
  std::string cn;
  long serial;
  int64_t not_before;
  int64_t not_after;
  bool ca;
  // Added as a non-critical extension when not empty (dotted OID, DER content).
  std::string ext_oid;
  std::vector<uint8_t> ext_der;
};

inline void SetTime(ASN1_TIME* t, int64_t unix) { ASN1_TIME_set(t, static_cast<time_t>(unix)); }

inline void AddExt(X509* x, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, x, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  X509_add_ext(x, ext, -1);
  X509_EXTENSION_free(ext);
}

inline ossl::Ptr<X509> ToX509(const Cert& cert) {
  const unsigned char* p = cert.der.data();
  return ossl::Ptr<X509>(d2i_X509(nullptr, &p, static_cast<long>(cert.der.size())));
}

inline std::vector<uint8_t> ToDer(X509* x) {
  unsigned char* der = nullptr;
  const int len = i2d_X509(x, &der);
  std::vector<uint8_t> out(der, der + (len > 0 ? len : 0));
  OPENSSL_free(der);
  return out;
}

// Issues a certificate for `subject_key` (its OpenSSL form); self-signed when `issuer` is null.
inline ossl::Ptr<X509> IssueX509(const CertSpec& spec, const PublicKey& subject_key,
                                 const Cert* issuer, const PrivateKey& issuer_key) {
  ossl::Ptr<X509> issuer_x = issuer ? ToX509(*issuer) : nullptr;
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), spec.serial);
  SetTime(X509_getm_notBefore(x), spec.not_before);
  SetTime(X509_getm_notAfter(x), spec.not_after);
  X509_set_pubkey(x, subject_key.get());
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("OpenKMRA Test"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(spec.cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer_x.get()) : name);
  X509* signer = issuer ? issuer_x.get() : x;
  AddExt(x, signer, NID_basic_constraints, spec.ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
  AddExt(x, signer, NID_key_usage,
         spec.ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature");
  if (!spec.ext_oid.empty()) {
    ASN1_OBJECT* obj = OBJ_txt2obj(spec.ext_oid.c_str(), 1);
    ASN1_OCTET_STRING* os = ASN1_OCTET_STRING_new();
    ASN1_OCTET_STRING_set(os, spec.ext_der.data(), static_cast<int>(spec.ext_der.size()));
    X509_EXTENSION* ext = X509_EXTENSION_create_by_OBJ(nullptr, obj, 0, os);
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    ASN1_OCTET_STRING_free(os);
    ASN1_OBJECT_free(obj);
  }
  X509_sign(x, issuer_key.get(), EVP_sha256());
  return ossl::Ptr<X509>(x);
}

// As IssueX509, parsed by crypto::ParseDerCert.
inline Cert Issue(const CertSpec& spec, const PublicKey& subject_key, const Cert* issuer,
                  const PrivateKey& issuer_key) {
  auto x = IssueX509(spec, subject_key, issuer, issuer_key);
  auto cert = ParseDerCert(ToDer(x.get()), "a test certificate");
  if (!cert) ADD_FAILURE() << cert.error().message();
  return *cert;
}

inline Crl IssueCrl(const Cert& issuer, const PrivateKey& issuer_key, int64_t this_update,
                    int64_t next_update, const std::vector<long>& revoked) {
  ossl::Ptr<X509> issuer_x = ToX509(issuer);
  X509_CRL* crl = X509_CRL_new();
  X509_CRL_set_version(crl, 1);
  X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer_x.get()));
  ASN1_TIME* t = ASN1_TIME_new();
  SetTime(t, this_update);
  X509_CRL_set1_lastUpdate(crl, t);
  SetTime(t, next_update);
  X509_CRL_set1_nextUpdate(crl, t);
  for (long serial : revoked) {
    X509_REVOKED* r = X509_REVOKED_new();
    ASN1_INTEGER* s = ASN1_INTEGER_new();
    ASN1_INTEGER_set(s, serial);
    X509_REVOKED_set_serialNumber(r, s);
    SetTime(t, this_update);
    X509_REVOKED_set_revocationDate(r, t);
    X509_CRL_add0_revoked(crl, r);
    ASN1_INTEGER_free(s);
  }
  ASN1_TIME_free(t);
  X509_CRL_sort(crl);
  X509_CRL_sign(crl, issuer_key.get(), EVP_sha256());
  unsigned char* der = nullptr;
  int len = i2d_X509_CRL(crl, &der);
  X509_CRL_free(crl);
  auto out = ParseCrl(std::span<const uint8_t>(der, static_cast<size_t>(len)), "a test CRL");
  OPENSSL_free(der);
  if (!out) ADD_FAILURE() << out.error().message();
  return std::move(*out);
}

// root -> intermediate CA -> leaf, EC P-256 throughout.
struct TestPki {
  PrivateKey root_key = *GenerateEcKey(EcCurve::kP256);
  PrivateKey ca_key = *GenerateEcKey(EcCurve::kP256);
  PrivateKey leaf_key = *GenerateEcKey(EcCurve::kP256);
  Cert root = Issue({"Test Root CA", 1, 1600000000, 2000000000, true}, *root_key.PublicKey(),
                    nullptr, root_key);
  Cert ca = Issue({"Test Platform CA", 2, 1600000000, 1950000000, true}, *ca_key.PublicKey(), &root,
                  root_key);
  Cert leaf = Issue({"Test PCK Certificate", 3, 1650000000, 1800000000, false},
                    *leaf_key.PublicKey(), &ca, ca_key);
  Crl root_crl = IssueCrl(root, root_key, 1690000000, 1710000000, {});
  Crl ca_crl = IssueCrl(ca, ca_key, 1690000000, 1710000000, {});
};

}  // namespace kmra::crypto::testing
