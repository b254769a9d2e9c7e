// The whole compute-node flow with the real parts: `kmra server --dev` (SoftHSM2 as the HSM,
// simulated SGX PKI trusted explicitly), our token (libkmra-pkcs11.so on the simulated platform),
// `kmra loadkey`, nginx + the libp11 engine in process and behind `p11-kit server`, curl and
// openssl as clients.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

#include "integration/harness.h"
#include "integration/tls_site.h"

namespace kmra::integration {
namespace {

std::string Module() {
  return EnvOr("KMRA_TOKEN_MODULE", std::string(KMRA_BINARY_DIR) + "/src/token/libkmra-pkcs11.so");
}

// One key server for the whole binary: PKI with platform 1 good and platform 2's PCK revoked.
class KeyServer {
 public:
  // Destroyed at exit, which stops the server process and removes its directory.
  static KeyServer* Get() {
    static KeyServer server;
    return &server;
  }
  bool up() const { return !url_.empty(); }
  const std::string& why() const { return why_; }
  const std::string& url() const { return url_; }
  std::string dir() const { return dir_.path() + "/srv"; }
  std::string ca() const { return dir() + "/tls/ca.pem"; }

  // `kmra keys create ID --import KEY --certificate CERT --policy FILE` through the admin API;
  // without `policy`, the demo key's policy, which `kmra server --dev` wrote for the token module
  // this test loads (its MRENCLAVE and the PKI's MRSIGNER).
  RunResult ImportKey(const std::string& id, const TestKey& key, const std::string& policy = "") {
    std::string file = dir_ / (id + ".policy.json");
    WriteFile(file, policy.empty() ? dev_policy_ : policy);
    return RunCmd({KmraBin(), "keys", "create", id, "--dir", dir(), "--import", key.key_file,
                   "--certificate", key.cert_file, "--policy", file});
  }

