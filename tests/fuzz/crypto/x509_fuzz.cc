// The DER-direct certificate parser (crypto/x509.h) against OpenSSL's d2i_X509 on arbitrary bytes:
// whatever we accept, OpenSSL accepts too and reads the same fields from; whatever OpenSSL refuses,
// we refuse. (We refuse more: other algorithms and keys, v1/v2, unique IDs, duplicate extensions,
// non-RFC 5280 times, negative serials, off-curve points.) Then the PEM chain and CRL parsers and
// every check the verifier runs on what was accepted.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "../../unit/crypto/x509_reference.h"
#include "crypto/crl.h"
#include "crypto/x509.h"

namespace {

using kmra::crypto::Cert;

void Fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "x509 differential: %s %s\n", what, detail.c_str());
  std::abort();
}

void Exercise(const Cert& c) {
  (void)kmra::crypto::DescribeCert(c);
  (void)kmra::crypto::SignedBy(c, *c.key);
  (void)kmra::crypto::RootFirstProblem({c, c}, "chain");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> bytes(data, size);
  auto ours = kmra::crypto::ParseDerCert(bytes, "input");
  auto theirs = kmra::crypto::testing::OpenSslCert(bytes);
  if (ours) {
    if (!theirs) Fail("we accept what OpenSSL refuses", "");
    const std::string diff = kmra::crypto::testing::DifferenceFromOpenSsl(*ours, theirs.get());
    if (!diff.empty()) Fail("fields differ:", diff);
    Exercise(*ours);
  }
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto chain = kmra::crypto::ParsePemChain(text, "chain")) {
    for (const auto& c : *chain) Exercise(c);
  }
  if (auto crl = kmra::crypto::ParseCrl(bytes, "crl")) {
    (void)kmra::crypto::CrlProfileProblem(*crl);
    if (ours) {
      (void)kmra::crypto::Revoked(*crl, *ours);
      (void)kmra::crypto::CrlSignedBy(*crl, *ours->key);
    }
  }
  ERR_clear_error();
  return 0;
}
