// OpenSSL through the libp11 engine (the path NGINX takes) signs with token keys, and plain
// `openssl` verifies with the public key: RSA PKCS#1 v1.5, RSA-PSS and ECDSA.
#include <gtest/gtest.h>

#include "integration/harness.h"
#include "integration/token_env.h"

namespace kmra::integration {
namespace {

constexpr char kEngine[] = "/usr/lib/x86_64-linux-gnu/engines-3/pkcs11.so";

class TokenEngine : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    env_ = new TokenEnv(*dir_);
    if (!env_->ok()) return;
    setup_ = env_->Tool({"--keypairgen", "--key-type", "rsa:2048", "--id", "11", "--label", "web-rsa"});
    if (setup_.exit_code == 0) {
      setup_ = env_->Tool({"--keypairgen", "--key-type", "EC:prime256v1", "--id", "12", "--label",
                           "web-ec"});
    }
    WriteFile(dir_->path() + "/openssl.cnf",
              "openssl_conf = openssl_init\n[openssl_init]\nengines = engine_section\n"
              "[engine_section]\npkcs11 = pkcs11_section\n[pkcs11_section]\nengine_id = pkcs11\n"
              "dynamic_path = " + std::string(kEngine) + "\nMODULE_PATH = " + env_->module() +
              "\ninit = 1\n");
    WriteFile(dir_->path() + "/data", "a TLS handshake transcript, more or less");
  }
  static void TearDownTestSuite() {
    delete env_;
    delete dir_;
  }
  void SetUp() override {
    ASSERT_TRUE(env_->ok()) << env_->error();
    ASSERT_EQ(setup_.exit_code, 0) << setup_.output;
  }

  // Signs data with the token key `label` through the engine, exports the public key with
  // pkcs11-tool and verifies with openssl alone.
  void SignAndVerify(const std::string& label, const std::string& id,
                     const std::vector<std::string>& sigopts) {
    const std::string d = dir_->path();
    const std::string uri = "pkcs11:token=" + std::string(kTokenLabel) + ";object=" + label +
                            ";type=private?pin-value=" + kTokenPin;
    const std::string sig = d + "/sig-" + label + std::to_string(sigopts.size());
    Env env = env_->env();
    env["OPENSSL_CONF"] = d + "/openssl.cnf";
    std::vector<std::string> sign = {"openssl", "dgst", "-sha256", "-engine", "pkcs11", "-keyform",
                                     "engine", "-sign", uri, "-out", sig};
    for (const auto& o : sigopts) sign.insert(sign.end(), {"-sigopt", o});
    sign.push_back(d + "/data");
    RunResult r = RunCmd(sign, env);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const std::string pub = d + "/pub-" + id + ".pem";
    // The public key through GnuTLS's p11tool (pkcs11-tool 0.23 reads freed memory when it
    // exports an EC key, which ASan reports in the sanitizer run).
    Env p11tool_env = env_->env();
    p11tool_env["GNUTLS_PIN"] = kTokenPin;
    r = RunCmd({"p11tool", "--provider", env_->module(), "--login", "--export-pubkey", "--outfile",
                pub, "pkcs11:token=" + std::string(kTokenLabel) + ";id=%" + id + ";type=public"},
               p11tool_env);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    std::vector<std::string> verify = {"openssl", "dgst", "-sha256", "-verify",
                                       pub, "-signature", sig};
    for (const auto& o : sigopts) verify.insert(verify.end(), {"-sigopt", o});
    verify.push_back(d + "/data");
    r = RunCmd(verify);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("Verified OK"), std::string::npos) << r.output;
    // A changed message does not verify: the check above is not vacuous.
    WriteFile(d + "/other", "another transcript");
    verify.back() = d + "/other";
    EXPECT_NE(RunCmd(verify).exit_code, 0);
  }

  static TempDir* dir_;
  static TokenEnv* env_;
  static RunResult setup_;
};

TempDir* TokenEngine::dir_ = nullptr;
TokenEnv* TokenEngine::env_ = nullptr;
RunResult TokenEngine::setup_;

TEST_F(TokenEngine, RsaPkcs1SignatureVerifies) { SignAndVerify("web-rsa", "11", {}); }

TEST_F(TokenEngine, RsaPssSignatureVerifies) {
  SignAndVerify("web-rsa", "11", {"rsa_padding_mode:pss", "rsa_pss_saltlen:32"});
}

TEST_F(TokenEngine, EcdsaSignatureVerifies) { SignAndVerify("web-ec", "12", {}); }

}  // namespace
}  // namespace kmra::integration