 private:
  KeyServer() {
    if (RunCmd({KmraBin(), "server", "--help"}).exit_code != 0) {
      why_ = "this build's kmra has no `server` command";
      return;
    }
    RunResult pki =
        RunCmd({KmraBin(), "pki", "init", "--dir", dir(), "--platforms", "2", "--revoke-pck", "2"});
    if (pki.exit_code != 0) {
      why_ = "kmra pki init failed: " + pki.output;
      return;
    }
    // The dev config writes the bound port to DIR/server.port, where `kmra keys --dir` reads it.
    std::string port_file = dir() + "/server.port";
    server_ =
        std::make_unique<Process>(std::vector<std::string>{KmraBin(), "server", "--dev", "--dir",
                                                           dir(), "--listen", "127.0.0.1:0"},
                                  Env{}, dir_ / "server.log");
    for (int i = 0; i < 1200 && server_->Running(); ++i) {
      std::string port = ReadFile(port_file);
      if (!port.empty() && port.back() == '\n') port.pop_back();
      if (!port.empty()) {
        RunResult policy = RunCmd({KmraBin(), "policy", "get", "demo", "--dir", dir()});
        auto j = nlohmann::json::parse(policy.output, nullptr, false);
        if (policy.exit_code != 0 || j.is_discarded() || !j.contains("policy")) {
          why_ = "kmra policy get demo failed: " + policy.output;
          return;
        }
        dev_policy_ = j["policy"].dump();
        url_ = "https://127.0.0.1:" + port;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    why_ = "kmra server --dev did not start: " + ReadFile(dir_ / "server.log");
  }

  TempDir dir_;
  std::unique_ptr<Process> server_;
  std::string url_;
  std::string why_;
  std::string dev_policy_;
};

// The suite needs nginx itself (the one thing a machine may lack); everything else it needs is
// built here, so a server or PKI that cannot start is a failure, never a skip.
bool NginxInstalled() {
  static const bool installed = RunCmd({"nginx", "-v"}).exit_code == 0;
  return installed;
}

#define KMRA_REQUIRE_KEY_SERVER()                                                    \
  do {                                                                               \
    if (!NginxInstalled()) GTEST_SKIP() << "nginx is not installed (Debian: nginx)"; \
    ASSERT_TRUE(KeyServer::Get()->up()) << KeyServer::Get()->why();                  \
  } while (0)

// A fresh token on simulated platform `platform` of the server's PKI.
struct Token {
  Token(const std::string& dir, int platform) : conf(dir + "/token.toml") {
    RunResult r = RunCmd({KmraBin(), "token", "init", "--module", Module(), "--conf", conf,
                          "--token-dir", dir + "/token", "--platform", "sim", "--platform-dir",
                          KeyServer::Get()->dir() + "/sgx/platform-" + std::to_string(platform),
                          "--label", "web", "--so-pin", "5678", "--pin", "1234"});
    ok = r.exit_code == 0;
    output = r.output;
    WriteFile(dir + "/pin", "1234");
  }
  Env env() const { return {{"KMRA_TOKEN_CONF", conf}}; }
  std::string conf;
  bool ok = false;
  std::string output;
};

RunResult LoadKey(const Token& token, const std::string& key_id, const std::string& api,
                  const std::string& url, const std::string& cert_out,
                  const std::vector<std::string>& extra = {}, const Env& extra_env = {}) {
  const std::string srv = KeyServer::Get()->dir();
  std::vector<std::string> argv{KmraBin(),    "loadkey",
                                "-t",         "web",
                                "-p",         "1234",
                                "-u",         key_id,
                                "--server",   url,
                                "--api",      api,
                                "--ca",       srv + "/tls/ca.pem",
                                "--cert",     srv + "/tls/client.pem",
                                "--key",      srv + "/tls/client.key",
                                "--module",   Module(),
                                "--cert-out", cert_out};
  argv.insert(argv.end(), extra.begin(), extra.end());
  Env env = token.env();
  env.insert(extra_env.begin(), extra_env.end());
  return RunCmd(argv, env, 120);
}

// pkcs11-tool's listing of the token's objects (logged in).
std::string ListObjects(const Token& token) {
  return RunCmd({"pkcs11-tool", "--module", Module(), "--login", "--pin", "1234", "--list-objects"},
                token.env())
      .output;
}

size_t Count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t p = haystack.find(needle); p != std::string::npos; p = haystack.find(needle, p + 1))
    ++n;
  return n;
}

class LoadKeyFlow : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    KMRA_REQUIRE_KEY_SERVER();
    key_ = MakeTestKey(dir_.path(), GetParam());
    id_ = "site-" + GetParam() + "-" + std::to_string(getpid()) + "-" +
          ::testing::UnitTest::GetInstance()->current_test_info()->name();
    for (char& c : id_)
      if (c == '/') c = '-';
    RunResult r = KeyServer::Get()->ImportKey(id_, key_);
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  // RSA goes through the KMRA API 0.2, EC through /v1: both APIs, both key types.
  std::string Api() const { return GetParam() == "rsa" ? "kmra" : "v1"; }
  std::vector<std::string> SiteArgs() const {
    return {"--key-uri",  "pkcs11:token=web;object=" + id_,
            "--cert",     dir_ / "served.pem",
            "--module",   Module(),
            "--pin-file", dir_ / "pin"};
  }

