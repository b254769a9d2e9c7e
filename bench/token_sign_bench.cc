// Signatures per second through PKCS#11: our token (libkmra-pkcs11.so on the simulated platform)
// against SoftHSM2 2.6.1 and raw OpenSSL in the same run, for RSA-2048 (CKM_RSA_PKCS_PSS over a
// SHA-256 hash, what TLS 1.3 asks through libp11) and P-256 (CKM_ECDSA over a SHA-256 hash).
// Also our token behind `p11-kit server` (isolation mode) through p11-kit-client.so: there the work
// happens in another process, so those rows are timed in real time (wall clock per signature).
//
//   cmake --preset release && cmake --build --preset release --target token_sign_bench kmra
//   build/release/bench/token_sign_bench
#include <benchmark/benchmark.h>
#include <dlfcn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <p11-kit/pkcs11.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>

namespace {

constexpr char kSoftHsm[] = "/usr/lib/softhsm/libsofthsm2.so";
constexpr char kP11KitClient[] = "/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so";
const uint8_t kHash[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                           17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

struct P11 {
  CK_FUNCTION_LIST_PTR f = nullptr;
  CK_SESSION_HANDLE s = 0;
  CK_OBJECT_HANDLE rsa = 0, ec = 0;
  std::string error;
};

int Sh(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()); }

// Loads a module, logs in to its first token and generates the two signing keys.
P11 Open(const std::string& path, const char* pin) {
  P11 p;
  void* lib = dlopen(path.c_str(), RTLD_NOW);
  if (lib == nullptr) {
    p.error = dlerror();
    return p;
  }
  auto get = reinterpret_cast<CK_C_GetFunctionList>(dlsym(lib, "C_GetFunctionList"));
  CK_SLOT_ID slots[8];
  CK_ULONG n = 8;
  if (get(&p.f) != CKR_OK || p.f->C_Initialize(nullptr) != CKR_OK ||
      p.f->C_GetSlotList(CK_TRUE, slots, &n) != CKR_OK || n == 0 ||
      p.f->C_OpenSession(slots[0], CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &p.s) != CKR_OK ||
      p.f->C_Login(p.s, CKU_USER, reinterpret_cast<CK_UTF8CHAR_PTR>(const_cast<char*>(pin)),
                   std::strlen(pin)) != CKR_OK) {
    p.error = "cannot open " + path;
    return p;
  }
  CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
  CK_ULONG bits = 2048;
  uint8_t p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
  CK_ATTRIBUTE rsa_pub[] = {{CKA_MODULUS_BITS, &bits, sizeof bits}, {CKA_TOKEN, &no, 1}, {CKA_VERIFY, &yes, 1}};
  CK_ATTRIBUTE ec_pub[] = {{CKA_EC_PARAMS, p256, sizeof p256}, {CKA_TOKEN, &no, 1}, {CKA_VERIFY, &yes, 1}};
  CK_ATTRIBUTE priv[] = {{CKA_TOKEN, &no, 1}, {CKA_SIGN, &yes, 1}, {CKA_PRIVATE, &yes, 1}};
  CK_MECHANISM rsa_gen = {CKM_RSA_PKCS_KEY_PAIR_GEN, nullptr, 0};
  CK_MECHANISM ec_gen = {CKM_EC_KEY_PAIR_GEN, nullptr, 0};
  CK_OBJECT_HANDLE pub;
  if (p.f->C_GenerateKeyPair(p.s, &rsa_gen, rsa_pub, 3, priv, 3, &pub, &p.rsa) != CKR_OK ||
      p.f->C_GenerateKeyPair(p.s, &ec_gen, ec_pub, 3, priv, 3, &pub, &p.ec) != CKR_OK) {
    p.error = "key generation failed in " + path;
  }
  return p;
}

struct Setup {
  P11 ours, softhsm, ours_p11kit;
  std::string p11kit_pid;
  EVP_PKEY* rsa = nullptr;
  EVP_PKEY* ec = nullptr;
  std::string error;

