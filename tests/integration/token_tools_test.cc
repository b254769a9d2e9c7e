// The token under the real PKCS#11 tools: OpenSC's pkcs11-tool (its own test suites, key
// generation, signing, listing) and GnuTLS's p11tool, with the real simulated platform.
#include <gtest/gtest.h>

#include <openssl/bn.h>
#include <openssl/ecdsa.h>

#include <regex>

#include "integration/harness.h"
#include "integration/token_env.h"

namespace kmra::integration {
namespace {

class TokenTools : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    env_ = new TokenEnv(*dir_);
    if (!env_->ok()) return;
    // An RSA and an EC key, as pkcs11-tool --test wants to find them.
    keygen_rsa_ = env_->Tool({"--keypairgen", "--key-type", "rsa:2048", "--id", "01", "--label",
                              "rsa-key", "--usage-sign", "--usage-decrypt"});
    keygen_ec_ = env_->Tool({"--keypairgen", "--key-type", "EC:prime256v1", "--id", "02",
                             "--label", "ec-key", "--usage-sign"});
  }
  static void TearDownTestSuite() {
    delete env_;
    delete dir_;
  }
  void SetUp() override {
    ASSERT_TRUE(env_->ok()) << env_->error();
    ASSERT_EQ(keygen_rsa_.exit_code, 0) << keygen_rsa_.output;
    ASSERT_EQ(keygen_ec_.exit_code, 0) << keygen_ec_.output;
  }

  // Lines of pkcs11-tool output that report a failure.
  static std::string FailureLines(const std::string& out) {
    std::string bad;
    std::regex fail(R"((error|ERR|[Ff]ailed|FAILED|invalid|CKR_))");
    size_t pos = 0;
    while (pos < out.size()) {
      size_t end = out.find('\n', pos);
      if (end == std::string::npos) end = out.size();
      std::string line = out.substr(pos, end - pos);
      if (std::regex_search(line, fail) && line != "No errors") bad += line + "\n";
      pos = end + 1;
    }
    return bad;
  }

  static TempDir* dir_;
  static TokenEnv* env_;
  static RunResult keygen_rsa_, keygen_ec_;
};

TempDir* TokenTools::dir_ = nullptr;
TokenEnv* TokenTools::env_ = nullptr;
RunResult TokenTools::keygen_rsa_, TokenTools::keygen_ec_;

TEST_F(TokenTools, Pkcs11ToolTestSuitePasses) {
  RunResult r = env_->Tool({"--test", "--session-rw", "--allow-sw"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(FailureLines(r.output), "") << r.output;
  // It really ran the signature and decryption tests on our keys.
  EXPECT_NE(r.output.find("Signatures"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("Decryption"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("No errors"), std::string::npos) << r.output;
}

TEST_F(TokenTools, Pkcs11ToolEcTestPasses) {
  RunResult r = env_->Tool({"--test-ec", "--id", "0e", "--key-type", "EC:prime256v1", "--allow-sw",
                            "--session-rw"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(FailureLines(r.output), "") << r.output;
  EXPECT_NE(r.output.find("==> OK"), std::string::npos) << r.output;
}

TEST_F(TokenTools, Pkcs11ToolForkTestPasses) {
  RunResult r = env_->Tool({"--test-fork"}, false);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("C_Initialize in forked child"), std::string::npos) << r.output;
  EXPECT_EQ(FailureLines(r.output), "") << r.output;
}

TEST_F(TokenTools, Pkcs11ToolSignatureVerifiesWithOpenSsl) {
  ASSERT_TRUE(WriteFile(dir_->path() + "/data", "sign me, token"));
  for (const auto& [id, mech] : {std::pair{"01", "SHA256-RSA-PKCS"}, std::pair{"01", "SHA256-RSA-PKCS-PSS"},
                                 std::pair{"02", "ECDSA-SHA256"}}) {
    const std::string sig = dir_->path() + "/sig-" + mech;
    const std::string pub = dir_->path() + "/pub-" + id + ".pem";
    // ECDSA comes out as PKCS#11 raw r||s; the test turns it into DER itself (pkcs11-tool 0.23's
    // own conversion reads freed memory, which ASan reports in the sanitizer run).
    RunResult r = env_->Tool({"--sign", "--id", id, "-m", mech, "--input-file", dir_->path() + "/data",
                              "--output-file", sig});
    ASSERT_EQ(r.exit_code, 0) << mech << "\n" << r.output;
    if (std::string(mech).find("ECDSA") != std::string::npos) {
      std::string raw = ReadFile(sig);
      ASSERT_EQ(raw.size(), 64u);
      auto* s = ECDSA_SIG_new();
      ECDSA_SIG_set0(s, BN_bin2bn(reinterpret_cast<const uint8_t*>(raw.data()), 32, nullptr),
                     BN_bin2bn(reinterpret_cast<const uint8_t*>(raw.data()) + 32, 32, nullptr));
      std::string der(i2d_ECDSA_SIG(s, nullptr), '\0');
      auto* q = reinterpret_cast<unsigned char*>(der.data());
      i2d_ECDSA_SIG(s, &q);
      ECDSA_SIG_free(s);
      ASSERT_TRUE(WriteFile(sig, der));
    }
    // The public key through GnuTLS's p11tool (pkcs11-tool 0.23 reads freed memory when it
    // exports an EC key, which ASan reports in the sanitizer run).
    Env p11tool_env = env_->env();
    p11tool_env["GNUTLS_PIN"] = kTokenPin;
    r = RunCmd({"p11tool", "--provider", env_->module(), "--login", "--export-pubkey", "--outfile",
                pub, "pkcs11:token=" + std::string(kTokenLabel) + ";id=%" + id + ";type=public"},
               p11tool_env);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    std::vector<std::string> verify = {"openssl", "dgst", "-sha256", "-verify", pub,
                                       "-signature", sig};
    if (std::string(mech).find("PSS") != std::string::npos) {
      verify.insert(verify.end(), {"-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:-1"});
    }
    verify.push_back(dir_->path() + "/data");
    r = RunCmd(verify);
    EXPECT_EQ(r.exit_code, 0) << mech << "\n" << r.output;
    EXPECT_NE(r.output.find("Verified OK"), std::string::npos) << r.output;
  }
}

TEST_F(TokenTools, ListObjectsShowsKeysButNoSecrets) {
  RunResult r = env_->Tool({"--list-objects"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("rsa-key"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("ec-key"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("Private Key Object; RSA"), std::string::npos) << r.output;
  // Without login the private keys are invisible.
  r = env_->Tool({"--list-objects"}, false);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output.find("Private Key Object"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("Public Key Object; EC"), std::string::npos) << r.output;
}

TEST_F(TokenTools, P11toolListsTokenAndObjects) {
  RunResult r = RunCmd({"p11tool", "--provider", env_->module(), "--list-tokens"}, env_->env());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find(std::string("token=") + kTokenLabel), std::string::npos) << r.output;
  r = RunCmd({"p11tool", "--provider", env_->module(), "--login", "--list-all",
              std::string("pkcs11:token=") + kTokenLabel},
             [&] { Env e = env_->env(); e["GNUTLS_PIN"] = kTokenPin; return e; }());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("object=rsa-key;type=private"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("object=ec-key;type=public"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace kmra::integration
