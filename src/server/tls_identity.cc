#include "server/tls_identity.h"

#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <cstdint>

#include "crypto/ossl.h"

namespace kmra::server {
namespace {

// Bits recorded per connection (SSL ex_data) by the verify callback: every error of the chain, not
// only the last one, so a certificate of a foreign CA that has also expired is reported as foreign.
constexpr std::uintptr_t kUntrusted = 1, kExpired = 2, kNotYetValid = 4;

int ProblemIndex() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

// The chain is checked by OpenSSL as usual; accepting here only defers the verdict to the handler,
// which refuses with a readable error and an audit record.
int RecordAndDefer(int preverified, X509_STORE_CTX* ctx) {
  if (preverified) return 1;
  auto* ssl =
      static_cast<SSL*>(X509_STORE_CTX_get_ex_data(ctx, SSL_get_ex_data_X509_STORE_CTX_idx()));
  if (!ssl) return 1;
  auto bits = reinterpret_cast<std::uintptr_t>(SSL_get_ex_data(ssl, ProblemIndex()));
  switch (X509_STORE_CTX_get_error(ctx)) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
      bits |= kExpired;
      break;
    case X509_V_ERR_CERT_NOT_YET_VALID:
      bits |= kNotYetValid;
      break;
    default:
      bits |= kUntrusted;
      break;
  }
  // NOLINTNEXTLINE(performance-no-int-to-ptr): the slot holds a bit set, never dereferenced
  SSL_set_ex_data(ssl, ProblemIndex(), reinterpret_cast<void*>(bits));
  return 1;
}

std::string NameEntry(X509_NAME* name, int nid) {
  int index = X509_NAME_get_index_by_NID(name, nid, -1);
  if (index < 0) return {};
  ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index));
  unsigned char* utf8 = nullptr;
  int len = ASN1_STRING_to_UTF8(&utf8, data);
  if (len < 0) return {};
  std::string out(reinterpret_cast<char*>(utf8), static_cast<size_t>(len));
  OPENSSL_free(utf8);
  return out;
}

std::string OneLine(X509_NAME* name) {
  auto bio = ossl::Wrap(BIO_new(BIO_s_mem()));
  if (!bio || X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253) < 0) return {};
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

std::string TimeText(const ASN1_TIME* time) {
  auto bio = ossl::Wrap(BIO_new(BIO_s_mem()));
  if (!bio || ASN1_TIME_print(bio.get(), time) != 1) return {};
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

}  // namespace

Status InstallClientVerify(SSL_CTX* ctx) {
  if (ProblemIndex() < 0) return ossl::Fail(Code::kInternal, "SSL_get_ex_new_index");
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, RecordAndDefer);
  return OkStatus();
}

ClientIdentity IdentityOf(SSL* ssl) {
  ClientIdentity id;
  auto cert = ossl::Wrap(SSL_get1_peer_certificate(ssl));
  if (!cert) return id;
  id.presented = true;
  long verify = SSL_get_verify_result(ssl);
  id.verified = verify == X509_V_OK;
  if (!id.verified) {
    id.verify_error = X509_verify_cert_error_string(verify);
    auto bits = reinterpret_cast<std::uintptr_t>(SSL_get_ex_data(ssl, ProblemIndex()));
    // A foreign chain is reported as foreign even when it has also expired.
    const bool foreign = (bits & kUntrusted) != 0;
    if (!foreign && (bits & kExpired) != 0) {
      id.problem = ClientIdentity::Problem::kExpired;
      id.verify_error =
          "certificate has expired (notAfter " + TimeText(X509_get0_notAfter(cert.get())) + ")";
    } else if (!foreign && (bits & kNotYetValid) != 0) {
      id.problem = ClientIdentity::Problem::kNotYetValid;
      id.verify_error = "certificate is not yet valid (notBefore " +
                        TimeText(X509_get0_notBefore(cert.get())) + ")";
    } else {
      id.problem = ClientIdentity::Problem::kUntrusted;
    }
  }
  X509_NAME* subject = X509_get_subject_name(cert.get());
  id.organizational_unit = NameEntry(subject, NID_organizationalUnitName);
  id.common_name = NameEntry(subject, NID_commonName);
  id.subject = OneLine(subject);
  int len = i2d_X509(cert.get(), nullptr);
  if (len > 0) {
    id.certificate_der.resize(static_cast<size_t>(len));
    unsigned char* p = id.certificate_der.data();
    i2d_X509(cert.get(), &p);
  }
  return id;
}

}  // namespace kmra::server
