// The KMRA release path between a real HSM and our token: SoftHSM2 wraps an RSA and an EC private
// key with CKM_AES_KEY_WRAP_PAD and the AES key with our token's public key (CKM_RSA_PKCS_OAEP);
// the token unwraps both into a persistent key that signs what SoftHSM2's public key verifies.
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <cstdlib>

#include "integration/harness.h"
#include "integration/token_env.h"
#include "p11/keys.h"
#include "p11/module.h"
#include "p11/wrap.h"

namespace kmra::integration {
namespace {

constexpr char kSoftHsm[] = "/usr/lib/softhsm/libsofthsm2.so";

class SoftHsmInterop : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(token_.ok()) << token_.error();
    ASSERT_TRUE(WriteFile(dir_ / "softhsm2.conf", "directories.tokendir = " + dir_.path() +
                                                      "/hsm\nobjectstore.backend = file\n"
                                                      "log.level = ERROR\n"));
    ASSERT_EQ(RunCmd({"mkdir", "-p", dir_ / "hsm"}).exit_code, 0);
    Env env = {{"SOFTHSM2_CONF", dir_ / "softhsm2.conf"}};
    RunResult r = RunCmd({"softhsm2-util", "--init-token", "--free", "--label", "hsm", "--pin",
                          "1111", "--so-pin", "2222"}, env);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    setenv("SOFTHSM2_CONF", (dir_ / "softhsm2.conf").c_str(), 1);
    setenv("KMRA_TOKEN_CONF", token_.conf().c_str(), 1);
    auto hsm = p11::Module::Load(kSoftHsm);
    ASSERT_TRUE(hsm) << hsm.error().ToString();
    auto ours = p11::Module::Load(token_.module());
    ASSERT_TRUE(ours) << ours.error().ToString();
    hsm_ = OpenSession(*hsm, "hsm", "1111");
    tok_ = OpenSession(*ours, kTokenLabel, kTokenPin);
    ASSERT_TRUE(hsm_ && tok_);
  }

  static std::unique_ptr<p11::Session> OpenSession(const std::shared_ptr<p11::Module>& m,
                                                   const std::string& label, const std::string& pin) {
    auto slot = m->FindSlotByTokenLabel(label);
    if (!slot) return nullptr;
    auto s = p11::Session::Open(m, *slot, true);
    if (!s || !s->Login(SecretBytes::FromString(pin))) return nullptr;
    return std::make_unique<p11::Session>(std::move(*s));
  }

  // Releases the HSM key named `label` into the token and checks the token's signature with the
  // HSM's public key.
  void ReleaseAndSign(const p11::KeySpec& spec, const std::string& label) {
    auto hsm_key = p11::GenerateKeyPair(*hsm_, spec, {label, {}});
    ASSERT_TRUE(hsm_key) << hsm_key.error().ToString();
    auto cust = p11::GenerateSessionRsaKeyPair(*tok_, 3072);
    ASSERT_TRUE(cust) << cust.error().ToString();
    auto cust_pub = p11::ReadRsaPublicKey(*tok_, cust->public_key);
    ASSERT_TRUE(cust_pub) << cust_pub.error().ToString();
    auto wrapped = p11::WrapForRelease(*hsm_, hsm_key->private_key, *cust_pub, p11::OaepChoice::kSha1);
    ASSERT_TRUE(wrapped) << wrapped.error().ToString();
    p11::UnwrapTarget target{{label, hsm_key->name.id}, spec.algorithm, true};
    auto key = p11::UnwrapReleasedKey(*tok_, cust->private_key, wrapped->oaep_hash,
                                      wrapped->wrapped_swk, wrapped->wrapped_key, target);
    ASSERT_TRUE(key) << key.error().ToString();
    // As in CTK, the customer private key served once and is gone.
    EXPECT_FALSE(tok_->GetAttribute(cust->private_key, CKA_CLASS));
    // The released key is sensitive and cannot leave the token.
    EXPECT_EQ(tok_->GetBool(*key, CKA_EXTRACTABLE).value_or(true), false);
    EXPECT_FALSE(tok_->GetAttribute(*key, spec.algorithm == p11::KeyAlgorithm::kRsa
                                              ? CKA_PRIVATE_EXPONENT : CKA_VALUE));

    const std::vector<uint8_t> message = {'r', 'e', 'l', 'e', 'a', 's', 'e', 'd'};
    CK_MECHANISM mech = {spec.algorithm == p11::KeyAlgorithm::kRsa ? CKM_SHA256_RSA_PKCS
                                                                   : CKM_ECDSA_SHA256, nullptr, 0};
    auto sig = tok_->Sign(mech, *key, message);
    ASSERT_TRUE(sig) << sig.error().ToString();
    auto hsm_pub = p11::PublicKey(*hsm_, *hsm_key);
    ASSERT_TRUE(hsm_pub) << hsm_pub.error().ToString();
    std::vector<uint8_t> der = *sig;
    if (spec.algorithm == p11::KeyAlgorithm::kEc) {  // raw r||s -> DER for OpenSSL
      auto s = ossl::Wrap(ECDSA_SIG_new());
      ECDSA_SIG_set0(s.get(), BN_bin2bn(sig->data(), 32, nullptr),
                     BN_bin2bn(sig->data() + 32, 32, nullptr));
      der.resize(i2d_ECDSA_SIG(s.get(), nullptr));
      unsigned char* q = der.data();
      i2d_ECDSA_SIG(s.get(), &q);
    }
    auto ctx = ossl::Wrap(EVP_MD_CTX_new());
    ASSERT_EQ(EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, hsm_pub->get()), 1);
    EXPECT_EQ(EVP_DigestVerify(ctx.get(), der.data(), der.size(), message.data(), message.size()), 1)
        << "the token's signature does not verify with SoftHSM2's public key";
  }

  TempDir dir_;
  TokenEnv token_{dir_};
  std::unique_ptr<p11::Session> hsm_, tok_;
};

TEST_F(SoftHsmInterop, ReleasesAnRsaKeyIntoTheToken) {
  ReleaseAndSign({p11::KeyAlgorithm::kRsa, 2048, 256}, "released-rsa");
}

TEST_F(SoftHsmInterop, ReleasesAnEcKeyIntoTheToken) {
  ReleaseAndSign({p11::KeyAlgorithm::kEc, 2048, 256}, "released-ec");
}

TEST_F(SoftHsmInterop, ReleasedKeySurvivesARestartOfTheToken) {
  ReleaseAndSign({p11::KeyAlgorithm::kEc, 2048, 256}, "kept");
  tok_.reset();
  // Another process opens the token: the key is there, found by label as nginx finds it.
  RunResult r = token_.Tool({"--list-objects", "--type", "privkey"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("label:      kept"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace kmra::integration
