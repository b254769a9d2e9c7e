// X.509 certificate, PEM chain and CRL parsing on arbitrary bytes, then every accessor a verifier
// uses on what was accepted.
#include <cstdint>
#include <string_view>

#include "crypto/x509.h"

namespace {

void Exercise(const kmra::crypto::Certificate& c) {
  (void)c.Subject();
  (void)c.Issuer();
  (void)c.SubjectCommonName();
  (void)c.Serial();
  (void)c.NotBefore();
  (void)c.NotAfter();
  (void)c.IsCa();
  (void)c.IsSelfSigned();
  (void)c.Extension("1.2.840.113741.1.13.1");
  if (auto k = c.PublicKey()) (void)c.VerifySignedBy(*k);
  (void)c.ToDer();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> bytes(data, size);
  if (auto c = kmra::crypto::Certificate::Parse(bytes)) Exercise(*c);
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto chain = kmra::crypto::Certificate::ParsePemChain(text)) {
    for (const auto& c : *chain) Exercise(c);
  }
  if (auto crl = kmra::crypto::Crl::Parse(bytes)) {
    (void)crl->Issuer();
    (void)crl->ThisUpdate();
    (void)crl->NextUpdate();
    (void)crl->RevokedSerials();
    (void)crl->ToDer();
  }
  ERR_clear_error();
  return 0;
}
