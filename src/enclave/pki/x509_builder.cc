#include "enclave/pki/x509_builder.h"

#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

namespace kmra::enclave::pki {

namespace {

Result<ossl::Ptr<X509_NAME>> MakeName(const Name& entries) {
  auto name = ossl::Wrap(X509_NAME_new());
  for (const auto& [field, value] : entries) {
    const int type = field == "C" ? V_ASN1_PRINTABLESTRING : V_ASN1_UTF8STRING;
    if (X509_NAME_add_entry_by_txt(name.get(), field.c_str(), type,
                                   reinterpret_cast<const unsigned char*>(value.c_str()),
                                   static_cast<int>(value.size()), -1, 0) != 1) {
      return ossl::Fail(Code::kInvalidArgument,
                        std::string("bad name entry ").append(field).append("=").append(value));
    }
  }
  return name;
}

Status AddExt(X509* cert, X509V3_CTX* ctx, int nid, const std::string& value) {
  auto ext = ossl::Wrap(X509V3_EXT_conf_nid(nullptr, ctx, nid, value.c_str()));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
    return ossl::Fail(Code::kInternal, std::string("cannot add extension ") + OBJ_nid2sn(nid) +
                                           " = " + value);
  }
  return OkStatus();
}

Status SetTime(ASN1_TIME* t, int64_t unix_time) {
  if (ASN1_TIME_set(t, static_cast<time_t>(unix_time)) == nullptr) {
    return ossl::Fail(Code::kInvalidArgument, "time out of range for X.509");
  }
  return OkStatus();
}

}  // namespace

Result<ossl::Ptr<X509>> IssueCertificate(const CertSpec& spec) {
  auto cert = ossl::Wrap(X509_new());
  if (!cert || X509_set_version(cert.get(), 2) != 1) {
    return ossl::Fail(Code::kInternal, "X509_new failed");
  }
  unsigned char serial[20];
  if (RAND_bytes(serial, sizeof(serial)) != 1) return ossl::Fail(Code::kInternal, "RAND_bytes");
  serial[0] = static_cast<unsigned char>((serial[0] & 0x7f) | 0x01);  // positive, 20 bytes
  auto bn = ossl::Wrap(BN_bin2bn(serial, sizeof(serial), nullptr));
  if (!bn || BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get())) == nullptr) {
    return ossl::Fail(Code::kInternal, "cannot set the serial number");
  }
  KMRA_ASSIGN_OR_RETURN(auto subject, MakeName(spec.subject));
  X509_set_subject_name(cert.get(), subject.get());
  X509_set_issuer_name(cert.get(),
                       spec.issuer ? X509_get_subject_name(spec.issuer) : subject.get());
  KMRA_TRY(SetTime(X509_getm_notBefore(cert.get()), spec.not_before));
  KMRA_TRY(SetTime(X509_getm_notAfter(cert.get()), spec.not_after));
  if (X509_set_pubkey(cert.get(), spec.subject_key) != 1) {
    return ossl::Fail(Code::kInternal, "cannot set the public key");
  }

  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, spec.issuer ? spec.issuer : cert.get(), cert.get(), nullptr, nullptr, 0);
  if (spec.authority_key_id) {
    // Self-signed roots carry an AKI too in Intel's profile; it needs the SKI set first.
    if (!spec.issuer) {
      KMRA_TRY(AddExt(cert.get(), &ctx, NID_subject_key_identifier, "hash"));
      KMRA_TRY(AddExt(cert.get(), &ctx, NID_authority_key_identifier, "keyid:always"));
      X509_EXTENSION_free(X509_delete_ext(cert.get(), 0));
    } else {
      KMRA_TRY(AddExt(cert.get(), &ctx, NID_authority_key_identifier, "keyid:always"));
    }
  }
  if (!spec.crl_distribution_point.empty()) {
    KMRA_TRY(AddExt(cert.get(), &ctx, NID_crl_distribution_points,
                    "URI:" + spec.crl_distribution_point));
  }
  KMRA_TRY(AddExt(cert.get(), &ctx, NID_subject_key_identifier, "hash"));
  if (!spec.key_usage.empty()) {
    KMRA_TRY(AddExt(cert.get(), &ctx, NID_key_usage, "critical," + spec.key_usage));
  }
  std::string bc = spec.ca ? "critical,CA:TRUE" : "critical,CA:FALSE";
  if (spec.ca && spec.path_len >= 0) bc += ",pathlen:" + std::to_string(spec.path_len);
  KMRA_TRY(AddExt(cert.get(), &ctx, NID_basic_constraints, bc));
  if (!spec.ext_key_usage.empty()) {
    KMRA_TRY(AddExt(cert.get(), &ctx, NID_ext_key_usage, spec.ext_key_usage));
  }
  if (!spec.san.empty()) {
    std::string san;
    for (const auto& s : spec.san) san += (san.empty() ? "" : ",") + s;
    KMRA_TRY(AddExt(cert.get(), &ctx, NID_subject_alt_name, san));
  }
  if (!spec.sgx_extension.empty()) {
    auto obj = ossl::Wrap(OBJ_txt2obj("1.2.840.113741.1.13.1", 1));
    auto value = ossl::Wrap(ASN1_OCTET_STRING_new());
    ASN1_OCTET_STRING_set(value.get(), spec.sgx_extension.data(),
                          static_cast<int>(spec.sgx_extension.size()));
    auto ext = ossl::Wrap(X509_EXTENSION_create_by_OBJ(nullptr, obj.get(), 0, value.get()));
    if (!ext || X509_add_ext(cert.get(), ext.get(), -1) != 1) {
      return ossl::Fail(Code::kInternal, "cannot add the SGX extension");
    }
  }
  if (X509_sign(cert.get(), spec.issuer_key, EVP_sha256()) <= 0) {
    return ossl::Fail(Code::kInternal, "cannot sign the certificate");
  }
  return cert;
}

