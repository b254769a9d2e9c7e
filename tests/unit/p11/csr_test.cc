#include "p11/csr.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <fstream>

#include "softhsm_fixture.h"
#include "test_keys.h"

namespace kmra::p11 {
namespace {

using ::testing::HasSubstr;
using testing::SoftHsmTest;

// Runs a command and returns {exit status, stdout+stderr}.
std::pair<int, std::string> Capture(const std::string& cmd) {
  std::string out;
  FILE* pipe = ::popen((cmd + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return {-1, ""};
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) out.append(buf.data(), n);
  int status = ::pclose(pipe);
  return {WEXITSTATUS(status), out};
}

class CsrTest : public SoftHsmTest {
 protected:
  std::string WriteTemp(const std::string& name, const std::string& content) {
    std::string path = hsm_->dir() + "/" + name;
    std::ofstream(path) << content;
    return path;
  }
};

TEST_F(CsrTest, OpensslVerifiesCsrsSignedInTheHsm) {
  for (const char* type : {"rsa-2048", "ec-p256", "ec-p384"}) {
    SCOPED_TRACE(type);
    auto key = GenerateKeyPair(*session_, *KeySpec::Parse(type), KeyName{std::string("csr-") + type, {}});
    ASSERT_TRUE(key) << key.error().ToString();
    CsrRequest req{"CN=www.example.com,O=Example Org,C=DE", {"www.example.com", "example.com"}, {"10.0.0.1", "::1"}};
    auto pem = SignCsr(*session_, *key, req);
    ASSERT_TRUE(pem) << pem.error().ToString();
    std::string path = WriteTemp(std::string(type) + ".csr", *pem);
    auto [rc, out] = Capture("openssl req -verify -noout -text -in " + path);
    EXPECT_EQ(rc, 0) << out;
    EXPECT_THAT(out, HasSubstr("verify OK"));
    EXPECT_THAT(out, HasSubstr("CN = www.example.com"));
    EXPECT_THAT(out, HasSubstr("DNS:example.com"));
    EXPECT_THAT(out, HasSubstr("IP Address:10.0.0.1"));
    // The CSR's public key is the HSM key's.
    auto [rc2, csr_pub] = Capture("openssl req -pubkey -noout -in " + path);
    auto spki = PublicKeySpki(*session_, *key);
    ASSERT_TRUE(spki);
    EXPECT_EQ(rc2, 0);
    EXPECT_EQ(csr_pub, testing::PublicPem(*spki));
  }
}

TEST_F(CsrTest, BadSubjectsAndNamesAreExplained) {
  auto key = GenerateKeyPair(*session_, *KeySpec::Parse("ec-p256"), KeyName{"csr-bad", {}});
  ASSERT_TRUE(key);
  auto no_cn = SignCsr(*session_, *key, CsrRequest{"O=Example", {}, {}});
  ASSERT_FALSE(no_cn);
  EXPECT_THAT(no_cn.error().message(), HasSubstr("no CN"));
  auto junk = SignCsr(*session_, *key, CsrRequest{"CN=x,nonsense", {}, {}});
  ASSERT_FALSE(junk);
  EXPECT_THAT(junk.error().message(), HasSubstr("'nonsense'"));
  auto field = SignCsr(*session_, *key, CsrRequest{"CN=x,XYZ=1", {}, {}});
  ASSERT_FALSE(field);
  EXPECT_THAT(field.error().message(), HasSubstr("XYZ"));
  auto dns = SignCsr(*session_, *key, CsrRequest{"CN=x", {"bad name"}, {}});
  ASSERT_FALSE(dns);
  EXPECT_THAT(dns.error().message(), HasSubstr("'bad name'"));
  auto ip = SignCsr(*session_, *key, CsrRequest{"CN=x", {}, {"300.1.1.1"}});
  ASSERT_FALSE(ip);
  EXPECT_THAT(ip.error().message(), HasSubstr("300.1.1.1"));
  // Slash form and escaped commas work.
  auto slash = SignCsr(*session_, *key, CsrRequest{"/CN=a\\,b/O=Org", {}, {}});
  ASSERT_TRUE(slash) << slash.error().ToString();
}

}  // namespace
}  // namespace kmra::p11
