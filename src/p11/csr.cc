#include "p11/csr.h"

#include <fmt/format.h>
#include <openssl/pem.h>

#include <cctype>

#include "crypto/ecdsa.h"
#include "p11/internal/pkey.h"

namespace kmra::p11 {
namespace {

// Splits "CN=a,O=b" or "/CN=a/O=b" into (field, value) pairs; "\," escapes a separator.
Result<std::vector<std::pair<std::string, std::string>>> ParseSubject(std::string_view text) {
  char sep = ',';
  if (!text.empty() && text.front() == '/') {
    sep = '/';
    text.remove_prefix(1);
  }
  std::vector<std::string> parts(1);
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 1 < text.size()) {
      parts.back().push_back(text[++i]);
    } else if (text[i] == sep) {
      parts.emplace_back();
    } else {
      parts.back().push_back(text[i]);
    }
  }
  std::vector<std::pair<std::string, std::string>> out;
  bool has_cn = false;
  for (auto& part : parts) {
    size_t start = part.find_first_not_of(' ');
    if (start == std::string::npos) continue;
    part = part.substr(start);
    size_t eq = part.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == part.size()) {
      return InvalidArgument(fmt::format("subject part '{}' is not FIELD=value (e.g. CN=www.example.com)", part));
    }
    std::string field = part.substr(0, eq);
    while (!field.empty() && field.back() == ' ') field.pop_back();
    if (OBJ_txt2nid(field.c_str()) == NID_undef) {
      return InvalidArgument(fmt::format("unknown subject field '{}' (use CN, O, OU, L, ST, C, ...)", field));
    }
    if (field == "CN" || field == "commonName") has_cn = true;
    out.emplace_back(field, part.substr(eq + 1));
  }
  if (!has_cn) return InvalidArgument(fmt::format("subject '{}' has no CN", text));
  return out;
}

bool ValidDnsName(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '*')) return false;
  }
  return true;
}

Status AddSans(X509_REQ* req, const CsrRequest& request) {
  if (request.dns_names.empty() && request.ip_addresses.empty()) return OkStatus();
  auto* names = sk_GENERAL_NAME_new_null();
  if (names == nullptr) return ossl::Fail(Code::kInternal, "sk_GENERAL_NAME_new_null");
  struct Free {
    void operator()(GENERAL_NAMES* n) const { GENERAL_NAMES_free(n); }
  };
  std::unique_ptr<GENERAL_NAMES, Free> owner(names);
  for (const auto& dns : request.dns_names) {
    if (!ValidDnsName(dns)) return InvalidArgument(fmt::format("'{}' is not a valid DNS name", dns));
    GENERAL_NAME* gn = GENERAL_NAME_new();
    ASN1_IA5STRING* ia5 = ASN1_IA5STRING_new();
    if (gn == nullptr || ia5 == nullptr || ASN1_STRING_set(ia5, dns.data(), static_cast<int>(dns.size())) != 1) {
      GENERAL_NAME_free(gn);
      ASN1_IA5STRING_free(ia5);
      return ossl::Fail(Code::kInternal, "cannot build a DNS name");
    }
    GENERAL_NAME_set0_value(gn, GEN_DNS, ia5);
    sk_GENERAL_NAME_push(names, gn);
  }
  for (const auto& ip : request.ip_addresses) {
    auto addr = ossl::Wrap(a2i_IPADDRESS(ip.c_str()));
    if (!addr) {
      ERR_clear_error();
      return InvalidArgument(fmt::format("'{}' is not an IPv4 or IPv6 address", ip));
    }
    GENERAL_NAME* gn = GENERAL_NAME_new();
    if (gn == nullptr) return ossl::Fail(Code::kInternal, "GENERAL_NAME_new");
    GENERAL_NAME_set0_value(gn, GEN_IPADD, addr.release());
    sk_GENERAL_NAME_push(names, gn);
  }
  auto* exts = sk_X509_EXTENSION_new_null();
  X509_EXTENSION* ext = X509V3_EXT_i2d(NID_subject_alt_name, 0, names);
  bool ok = exts != nullptr && ext != nullptr && sk_X509_EXTENSION_push(exts, ext) > 0 &&
            X509_REQ_add_extensions(req, exts) == 1;
  sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  if (!ok) return ossl::Fail(Code::kInternal, "cannot add the subjectAltName extension");
  return OkStatus();
}

// DER ECDSA-Sig-Value from the raw r||s that CKM_ECDSA returns (PKCS#11 2.40 section 2.3.1).
}  // namespace

