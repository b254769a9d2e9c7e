// nginx serving with a key held by a PKCS#11 module, configured by `kmra nginx-config`, with SoftHSM2 as
// the module: the deployment path (engine, env lines, isolation behind p11-kit) on a module that exists
// without any of our server or token, and the memory scan that the token tests reuse.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "integration/harness.h"
#include "integration/tls_site.h"

namespace kmra::integration {
namespace {

constexpr char kSoftHsm[] = "/usr/lib/softhsm/libsofthsm2.so";

class SoftHsmNginx : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    key_ = MakeTestKey(dir_.path(), GetParam());
    ASSERT_FALSE(key_.secrets.empty());
    ASSERT_TRUE(WriteFile(dir_ / "softhsm2.conf",
                          "directories.tokendir = " + dir_.path() + "/tokens\n"
                          "objectstore.backend = file\nlog.level = ERROR\n"));
    ASSERT_TRUE(RunCmd({"mkdir", "-p", dir_ / "tokens"}).exit_code == 0);
    env_ = {{"SOFTHSM2_CONF", dir_ / "softhsm2.conf"}};
    RunResult r = RunCmd({"softhsm2-util", "--init-token", "--free", "--label", "web", "--pin", "1234",
                       "--so-pin", "5678"}, env_);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    r = RunCmd({"softhsm2-util", "--import", key_.key_file, "--token", "web", "--label", "site",
             "--id", "01", "--pin", "1234"}, env_);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    ASSERT_TRUE(WriteFile(dir_ / "pin", "1234"));
  }

  std::vector<std::string> Args() {
    return {"--key-uri", "pkcs11:token=web;object=site", "--cert", key_.cert_file,
            "--module", kSoftHsm, "--pin-file", dir_ / "pin", "--env", "SOFTHSM2_CONF"};
  }

  TempDir dir_;
  TestKey key_;
  Env env_;
};

TEST_P(SoftHsmNginx, ServesTlsWithTheHsmKeyInProcess) {
  NginxSite site(dir_ / "nginx", Args(), env_);
  ASSERT_TRUE(site.started()) << site.error();
  RunResult r = site.Fetch(key_.cert_file);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("OpenKMRA token"), std::string::npos) << r.output;
  EXPECT_EQ(site.PresentedCertificate(), FirstPemCert(key_.cert_pem));
}

TEST_P(SoftHsmNginx, IsolationKeepsTheKeyOutOfNginxMemory) {
  std::string sock = dir_ / "p11kit.sock";
  Process server({"p11-kit", "server", "--foreground", "--name", sock, "--provider", kSoftHsm,
                  "pkcs11:token=web"}, env_, dir_ / "p11kit.log");
  for (int i = 0; i < 100 && access(sock.c_str(), F_OK) != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(access(sock.c_str(), F_OK), 0) << ReadFile(dir_ / "p11kit.log");
  std::vector<std::string> args = Args();
  args.insert(args.end(), {"--isolation", "--socket", sock});
  // nginx gets only the socket address: not SOFTHSM2_CONF, so it could not open the HSM itself.
  NginxSite site(dir_ / "nginx", args, {{"P11_KIT_SERVER_ADDRESS", "unix:path=" + sock}});
  ASSERT_TRUE(site.started()) << site.error();
  for (int i = 0; i < 5; ++i) {
    RunResult r = site.Fetch(key_.cert_file);
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  EXPECT_EQ(site.PresentedCertificate(), FirstPemCert(key_.cert_pem));
  std::vector<pid_t> pids = site.Pids();
  ASSERT_GE(pids.size(), 2u) << "expected the nginx master and a worker";
  for (pid_t pid : pids) {
    for (size_t s = 0; s < key_.secrets.size(); ++s) {
      uint64_t scanned = 0;
      EXPECT_FALSE(MemoryContains(pid, key_.secrets[s], &scanned))
          << "secret #" << s << " of the key found in nginx process " << pid;
      EXPECT_GT(scanned, 1000000u) << "the scan of " << pid << " read almost nothing";
    }
  }
}

// The control for the scan above: with the key in a PEM file, nginx holds it, and the scan finds it.
TEST_P(SoftHsmNginx, MemoryScanFindsAKeyThatNginxDoesHold) {
  TempDir site_dir;
  std::string port = std::to_string(FreePort());
  ASSERT_TRUE(WriteFile(site_dir / "nginx.conf",
      "daemon off; worker_processes 1; user root; pid " + site_dir.path() + "/nginx.pid;\n"
      "error_log " + site_dir.path() + "/error.log;\nevents {}\nhttp { access_log off;\n"
      "client_body_temp_path " + site_dir.path() + ";\n"
      "server { listen 127.0.0.1:" + port + " ssl; ssl_certificate " + key_.cert_file + ";\n"
      "ssl_certificate_key " + key_.key_file + "; location / { return 200 ok; } } }\n"));
  Process nginx({"nginx", "-p", site_dir.path(), "-c", site_dir / "nginx.conf"}, {},
                site_dir / "out");
  bool up = false;
  for (int i = 0; i < 100 && !up; ++i) {
    up = RunCmd({"curl", "-sk", "https://127.0.0.1:" + port + "/"}).exit_code == 0;
    if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(up) << ReadFile(site_dir / "error.log");
  uint64_t scanned = 0;
  // The private exponent/scalar as OpenSSL keeps it (little-endian limbs) is in the master.
  EXPECT_TRUE(MemoryContains(nginx.pid(), key_.secrets[2], &scanned));
}

TEST_P(SoftHsmNginx, WrongPinKeepsNginxDownAndSaysWhy) {
  ASSERT_TRUE(WriteFile(dir_ / "pin", "9999"));
  NginxSite site(dir_ / "nginx", Args(), env_);
  EXPECT_FALSE(site.started());
  EXPECT_NE(site.error().find("PIN incorrect"), std::string::npos) << site.error();
}

INSTANTIATE_TEST_SUITE_P(Keys, SoftHsmNginx, ::testing::Values("rsa", "ec"));

}  // namespace
}  // namespace kmra::integration
