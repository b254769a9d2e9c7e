// The CTK quote mechanism end to end: the token binds a session RSA key to a DCAP quote from the
// real simulated platform, `kmra quote verify` accepts the quote with the simulated collateral, the
// report data is SHA-256(exponent || modulus || nonce) || 32 zero bytes, MRENCLAVE is the module
// file's SHA-256, and the key gives no second quote.
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "integration/harness.h"
#include "integration/token_env.h"
#include "kmra/pkcs11_vendor.h"
#include "p11/module.h"
#include "p11/wrap.h"

namespace kmra::integration {
namespace {

std::string Hex(std::span<const uint8_t> b) {
  static const char* k = "0123456789abcdef";
  std::string s;
  for (uint8_t x : b) s += {k[x >> 4], k[x & 15]};
  return s;
}

std::string Sha256Hex(std::span<const uint8_t> b) {
  uint8_t out[32];
  unsigned int len = 0;
  EVP_Digest(b.data(), b.size(), out, &len, EVP_sha256(), nullptr);
  return Hex({out, 32});
}

TEST(TokenQuote, KmraQuoteVerifyAcceptsTheBoundKey) {
  TempDir dir;
  TokenEnv env(dir);
  ASSERT_TRUE(env.ok()) << env.error();
  setenv("KMRA_TOKEN_CONF", env.conf().c_str(), 1);
  auto module = p11::Module::Load(env.module());
  ASSERT_TRUE(module) << module.error().ToString();
  auto slot = (*module)->FindSlotByTokenLabel(kTokenLabel);
  ASSERT_TRUE(slot);
  auto session = p11::Session::Open(*module, *slot, true);
  ASSERT_TRUE(session);
  ASSERT_TRUE(session->Login(SecretBytes::FromString(kTokenPin)));
  auto cust = p11::GenerateSessionRsaKeyPair(*session, 3072);
  ASSERT_TRUE(cust) << cust.error().ToString();

  CK_ECDSA_QUOTE_RSA_PUBLIC_KEY_PARAMS params{};
  params.qlPolicy = SGX_QL_PERSISTENT;
  for (int i = 0; i < 32; ++i) params.nonce[i] = static_cast<CK_BYTE>(0xa0 + i);
  std::span<const uint8_t> param_bytes(reinterpret_cast<const uint8_t*>(&params), sizeof params);
  auto out = p11::WrapWithMechanism(*session, CKM_EXPORT_ECDSA_QUOTE_RSA_PUBLIC_KEY, param_bytes,
                                    CK_INVALID_HANDLE, cust->public_key);
  ASSERT_TRUE(out) << out.error().ToString();

  CK_RSA_PUBLIC_KEY_PARAMS header;
  ASSERT_GT(out->size(), sizeof header);
  std::memcpy(&header, out->data(), sizeof header);
  ASSERT_EQ(header.ulModulusLen, 384u);
  const size_t key_end = sizeof header + header.ulExponentLen + header.ulModulusLen;
  ASSERT_GT(out->size(), key_end);
  std::vector<uint8_t> bound(out->begin() + sizeof header, out->begin() + key_end);
  auto pub = p11::ReadRsaPublicKey(*session, cust->public_key);
  ASSERT_TRUE(pub);
  std::vector<uint8_t> expect_key = pub->exponent;
  expect_key.insert(expect_key.end(), pub->modulus.begin(), pub->modulus.end());
  EXPECT_EQ(bound, expect_key) << "exponent || modulus of the output are not the key's";
  bound.insert(bound.end(), params.nonce, params.nonce + 32);
  ASSERT_TRUE(WriteFile(dir / "quote.bin",
                        std::string(out->begin() + key_end, out->end())));

  std::string collateral;
  for (const auto& e : std::filesystem::directory_iterator(dir / "pki/collateral")) {
    collateral = e.path().string();
  }
  // The simulated root must be named explicitly: the default trust anchor is Intel's.
  RunResult r = RunCmd({env.kmra(), "quote", "verify", "--collateral", collateral, "--root",
                        dir / "pki/sgx/root.pem", "--format",
                        "json", dir / "quote.bin"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("\"verified\": true"), std::string::npos) << r.output;
  const std::string report_data = Sha256Hex(bound) + std::string(64, '0');
  EXPECT_NE(r.output.find("\"report_data\": \"" + report_data + "\""), std::string::npos)
      << "expected report data " << report_data << "\n" << r.output;
  const std::string module_bytes = ReadFile(env.module());
  const std::string mrenclave = Sha256Hex(
      {reinterpret_cast<const uint8_t*>(module_bytes.data()), module_bytes.size()});
  EXPECT_NE(r.output.find("\"mrenclave\": \"" + mrenclave + "\""), std::string::npos) << r.output;

  // One quote per key.
  auto again = p11::WrapWithMechanism(*session, CKM_EXPORT_ECDSA_QUOTE_RSA_PUBLIC_KEY, param_bytes,
                                      CK_INVALID_HANDLE, cust->public_key);
  ASSERT_FALSE(again);
  EXPECT_NE(again.error().message().find("CKR_KEY_FUNCTION_NOT_PERMITTED"), std::string::npos)
      << again.error().message();
}

}  // namespace
}  // namespace kmra::integration