  TempDir dir_;
  TestKey key_;
  std::string id_;
};

TEST_P(LoadKeyFlow, InProcessNginxServesTheReleasedKeyFromTheToken) {
  Token token(dir_.path(), 1);
  ASSERT_TRUE(token.ok) << token.output;
  // With the token's debug log on: loadkey's templates are the attestation templates, so the
  // token quotes its key pair without having to override any of what they ask.
  RunResult r = LoadKey(token, id_, Api(), KeyServer::Get()->url(), dir_ / "served.pem", {},
                        {{"KMRA_TOKEN_DEBUG", "1"}});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("pkcs11:token=web;object=" + id_ + ";type=private"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("loaded into the token"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("its private half is now an attestation key"), std::string::npos)
      << r.output;
  for (const char* weak : {"CKA_DECRYPT overridden", "CKA_SIGN overridden",
                           "CKA_EXTRACTABLE overridden", "CKA_SENSITIVE overridden"}) {
    EXPECT_EQ(r.output.find(weak), std::string::npos) << weak << " in:\n" << r.output;
  }

  std::string objects = ListObjects(token);
  EXPECT_EQ(Count(objects, "Private Key Object"), 1u) << objects;
  EXPECT_EQ(Count(objects, "Public Key Object"), 1u) << objects;
  EXPECT_EQ(Count(objects, "Certificate Object"), 1u) << objects;
  EXPECT_EQ(Count(objects, "label:      " + id_), 3u) << objects;
  size_t priv = objects.find("Private Key Object");
  std::string access = objects.substr(objects.find("Access:", priv), 80);
  access = access.substr(0, access.find('\n'));
  // pkcs11-tool lists the access flags comma separated: "sensitive", "always sensitive",
  // "extractable", "never extractable", "local".
  std::vector<std::string> flags;
  std::string list = access.substr(access.find(':') + 1);
  for (size_t start = 0; start <= list.size();) {
    size_t end = list.find(',', start);
    if (end == std::string::npos) end = list.size();
    std::string flag = list.substr(start, end - start);
    flag.erase(0, flag.find_first_not_of(' '));
    flag.erase(flag.find_last_not_of(' ') + 1);
    flags.push_back(flag);
    start = end + 1;
  }
  EXPECT_NE(std::find(flags.begin(), flags.end(), "sensitive"), flags.end()) << access;
  EXPECT_EQ(std::find(flags.begin(), flags.end(), "extractable"), flags.end()) << access;

  NginxSite site(dir_ / "nginx", SiteArgs(), token.env());
  ASSERT_TRUE(site.started()) << site.error();
  RunResult fetched = site.Fetch(key_.cert_file);
  EXPECT_EQ(fetched.exit_code, 0) << fetched.output;
  EXPECT_EQ(site.PresentedCertificate(), FirstPemCert(key_.cert_pem));
}

TEST_P(LoadKeyFlow, IsolationKeepsTheKeyBytesOutOfEveryNginxProcess) {
  Token token(dir_.path(), 1);
  ASSERT_TRUE(token.ok) << token.output;
  RunResult r = LoadKey(token, id_, Api(), KeyServer::Get()->url(), dir_ / "served.pem");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::string sock = dir_ / "p11kit.sock";
  Process p11kit({"p11-kit", "server", "--foreground", "--name", sock, "--provider", Module(),
                  "pkcs11:token=web"},
                 token.env(), dir_ / "p11kit.log");
  for (int i = 0; i < 100 && access(sock.c_str(), F_OK) != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(access(sock.c_str(), F_OK), 0) << ReadFile(dir_ / "p11kit.log");
  std::vector<std::string> args = SiteArgs();
  args.insert(args.end(), {"--isolation", "--socket", sock});
  // nginx does not get KMRA_TOKEN_CONF: it could not open the token itself.
  NginxSite site(dir_ / "nginx", args, {{"P11_KIT_SERVER_ADDRESS", "unix:path=" + sock}});
  ASSERT_TRUE(site.started()) << site.error();
  for (int i = 0; i < 8; ++i) {
    RunResult fetched = site.Fetch(key_.cert_file);
    ASSERT_EQ(fetched.exit_code, 0) << fetched.output;
  }
  EXPECT_EQ(site.PresentedCertificate(), FirstPemCert(key_.cert_pem));
  std::vector<pid_t> pids = site.Pids();
  ASSERT_GE(pids.size(), 2u);
  for (pid_t pid : pids) {
    for (size_t s = 0; s < key_.secrets.size(); ++s) {
      uint64_t scanned = 0;
      EXPECT_FALSE(MemoryContains(pid, key_.secrets[s], &scanned))
          << "secret #" << s << " (0: PKCS#8, 1/2: private value BE/LE) found in nginx pid " << pid;
      EXPECT_GT(scanned, 1000000u);
    }
  }
}

TEST_P(LoadKeyFlow, SameVersionIsLeftAloneAndANewVersionReplacesIt) {
  Token token(dir_.path(), 1);
  ASSERT_TRUE(token.ok) << token.output;
  RunResult r = LoadKey(token, id_, Api(), KeyServer::Get()->url(), dir_ / "served.pem");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::string before = ListObjects(token);
  r = LoadKey(token, id_, Api(), KeyServer::Get()->url(), dir_ / "served.pem");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("nothing changed"), std::string::npos) << r.output;
  EXPECT_EQ(ListObjects(token), before);

  TempDir next_dir;
  TestKey next = MakeTestKey(next_dir.path(), GetParam());
  RunResult rot = RunCmd({KmraBin(), "keys", "rotate", id_, "--dir", KeyServer::Get()->dir(),
                          "--import", next.key_file, "--certificate", next.cert_file});
  ASSERT_EQ(rot.exit_code, 0) << rot.output;
  r = LoadKey(token, id_, Api(), KeyServer::Get()->url(), dir_ / "served.pem");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("replaced the previous version"), std::string::npos) << r.output;
  std::string after = ListObjects(token);
  EXPECT_EQ(Count(after, "Private Key Object"), 1u) << after;
  EXPECT_EQ(Count(after, "Certificate Object"), 1u) << after;
  EXPECT_EQ(FirstPemCert(ReadFile(dir_ / "served.pem")), FirstPemCert(next.cert_pem));

  NginxSite site(dir_ / "nginx", SiteArgs(), token.env());
  ASSERT_TRUE(site.started()) << site.error();
  EXPECT_EQ(site.PresentedCertificate(), FirstPemCert(next.cert_pem));
}

INSTANTIATE_TEST_SUITE_P(Keys, LoadKeyFlow, ::testing::Values("rsa", "ec"));

// Refusals: loadkey fails with a message naming the cause, the token stays empty, and nginx
// configured for the key does not start.
class Refusal : public ::testing::Test {
 protected:
  void SetUp() override {
    KMRA_REQUIRE_KEY_SERVER();
    key_ = MakeTestKey(dir_.path(), "rsa");
  }
  void ExpectNginxDoesNotStart(const Token& token, const std::string& id) {
    ASSERT_TRUE(WriteFile(dir_ / "served.pem", key_.cert_pem));
    NginxSite site(dir_ / "nginx",
                   {"--key-uri", "pkcs11:token=web;object=" + id, "--cert", dir_ / "served.pem",
                    "--module", Module(), "--pin-file", dir_ / "pin"},
                   token.env());
    EXPECT_FALSE(site.started());
    EXPECT_NE(site.error().find("cannot load certificate key"), std::string::npos) << site.error();
  }
  TempDir dir_;
  TestKey key_;
};

TEST_F(Refusal, WrongMrenclavePolicy) {
  std::string id = "pinned-" + std::to_string(getpid());
  RunResult imp =
      KeyServer::Get()->ImportKey(id, key_, "{\"mrenclave\":[\"" + std::string(64, '0') + "\"]}");
  ASSERT_EQ(imp.exit_code, 0) << imp.output;
  Token token(dir_.path(), 1);
  ASSERT_TRUE(token.ok) << token.output;
  RunResult r = LoadKey(token, id, "v1", KeyServer::Get()->url(), dir_ / "out.pem");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("policy.mrenclave"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("HTTP 403"), std::string::npos) << r.output;
  EXPECT_EQ(Count(ListObjects(token), "Private Key Object"), 0u);
  ExpectNginxDoesNotStart(token, id);
}

TEST_F(Refusal, RevokedPlatform) {
  std::string id = "open-" + std::to_string(getpid());
  RunResult imp = KeyServer::Get()->ImportKey(id, key_);
  ASSERT_EQ(imp.exit_code, 0) << imp.output;
  Token token(dir_.path(), 2);  // platform 2's PCK certificate is on the PCK CRL
  ASSERT_TRUE(token.ok) << token.output;
  RunResult r = LoadKey(token, id, "kmra", KeyServer::Get()->url(), dir_ / "out.pem");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("revoked"), std::string::npos) << r.output;
  EXPECT_EQ(Count(ListObjects(token), "Private Key Object"), 0u);
  ExpectNginxDoesNotStart(token, id);
}

TEST_F(Refusal, ServerDown) {
  Token token(dir_.path(), 1);
  ASSERT_TRUE(token.ok) << token.output;
  std::string dead = "https://127.0.0.1:" + std::to_string(FreePort());
  RunResult r = LoadKey(token, "anything", "kmra", dead, dir_ / "out.pem");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("cannot reach the key server at " + dead), std::string::npos) << r.output;
  ExpectNginxDoesNotStart(token, "anything");
}

TEST_F(Refusal, WrongTokenPinSaysSo) {
  Token token(dir_.path(), 1);
  ASSERT_TRUE(token.ok) << token.output;
  RunResult r = RunCmd({KmraBin(), "loadkey", "-t", "web", "-p", "0000", "-u", "x", "--server",
                        KeyServer::Get()->url(), "--module", Module()},
                       token.env());
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("PIN given with -p is wrong"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace kmra::integration