  Setup() {
    char tmpl[] = "/tmp/kmra-bench-XXXXXX";
    const std::string dir = mkdtemp(tmpl);
    const char* env_bin = std::getenv("KMRA_BIN");
    const std::string kmra = env_bin != nullptr ? env_bin : KMRA_BENCH_KMRA;
    const std::string module = KMRA_BENCH_MODULE;
    if (Sh(kmra + " pki init --dir " + dir + "/pki") != 0 ||
        Sh(kmra + " token init --module " + module + " --conf " + dir + "/token.conf --token-dir " +
           dir + "/token --platform sim --platform-dir " + dir + "/pki/sgx/platform-1 --label bench " +
           "--so-pin 5678 --pin 1234") != 0) {
      error = "kmra pki init / token init failed (" + kmra + ")";
      return;
    }
    setenv("KMRA_TOKEN_CONF", (dir + "/token.conf").c_str(), 1);
    std::FILE* f = std::fopen((dir + "/softhsm2.conf").c_str(), "w");
    std::fprintf(f, "directories.tokendir = %s/hsm\nobjectstore.backend = file\nlog.level = ERROR\n",
                 dir.c_str());
    std::fclose(f);
    Sh("mkdir -p " + dir + "/hsm");
    setenv("SOFTHSM2_CONF", (dir + "/softhsm2.conf").c_str(), 1);
    if (Sh("softhsm2-util --init-token --free --label bench --pin 1234 --so-pin 5678") != 0) {
      error = "softhsm2-util --init-token failed";
      return;
    }
    ours = Open(module, "1234");
    softhsm = Open(kSoftHsm, "1234");
    error = ours.error + softhsm.error;
    // Isolation: p11-kit server (it daemonizes and prints its address and PID) holds the token.
    const std::string sock = dir + "/p11kit.sock";
    if (Sh("p11-kit server -n " + sock + " --provider " + module + " pkcs11:token=bench > " + dir +
           "/p11kit.env") == 0) {
      std::FILE* env = std::fopen((dir + "/p11kit.env").c_str(), "r");
      char line[512];
      while (env != nullptr && std::fgets(line, sizeof line, env) != nullptr) {
        std::string l(line);
        const std::string key = "P11_KIT_SERVER_PID=";
        if (l.rfind(key, 0) == 0) p11kit_pid = l.substr(key.size(), l.find(';') - key.size());
      }
      if (env != nullptr) std::fclose(env);
      setenv("P11_KIT_SERVER_ADDRESS", ("unix:path=" + sock).c_str(), 1);
      ours_p11kit = Open(kP11KitClient, "1234");
    } else {
      ours_p11kit.error = "p11-kit server did not start";
    }
    rsa = EVP_RSA_gen(2048);
    ec = EVP_EC_gen("P-256");
  }
};

Setup& S() {
  static Setup* s = [] {
    auto* setup = new Setup();
    std::atexit([] {
      if (!S().p11kit_pid.empty()) Sh("kill " + S().p11kit_pid);
    });
    return setup;
  }();
  return *s;
}

void SignP11(benchmark::State& state, P11 Setup::*which, bool rsa) {
  Setup& s = S();
  P11& p = s.*which;
  if (!s.error.empty() || !p.error.empty()) {
    state.SkipWithError((s.error + p.error).c_str());
    return;
  }
  CK_RSA_PKCS_PSS_PARAMS pss = {CKM_SHA256, CKG_MGF1_SHA256, 32};
  CK_MECHANISM m = rsa ? CK_MECHANISM{CKM_RSA_PKCS_PSS, &pss, sizeof pss}
                       : CK_MECHANISM{CKM_ECDSA, nullptr, 0};
  uint8_t sig[512];
  for (auto _ : state) {
    CK_ULONG len = sizeof sig;
    if (p.f->C_SignInit(p.s, &m, rsa ? p.rsa : p.ec) != CKR_OK ||
        p.f->C_Sign(p.s, const_cast<uint8_t*>(kHash), sizeof kHash, sig, &len) != CKR_OK) {
      state.SkipWithError("C_Sign failed");
      return;
    }
    benchmark::DoNotOptimize(sig);
  }
  state.SetItemsProcessed(state.iterations());
}

// Raw OpenSSL: one signature context per signature, as OpenSSL's TLS stack does per handshake.
void SignOpenSsl(benchmark::State& state, bool rsa) {
  Setup& s = S();
  uint8_t sig[512];
  for (auto _ : state) {
    EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_pkey(nullptr, rsa ? s.rsa : s.ec, nullptr);
    size_t len = sizeof sig;
    EVP_PKEY_sign_init(ctx);
    if (rsa) {
      EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING);
      EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256());
      EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha256());
      EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, 32);
    }
    if (EVP_PKEY_sign(ctx, sig, &len, kHash, sizeof kHash) != 1) state.SkipWithError("sign failed");
    EVP_PKEY_CTX_free(ctx);
    benchmark::DoNotOptimize(sig);
  }
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK_CAPTURE(SignOpenSsl, rsa2048_pss, true)->Unit(benchmark::kMicrosecond)->MinTime(2.0);
BENCHMARK_CAPTURE(SignP11, rsa2048_pss_ours, &Setup::ours, true)->Unit(benchmark::kMicrosecond)->MinTime(2.0);
BENCHMARK_CAPTURE(SignP11, rsa2048_pss_softhsm2, &Setup::softhsm, true)->Unit(benchmark::kMicrosecond)->MinTime(2.0);
BENCHMARK_CAPTURE(SignOpenSsl, p256_ecdsa, false)->Unit(benchmark::kMicrosecond)->MinTime(2.0);
BENCHMARK_CAPTURE(SignP11, p256_ecdsa_ours, &Setup::ours, false)->Unit(benchmark::kMicrosecond)->MinTime(2.0);
BENCHMARK_CAPTURE(SignP11, p256_ecdsa_softhsm2, &Setup::softhsm, false)->Unit(benchmark::kMicrosecond)->MinTime(2.0);
BENCHMARK_CAPTURE(SignP11, rsa2048_pss_ours_p11kit, &Setup::ours_p11kit, true)
    ->Unit(benchmark::kMicrosecond)->MinTime(2.0)->UseRealTime();
BENCHMARK_CAPTURE(SignP11, p256_ecdsa_ours_p11kit, &Setup::ours_p11kit, false)
    ->Unit(benchmark::kMicrosecond)->MinTime(2.0)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