Result<std::string> SignCsr(Session& session, const KeyObjects& key, const CsrRequest& request) {
  KMRA_ASSIGN_OR_RETURN(auto subject_parts, ParseSubject(request.subject));
  KMRA_ASSIGN_OR_RETURN(auto pub, PublicKey(session, key));

  auto req = ossl::Wrap(X509_REQ_new());
  auto name = ossl::Wrap(X509_NAME_new());
  if (!req || !name || X509_REQ_set_version(req.get(), 0) != 1) {
    return ossl::Fail(Code::kInternal, "X509_REQ_new");
  }
  for (const auto& [field, value] : subject_parts) {
    if (X509_NAME_add_entry_by_txt(name.get(), field.c_str(), MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(value.data()),
                                   static_cast<int>(value.size()), -1, 0) != 1) {
      return ossl::Fail(Code::kInvalidArgument, fmt::format("subject field {}={} is not valid", field, value));
    }
  }
  if (X509_REQ_set_subject_name(req.get(), name.get()) != 1 || X509_REQ_set_pubkey(req.get(), pub.get()) != 1) {
    return ossl::Fail(Code::kInternal, "cannot set the CSR subject or key");
  }
  KMRA_TRY(AddSans(req.get(), request));

  // RFC 2986 section 4.2: the signature covers the DER of CertificationRequestInfo.
  int tbs_len = i2d_re_X509_REQ_tbs(req.get(), nullptr);
  if (tbs_len <= 0) return ossl::Fail(Code::kInternal, "i2d_re_X509_REQ_tbs");
  std::vector<uint8_t> tbs(static_cast<size_t>(tbs_len));
  uint8_t* p = tbs.data();
  i2d_re_X509_REQ_tbs(req.get(), &p);

  std::vector<uint8_t> signature;
  int sig_nid = 0;
  if (key.algorithm == KeyAlgorithm::kRsa) {
    CK_MECHANISM mech{CKM_SHA256_RSA_PKCS, nullptr, 0};
    KMRA_ASSIGN_OR_RETURN(signature, session.Sign(mech, key.private_key, tbs));
    sig_nid = NID_sha256WithRSAEncryption;
  } else {
    // Hash here and sign the digest with CKM_ECDSA: SoftHSM2 2.6.1 has no CKM_ECDSA_SHA256.
    bool p384 = EVP_PKEY_get_bits(pub.get()) > 256;
    const EVP_MD* md = p384 ? EVP_sha384() : EVP_sha256();
    uint8_t digest[EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;
    if (EVP_Digest(tbs.data(), tbs.size(), digest, &digest_len, md, nullptr) != 1) {
      return ossl::Fail(Code::kInternal, "EVP_Digest");
    }
    CK_MECHANISM mech{CKM_ECDSA, nullptr, 0};
    KMRA_ASSIGN_OR_RETURN(auto raw, session.Sign(mech, key.private_key, {digest, digest_len}));
    KMRA_ASSIGN_OR_RETURN(signature, crypto::EcdsaRawToDer(raw));
    sig_nid = p384 ? NID_ecdsa_with_SHA384 : NID_ecdsa_with_SHA256;
  }

  X509_ALGOR* alg = X509_ALGOR_new();
  if (alg == nullptr) return ossl::Fail(Code::kInternal, "X509_ALGOR_new");
  // RFC 4055 / RFC 5758: NULL parameters for sha256WithRSAEncryption, absent for ECDSA.
  X509_ALGOR_set0(alg, OBJ_nid2obj(sig_nid), key.algorithm == KeyAlgorithm::kRsa ? V_ASN1_NULL : V_ASN1_UNDEF,
                  nullptr);
  int set_ok = X509_REQ_set1_signature_algo(req.get(), alg);
  X509_ALGOR_free(alg);
  if (set_ok != 1) return ossl::Fail(Code::kInternal, "X509_REQ_set1_signature_algo");
  ASN1_BIT_STRING* bits = ASN1_BIT_STRING_new();
  if (bits == nullptr || ASN1_BIT_STRING_set(bits, signature.data(), static_cast<int>(signature.size())) != 1) {
    ASN1_BIT_STRING_free(bits);
    return ossl::Fail(Code::kInternal, "ASN1_BIT_STRING_set");
  }
  bits->flags &= ~(ASN1_STRING_FLAG_BITS_LEFT | 0x07);
  bits->flags |= ASN1_STRING_FLAG_BITS_LEFT;
  X509_REQ_set0_signature(req.get(), bits);

  // Check our own work: a CSR that does not verify is worse than an error.
  if (X509_REQ_verify(req.get(), pub.get()) != 1) {
    return ossl::Fail(Code::kInternal, "the HSM's signature over the CSR does not verify with the key's "
                                       "public key");
  }
  auto bio = ossl::Wrap(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509_REQ(bio.get(), req.get()) != 1) {
    return ossl::Fail(Code::kInternal, "PEM_write_bio_X509_REQ");
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

}  // namespace kmra::p11