Result<ossl::Ptr<X509_CRL>> IssueCrl(const CrlSpec& spec) {
  auto crl = ossl::Wrap(X509_CRL_new());
  if (!crl || X509_CRL_set_version(crl.get(), 1) != 1 ||
      X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(spec.issuer)) != 1) {
    return ossl::Fail(Code::kInternal, "cannot start a CRL");
  }
  auto this_update = ossl::Wrap(ASN1_TIME_set(nullptr, static_cast<time_t>(spec.this_update)));
  auto next_update = ossl::Wrap(ASN1_TIME_set(nullptr, static_cast<time_t>(spec.next_update)));
  if (!this_update || !next_update || X509_CRL_set1_lastUpdate(crl.get(), this_update.get()) != 1 ||
      X509_CRL_set1_nextUpdate(crl.get(), next_update.get()) != 1) {
    return ossl::Fail(Code::kInvalidArgument, "CRL times out of range");
  }
  for (X509* cert : spec.revoked) {
    X509_REVOKED* r = X509_REVOKED_new();
    if (r == nullptr || X509_REVOKED_set_serialNumber(r, X509_get_serialNumber(cert)) != 1 ||
        X509_REVOKED_set_revocationDate(r, this_update.get()) != 1 ||
        X509_CRL_add0_revoked(crl.get(), r) != 1) {
      X509_REVOKED_free(r);
      return ossl::Fail(Code::kInternal, "cannot add a revoked serial");
    }
  }
  auto number = ossl::Wrap(ASN1_INTEGER_new());
  ASN1_INTEGER_set(number.get(), spec.crl_number);
  if (X509_CRL_add1_ext_i2d(crl.get(), NID_crl_number, number.get(), 0, 0) != 1) {
    return ossl::Fail(Code::kInternal, "cannot add the CRL number");
  }
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, spec.issuer, nullptr, nullptr, crl.get(), 0);
  auto aki = ossl::Wrap(
      X509V3_EXT_conf_nid(nullptr, &ctx, NID_authority_key_identifier, "keyid:always"));
  if (!aki || X509_CRL_add_ext(crl.get(), aki.get(), -1) != 1) {
    return ossl::Fail(Code::kInternal, "cannot add the CRL authority key identifier");
  }
  X509_CRL_sort(crl.get());
  if (X509_CRL_sign(crl.get(), spec.issuer_key, EVP_sha256()) <= 0) {
    return ossl::Fail(Code::kInternal, "cannot sign the CRL");
  }
  return crl;
}

namespace {
template <class F>
std::string BioString(F write) {
  auto bio = ossl::Wrap(BIO_new(BIO_s_mem()));
  write(bio.get());
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}
}  // namespace

std::string CertPem(X509* cert) {
  return BioString([cert](BIO* b) { PEM_write_bio_X509(b, cert); });
}

std::string CrlPem(X509_CRL* crl) {
  return BioString([crl](BIO* b) { PEM_write_bio_X509_CRL(b, crl); });
}

std::vector<std::uint8_t> CrlDer(X509_CRL* crl) {
  unsigned char* der = nullptr;
  int len = i2d_X509_CRL(crl, &der);
  if (len <= 0) return {};
  std::vector<std::uint8_t> out(der, der + len);
  OPENSSL_free(der);
  return out;
}

SecretBytes PrivateKeyPem(EVP_PKEY* key) {
  auto bio = ossl::Wrap(BIO_new(BIO_s_secmem()));
  PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return SecretBytes(std::span<const std::uint8_t>(reinterpret_cast<std::uint8_t*>(data),
                                                   static_cast<std::size_t>(len)));
}

}  // namespace kmra::enclave::pki
