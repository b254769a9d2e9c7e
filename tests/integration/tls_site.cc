#include "integration/tls_site.h"

#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <thread>

namespace kmra::integration {
namespace {

std::vector<uint8_t> BnParam(EVP_PKEY* pkey, const char* name) {
  BIGNUM* bn = nullptr;
  std::vector<uint8_t> out;
  if (EVP_PKEY_get_bn_param(pkey, name, &bn) == 1) {
    out.resize(static_cast<size_t>(BN_num_bytes(bn)));
    BN_bn2bin(bn, out.data());
    BN_clear_free(bn);
  }
  return out;
}

}  // namespace

TestKey MakeTestKey(const std::string& dir, const std::string& kind) {
  TestKey k;
  k.kind = kind;
  k.key_file = dir + "/" + kind + ".key";
  k.cert_file = dir + "/" + kind + ".crt";
  std::vector<std::string> alg = kind == "rsa"
      ? std::vector<std::string>{"-newkey", "rsa:2048"}
      : std::vector<std::string>{"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"};
  std::vector<std::string> argv{"openssl", "req", "-x509"};
  argv.insert(argv.end(), alg.begin(), alg.end());
  for (const char* a : {"-nodes", "-days", "2", "-subj", "/CN=localhost", "-addext",
                        "subjectAltName=DNS:localhost", "-keyout"}) {
    argv.emplace_back(a);
  }
  argv.push_back(k.key_file);
  argv.push_back("-out");
  argv.push_back(k.cert_file);
  RunResult r = RunCmd(argv);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  k.cert_pem = ReadFile(k.cert_file);

  FILE* f = fopen(k.key_file.c_str(), "r");
  EXPECT_NE(f, nullptr);
  if (f == nullptr) return k;
  EVP_PKEY* pkey = PEM_read_PrivateKey(f, nullptr, nullptr, nullptr);
  fclose(f);
  EXPECT_NE(pkey, nullptr);
  if (pkey == nullptr) return k;
  unsigned char* der = nullptr;
  PKCS8_PRIV_KEY_INFO* p8 = EVP_PKEY2PKCS8(pkey);
  int len = i2d_PKCS8_PRIV_KEY_INFO(p8, &der);
  k.secrets.emplace_back(der, der + len);
  OPENSSL_clear_free(der, static_cast<size_t>(len));
  PKCS8_PRIV_KEY_INFO_free(p8);
  std::vector<uint8_t> priv = BnParam(pkey, kind == "rsa" ? OSSL_PKEY_PARAM_RSA_D
                                                          : OSSL_PKEY_PARAM_PRIV_KEY);
  EXPECT_GE(priv.size(), 30u);
  k.secrets.push_back(priv);
  std::reverse(priv.begin(), priv.end());
  k.secrets.push_back(priv);
  EVP_PKEY_free(pkey);
  return k;
}

std::string KmraBin() { return EnvOr("KMRA_BIN", "kmra"); }

NginxSite::NginxSite(const std::string& dir, const std::vector<std::string>& config_args, Env env)
    : dir_(dir), port_(FreePort()) {
  std::vector<std::string> argv{KmraBin(), "nginx-config", "--standalone", dir,
                                "--listen", "127.0.0.1:" + std::to_string(port_), "--user", "root"};
  argv.insert(argv.end(), config_args.begin(), config_args.end());
  RunResult cfg = RunCmd(argv);
  if (cfg.exit_code != 0) {
    error_ = "kmra nginx-config failed: " + cfg.output;
    return;
  }
  env["OPENSSL_CONF"] = dir + "/openssl-kmra.cnf";
  nginx_ = std::make_unique<Process>(
      std::vector<std::string>{"nginx", "-p", dir, "-c", dir + "/nginx.conf"}, env,
      dir + "/nginx.out");
  // The master loads the key before it listens; wait until it serves or exits.
  for (int i = 0; i < 200; ++i) {
    if (!nginx_->Running()) break;
    if (Fetch("").exit_code != 7) {  // 7: could not connect
      started_ = true;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  error_ = ReadFile(dir + "/nginx.out") + ReadFile(dir + "/error.log");
  nginx_.reset();
}

NginxSite::~NginxSite() = default;

std::vector<pid_t> NginxSite::Pids() const {
  std::vector<pid_t> pids;
  if (!nginx_) return pids;
  pids.push_back(nginx_->pid());
  for (pid_t c : Children(nginx_->pid())) pids.push_back(c);
  return pids;
}

RunResult NginxSite::Fetch(const std::string& ca_file) const {
  std::string port = std::to_string(port_);
  std::vector<std::string> argv{"curl", "-sS", "--max-time", "10", "--resolve",
                                "localhost:" + port + ":127.0.0.1"};
  if (ca_file.empty()) {
    argv.push_back("-k");
  } else {
    argv.push_back("--cacert");
    argv.push_back(ca_file);
  }
  argv.push_back("https://localhost:" + port + "/");
  return RunCmd(argv, {}, 20);
}

std::string NginxSite::PresentedCertificate() const {
  RunResult r = RunCmd({"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(port_),
                     "-servername", "localhost", "-showcerts"}, {}, 20);
  return FirstPemCert(r.output);
}

std::string FirstPemCert(const std::string& pem) {
  const std::string begin = "-----BEGIN CERTIFICATE-----";
  const std::string end = "-----END CERTIFICATE-----";
  size_t b = pem.find(begin);
  if (b == std::string::npos) return "";
  size_t e = pem.find(end, b);
  if (e == std::string::npos) return "";
  return pem.substr(b, e + end.size() - b) + "\n";
}

}  // namespace kmra::integration
