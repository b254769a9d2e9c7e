// Keystore micro benchmarks: the release wrap in SoftHSM2 (the HSM part of one key release) against the
// same cryptography in plain OpenSSL with the key in memory (the baseline: what a server without an HSM
// would do), and the state store operations of one release (nonce issue + consume, audit append) on SQLite.
//
//   cmake --preset release && cmake --build --preset release --target keystore_bench
//   build/release/bench/keystore_bench
#include <benchmark/benchmark.h>
#include <openssl/core_names.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "crypto/ossl.h"
#include "p11/keys.h"
#include "p11/session_pool.h"
#include "p11/wrap.h"
#include "store/store.h"

namespace {

using namespace kmra;

const char* SoftHsmPath() {
  for (const char* p : {"/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so"}) {
    if (std::filesystem::exists(p)) return p;
  }
  return "/usr/lib/softhsm/libsofthsm2.so";
}

// One SoftHSM2 token in a temp dir with an RSA-2048 and a P-256 key, shared by every benchmark.
struct Env {
  std::string dir;
  std::unique_ptr<p11::SessionPool> pool;
  std::unique_ptr<store::Store> store;
  p11::RsaPublicKey cust_pub;
  ossl::Ptr<EVP_PKEY> cust;

  Env() {
    char tmpl[] = "/tmp/kmra-bench-XXXXXX";
    dir = ::mkdtemp(tmpl);
    std::filesystem::create_directories(dir + "/tokens");
    std::ofstream(dir + "/softhsm2.conf") << "directories.tokendir = " << dir << "/tokens\n"
                                          << "objectstore.backend = file\nlog.level = ERROR\n";
    ::setenv("SOFTHSM2_CONF", (dir + "/softhsm2.conf").c_str(), 1);
    if (std::system("softhsm2-util --init-token --free --label bench --pin 1234 --so-pin 5678 >/dev/null") != 0) {
      std::fprintf(stderr, "softhsm2-util failed\n");
      std::exit(1);
    }
    pool = p11::SessionPool::Create({SoftHsmPath(), "bench", SecretBytes::FromString("1234"), 4});
    auto lease = pool->Acquire();
    if (!lease) {
      std::fprintf(stderr, "%s\n", lease.error().ToString().c_str());
      std::exit(1);
    }
    (void)p11::GenerateKeyPair(**lease, *p11::KeySpec::Parse("rsa-2048"), {"rsa", {}});
    (void)p11::GenerateKeyPair(**lease, *p11::KeySpec::Parse("ec-p256"), {"ec", {}});
    cust = ossl::Wrap(EVP_RSA_gen(3072));
    int len = i2d_PUBKEY(cust.get(), nullptr);
    std::vector<uint8_t> spki(static_cast<size_t>(len));
    uint8_t* p = spki.data();
    i2d_PUBKEY(cust.get(), &p);
    cust_pub = *p11::RsaPublicKeyFromSpki(spki);
    store = std::move(*store::OpenSqliteStore(dir + "/state.db"));
  }
  ~Env() { std::filesystem::remove_all(dir); }
};

Env& GetEnv() {
  static Env* env = new Env();
  return *env;
}

void BM_ReleaseWrapSoftHsm(benchmark::State& state, const char* label) {
  Env& env = GetEnv();
  for (auto _ : state) {
    auto lease = env.pool->Acquire();
    auto key = p11::FindKey(**lease, {label, {}});
    auto wrapped = p11::WrapForRelease(**lease, key->private_key, env.cust_pub, p11::OaepChoice::kSha1);
    if (!wrapped) state.SkipWithError(wrapped.error().ToString().c_str());
    benchmark::DoNotOptimize(wrapped->wrapped_key.data());
  }
}
// The same with the key's handle looked up once (token object handles stay valid across the sessions
// of one process, PKCS#11 2.40 section 2.7), as a server caching handles would do.
void BM_ReleaseWrapSoftHsmCachedHandle(benchmark::State& state, const char* label) {
  Env& env = GetEnv();
  CK_OBJECT_HANDLE handle;
  {
    auto lease = env.pool->Acquire();
    handle = p11::FindKey(**lease, {label, {}})->private_key;
  }
  for (auto _ : state) {
    auto lease = env.pool->Acquire();
    auto wrapped = p11::WrapForRelease(**lease, handle, env.cust_pub, p11::OaepChoice::kSha1);
    if (!wrapped) state.SkipWithError(wrapped.error().ToString().c_str());
    benchmark::DoNotOptimize(wrapped->wrapped_key.data());
  }
}
BENCHMARK_CAPTURE(BM_ReleaseWrapSoftHsmCachedHandle, rsa2048, "rsa")->UseRealTime();
BENCHMARK_CAPTURE(BM_ReleaseWrapSoftHsmCachedHandle, p256, "ec")->UseRealTime();

BENCHMARK_CAPTURE(BM_ReleaseWrapSoftHsm, rsa2048, "rsa")->UseRealTime();
BENCHMARK_CAPTURE(BM_ReleaseWrapSoftHsm, p256, "ec")->UseRealTime();
BENCHMARK_CAPTURE(BM_ReleaseWrapSoftHsm, rsa2048, "rsa")->Threads(2)->UseRealTime();

// Baseline: the same three steps in OpenSSL with the private key in memory: random AES-256 key,
// AES-KWP(key, PKCS#8), RSA-OAEP-SHA1(cust_pub, key).
void BM_ReleaseWrapOpenSsl(benchmark::State& state, const char* type) {
  Env& env = GetEnv();
  auto key = ossl::Wrap(std::string(type) == "rsa" ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256"));
  auto p8 = ossl::Wrap(EVP_PKEY2PKCS8(key.get()));
  int p8_len = i2d_PKCS8_PRIV_KEY_INFO(p8.get(), nullptr);
  std::vector<uint8_t> der(static_cast<size_t>(p8_len));
  uint8_t* p = der.data();
  i2d_PKCS8_PRIV_KEY_INFO(p8.get(), &p);
  for (auto _ : state) {
    uint8_t swk[32];
    RAND_bytes(swk, sizeof(swk));
    auto cctx = ossl::Wrap(EVP_CIPHER_CTX_new());
    EVP_CIPHER_CTX_set_flags(cctx.get(), EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
    std::vector<uint8_t> wrapped(der.size() + 16);
    int len = 0;
    int fin = 0;
    EVP_EncryptInit_ex(cctx.get(), EVP_aes_256_wrap_pad(), nullptr, swk, nullptr);
    EVP_EncryptUpdate(cctx.get(), wrapped.data(), &len, der.data(), static_cast<int>(der.size()));
    EVP_EncryptFinal_ex(cctx.get(), wrapped.data() + len, &fin);
    auto ctx = ossl::Wrap(EVP_PKEY_CTX_new(env.cust.get(), nullptr));
    EVP_PKEY_encrypt_init(ctx.get());
    EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING);
    EVP_PKEY_CTX_set_rsa_oaep_md(ctx.get(), EVP_sha1());
    uint8_t out[512];
    size_t out_len = sizeof(out);
    EVP_PKEY_encrypt(ctx.get(), out, &out_len, swk, sizeof(swk));
    benchmark::DoNotOptimize(out);
  }
}
BENCHMARK_CAPTURE(BM_ReleaseWrapOpenSsl, rsa2048, "rsa")->UseRealTime();
BENCHMARK_CAPTURE(BM_ReleaseWrapOpenSsl, p256, "ec")->UseRealTime();

// The store work of one release: issue a server nonce, consume it, append the audit record.
void BM_StoreReleaseBookkeeping(benchmark::State& state) {
  Env& env = GetEnv();
  uint64_t counter = 0;
  std::string record = R"({"event":"release","client":"compute-1","key":"web","version":1,)"
                       R"("verdict":"allow","tcb_status":"UpToDate","mrenclave":")" +
                       std::string(64, 'a') + "\"}";
  for (auto _ : state) {
    std::vector<uint8_t> nonce(32);
    RAND_bytes(nonce.data(), 24);
    std::memcpy(nonce.data() + 24, &++counter, sizeof(counter));
    if (!env.store->PutNonce(nonce, store::NonceKind::kServerIssued, 2000)) state.SkipWithError("put");
    if (!env.store->ConsumeNonce(nonce, 1000)) state.SkipWithError("consume");
    if (!env.store->AppendAudit(record, 1000)) state.SkipWithError("audit");
  }
}
BENCHMARK(BM_StoreReleaseBookkeeping)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
