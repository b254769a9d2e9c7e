#include "enclave/pki/tls_pki.h"

#include <arpa/inet.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "base/file.h"
#include "enclave/pki/out_dir.h"
#include "enclave/internal/p256.h"
#include "enclave/pki/x509_builder.h"

namespace kmra::enclave::pki {

namespace fs = std::filesystem;

namespace {

constexpr int64_t kDay = 86400;

bool IsIpAddress(const std::string& s) {
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

Status WriteLeaf(const fs::path& tls, const std::string& name, CertSpec spec) {
  KMRA_ASSIGN_OR_RETURN(auto key, internal::GenerateP256());
  spec.subject_key = key.get();
  KMRA_ASSIGN_OR_RETURN(auto cert, IssueCertificate(spec));
  KMRA_TRY(WriteNewFile(tls / (name + ".key"), PrivateKeyPem(key.get()).Reveal(), 0600));
  return WriteNewFile(tls / (name + ".pem"), CertPem(cert.get()), 0644);
}

}  // namespace

Status WriteTlsPki(const fs::path& dir, const TlsPkiOptions& options) {
  if (options.client_id.empty()) return InvalidArgument("the client identity (OU) must not be empty");
  const fs::path tls = dir / "tls";
  KMRA_TRY(CreateDirectories(tls, 0700));
  const int64_t start = options.now - kDay;

  KMRA_ASSIGN_OR_RETURN(auto ca_key, internal::GenerateP256());
  CertSpec ca_spec;
  ca_spec.subject = {{"CN", "OpenKMRA TLS CA"}, {"O", "OpenKMRA"}};
  ca_spec.subject_key = ca_key.get();
  ca_spec.issuer_key = ca_key.get();
  ca_spec.not_before = start;
  ca_spec.not_after = options.now + int64_t{10} * 365 * kDay;
  ca_spec.ca = true;
  ca_spec.path_len = 0;
  ca_spec.key_usage = "keyCertSign,cRLSign";
  KMRA_ASSIGN_OR_RETURN(auto ca, IssueCertificate(ca_spec));
  KMRA_TRY(WriteNewFile(tls / "ca.key", PrivateKeyPem(ca_key.get()).Reveal(), 0600));
  KMRA_TRY(WriteNewFile(tls / "ca.pem", CertPem(ca.get()), 0644));

  CertSpec leaf;
  leaf.issuer = ca.get();
  leaf.issuer_key = ca_key.get();
  leaf.not_before = start;
  leaf.not_after = options.now + int64_t{2} * 365 * kDay;
  leaf.key_usage = "digitalSignature,keyAgreement";

  CertSpec server = leaf;
  server.subject = {{"CN", "localhost"}, {"O", "OpenKMRA"}, {"OU", "kmra_server"}};
  server.ext_key_usage = "serverAuth";
  server.san = {"DNS:localhost", "IP:127.0.0.1"};
  for (const auto& s : options.extra_sans) {
    if (s.empty() || s.find_first_of(",\n") != std::string::npos) {
      return InvalidArgument("--san \"" + s + "\" is not a host name or IP address");
    }
    server.san.push_back((IsIpAddress(s) ? "IP:" : "DNS:") + s);
  }
  KMRA_TRY(WriteLeaf(tls, "server", server));

  CertSpec client = leaf;
  client.subject = {{"CN", "OpenKMRA loadkey client"}, {"O", "OpenKMRA"}, {"OU", options.client_id}};
  client.ext_key_usage = "clientAuth";
  KMRA_TRY(WriteLeaf(tls, "client", client));

  CertSpec admin = leaf;
  admin.subject = {{"CN", "OpenKMRA admin"}, {"O", "OpenKMRA"}, {"OU", kAdminOu}};
  admin.ext_key_usage = "clientAuth";
  return WriteLeaf(tls, "admin", admin);
}

Result<std::string> SignCsr(const fs::path& dir, std::string_view csr_pem, int days, int64_t now) {
  if (days <= 0 || days > 3650) return InvalidArgument("--days must be between 1 and 3650");
  auto bio = ossl::Wrap(BIO_new_mem_buf(csr_pem.data(), static_cast<int>(csr_pem.size())));
  auto req = ossl::Wrap(PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr));
  if (!req) {
    return ossl::Fail(Code::kInvalidArgument,
                      "the CSR is not a PEM certificate request (-----BEGIN CERTIFICATE REQUEST-----)");
  }
  auto req_key = ossl::Wrap(X509_REQ_get_pubkey(req.get()));
  if (!req_key || X509_REQ_verify(req.get(), req_key.get()) != 1) {
    return ossl::Fail(Code::kInvalidArgument,
                      "the CSR's signature does not verify with its own public key; it was "
                      "altered or not signed by the key it names");
  }
  const fs::path tls = dir / "tls";
  KMRA_ASSIGN_OR_RETURN(auto ca_pem, ReadFileText(tls / "ca.pem"));
  KMRA_ASSIGN_OR_RETURN(auto ca_key_pem, ReadFileSecret(tls / "ca.key"));
  auto ca_bio = ossl::Wrap(BIO_new_mem_buf(ca_pem.data(), static_cast<int>(ca_pem.size())));
  auto ca = ossl::Wrap(PEM_read_bio_X509(ca_bio.get(), nullptr, nullptr, nullptr));
  auto key_bio = ossl::Wrap(
      BIO_new_mem_buf(ca_key_pem.Reveal().data(), static_cast<int>(ca_key_pem.size())));
  auto ca_key = ossl::Wrap(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
  if (!ca || !ca_key) {
    return ossl::Fail(Code::kFailedPrecondition,
                      (tls / "ca.pem").string() + " or ca.key is unreadable; run `kmra pki init`");
  }

  CertSpec spec;
  spec.subject_key = req_key.get();
  spec.issuer = ca.get();
  spec.issuer_key = ca_key.get();
  spec.not_before = now - 300;
  spec.not_after = now + int64_t{days} * kDay;
  spec.key_usage = "digitalSignature,keyAgreement";
  spec.ext_key_usage = "serverAuth,clientAuth";
  KMRA_ASSIGN_OR_RETURN(auto cert, IssueCertificate(spec));
  // Subject and SAN come from the request as they are.
  if (X509_set_subject_name(cert.get(), X509_REQ_get_subject_name(req.get())) != 1) {
    return ossl::Fail(Code::kInternal, "cannot copy the CSR subject");
  }
  auto exts = X509_REQ_get_extensions(req.get());
  for (int i = 0; exts != nullptr && i < sk_X509_EXTENSION_num(exts); ++i) {
    X509_EXTENSION* ext = sk_X509_EXTENSION_value(exts, i);
    if (OBJ_obj2nid(X509_EXTENSION_get_object(ext)) == NID_subject_alt_name) {
      X509_add_ext(cert.get(), ext, -1);
    }
  }
  sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  if (X509_sign(cert.get(), ca_key.get(), EVP_sha256()) <= 0) {
    return ossl::Fail(Code::kInternal, "cannot sign the certificate");
  }
  return CertPem(cert.get());
}

}  // namespace kmra::enclave::pki
