// Overhead of the src/base and src/crypto wrappers over calling OpenSSL directly, on the hot paths
// other components build on: digests, ECDSA verification with raw r||s (every quote), EC key import
// from a quote's X||Y, AES key wrap with padding and RSA-OAEP (every key release), AES-GCM sealing
// (every token store write) and HKDF (every token start), base64 decoding (every API request).
// Each wrapper runs beside its direct-OpenSSL baseline in the same run.
//
//   build/release/bench/crypto_bench [--benchmark_min_time=1]
#include <benchmark/benchmark.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include <span>
#include <string>
#include <vector>

#include "base/base64.h"
#include "crypto/aes_gcm.h"
#include "crypto/aes_kw.h"
#include "crypto/ec.h"
#include "crypto/ecdsa.h"
#include "crypto/hash.h"
#include "crypto/hkdf.h"
#include "crypto/rsa.h"

namespace {

using namespace kmra::crypto;

std::vector<uint8_t> Bytes(size_t n) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(i * 131 + 7);
  return v;
}

void BM_Sha256_Ours(benchmark::State& s) {
  auto data = Bytes(static_cast<size_t>(s.range(0)));
  for (auto _ : s) benchmark::DoNotOptimize(Sha256(data));
  s.SetBytesProcessed(static_cast<int64_t>(s.iterations()) * s.range(0));
}
void BM_Sha256_OpenSsl(benchmark::State& s) {
  auto data = Bytes(static_cast<size_t>(s.range(0)));
  unsigned char out[32];
  unsigned int len;
  for (auto _ : s) {
    EVP_Digest(data.data(), data.size(), out, &len, EVP_sha256(), nullptr);
    benchmark::DoNotOptimize(out);
  }
  s.SetBytesProcessed(static_cast<int64_t>(s.iterations()) * s.range(0));
}
BENCHMARK(BM_Sha256_Ours)->Arg(64)->Arg(4096);
BENCHMARK(BM_Sha256_OpenSsl)->Arg(64)->Arg(4096);

struct EcFixture {
  PrivateKey key = *GenerateEcKey(EcCurve::kP256);
  PublicKey pub = *key.PublicKey();
  std::vector<uint8_t> msg = Bytes(432);  // an SGX quote's signed header + body
  std::vector<uint8_t> der = *EcdsaSign(key, HashAlg::kSha256, msg);
  std::vector<uint8_t> raw = *EcdsaDerToRaw(der, 32);
  std::vector<uint8_t> point = *EcPublicPoint(pub);
};
EcFixture& Ec() {
  static EcFixture f;
  return f;
}

void BM_EcdsaVerifyRaw_Ours(benchmark::State& s) {
  auto& f = Ec();
  for (auto _ : s) {
    if (!EcdsaVerifyRaw(f.pub, HashAlg::kSha256, f.msg, f.raw)) s.SkipWithError("verify failed");
  }
}
void BM_EcdsaVerifyDer_OpenSsl(benchmark::State& s) {
  auto& f = Ec();
  for (auto _ : s) {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, f.pub.get());
    int ok = EVP_DigestVerify(ctx, f.der.data(), f.der.size(), f.msg.data(), f.msg.size());
    EVP_MD_CTX_free(ctx);
    if (ok != 1) s.SkipWithError("verify failed");
  }
}
BENCHMARK(BM_EcdsaVerifyRaw_Ours);
BENCHMARK(BM_EcdsaVerifyDer_OpenSsl);

void BM_EcKeyFromXY_Ours(benchmark::State& s) {
  auto& f = Ec();
  std::vector<uint8_t> xy(f.point.begin() + 1, f.point.end());
  for (auto _ : s) benchmark::DoNotOptimize(EcPublicKeyFromPoint(EcCurve::kP256, xy));
}
BENCHMARK(BM_EcKeyFromXY_Ours);

void BM_AesKwpWrap_Ours(benchmark::State& s) {
  auto kek = Bytes(32);
  auto pkcs8 = Bytes(1218);  // an RSA-2048 PKCS#8 key
  for (auto _ : s) benchmark::DoNotOptimize(AesKeyWrapPad(kek, pkcs8));
}
void BM_AesKwpWrap_OpenSsl(benchmark::State& s) {
  auto kek = Bytes(32);
  auto pkcs8 = Bytes(1218);
  std::vector<uint8_t> out(pkcs8.size() + 16);
  for (auto _ : s) {
    EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
    int len = 0;
    int fin = 0;
    EVP_EncryptInit_ex(ctx, EVP_aes_256_wrap_pad(), nullptr, kek.data(), nullptr);
    EVP_EncryptUpdate(ctx, out.data(), &len, pkcs8.data(), static_cast<int>(pkcs8.size()));
    EVP_EncryptFinal_ex(ctx, out.data() + len, &fin);
    EVP_CIPHER_CTX_free(ctx);
    benchmark::DoNotOptimize(out);
  }
}
BENCHMARK(BM_AesKwpWrap_Ours);
BENCHMARK(BM_AesKwpWrap_OpenSsl);

// A token object record sealed as the token store seals it (random IV, AAD naming the file).
void BM_AesGcmSeal_Ours(benchmark::State& s) {
  auto key = Bytes(32);
  auto record = Bytes(1400);  // an RSA-2048 key object
  const std::string aad = "kmra-token-object-v1:0123456789abcdef";
  std::span<const uint8_t> aad_bytes(reinterpret_cast<const uint8_t*>(aad.data()), aad.size());
  for (auto _ : s) benchmark::DoNotOptimize(AesGcmSeal(key, record, aad_bytes));
}
void BM_AesGcmSeal_OpenSsl(benchmark::State& s) {
  auto key = Bytes(32);
  auto record = Bytes(1400);
  const std::string aad = "kmra-token-object-v1:0123456789abcdef";
  std::vector<uint8_t> out(12 + record.size() + 16);
  for (auto _ : s) {
    RAND_bytes(out.data(), 12);
    EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
    int len = 0;
    EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), nullptr, key.data(), out.data());
    EVP_EncryptUpdate(ctx, nullptr, &len, reinterpret_cast<const uint8_t*>(aad.data()),
                      static_cast<int>(aad.size()));
    EVP_EncryptUpdate(ctx, out.data() + 12, &len, record.data(), static_cast<int>(record.size()));
    EVP_EncryptFinal_ex(ctx, out.data() + 12 + len, &len);
    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, out.data() + 12 + record.size());
    EVP_CIPHER_CTX_free(ctx);
    benchmark::DoNotOptimize(out);
  }
}
BENCHMARK(BM_AesGcmSeal_Ours);
BENCHMARK(BM_AesGcmSeal_OpenSsl);

// The token store key from the platform sealing key.
void BM_HkdfSha256_Ours(benchmark::State& s) {
  auto ikm = Bytes(32);
  const std::string info = "kmra token store v1";
  std::span<const uint8_t> info_bytes(reinterpret_cast<const uint8_t*>(info.data()), info.size());
  for (auto _ : s) benchmark::DoNotOptimize(Hkdf(HashAlg::kSha256, ikm, {}, info_bytes, 32));
}
void BM_HkdfSha256_OpenSsl(benchmark::State& s) {
  auto ikm = Bytes(32);
  const std::string info = "kmra token store v1";
  uint8_t out[32];
  for (auto _ : s) {
    EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, nullptr);
    size_t len = sizeof out;
    EVP_PKEY_derive_init(ctx);
    EVP_PKEY_CTX_set_hkdf_md(ctx, EVP_sha256());
    EVP_PKEY_CTX_set1_hkdf_key(ctx, ikm.data(), static_cast<int>(ikm.size()));
    EVP_PKEY_CTX_add1_hkdf_info(ctx, reinterpret_cast<const uint8_t*>(info.data()),
                                static_cast<int>(info.size()));
    EVP_PKEY_derive(ctx, out, &len);
    EVP_PKEY_CTX_free(ctx);
    benchmark::DoNotOptimize(out);
  }
}
BENCHMARK(BM_HkdfSha256_Ours);
BENCHMARK(BM_HkdfSha256_OpenSsl);

struct RsaFixture {
  PrivateKey key = *GenerateRsaKey(3072);
  PublicKey pub = *key.PublicKey();
  OaepParams sha1{HashAlg::kSha1, std::nullopt, {}};
  std::vector<uint8_t> ct = *RsaOaepEncrypt(pub, Bytes(32), sha1);
};
RsaFixture& Rsa() {
  static RsaFixture f;
  return f;
}

void BM_RsaOaepDecrypt3072_Ours(benchmark::State& s) {
  auto& f = Rsa();
  for (auto _ : s) benchmark::DoNotOptimize(RsaOaepDecrypt(f.key, f.ct, f.sha1));
}
void BM_RsaOaepDecrypt3072_OpenSsl(benchmark::State& s) {
  auto& f = Rsa();
  std::vector<uint8_t> out(384);
  for (auto _ : s) {
    EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_pkey(nullptr, f.key.get(), nullptr);
    EVP_PKEY_decrypt_init(ctx);
    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING);
    EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha1());
    size_t len = out.size();
    EVP_PKEY_decrypt(ctx, out.data(), &len, f.ct.data(), f.ct.size());
    EVP_PKEY_CTX_free(ctx);
    benchmark::DoNotOptimize(out);
  }
}
BENCHMARK(BM_RsaOaepDecrypt3072_Ours);
BENCHMARK(BM_RsaOaepDecrypt3072_OpenSsl);

void BM_Base64Decode_Ours(benchmark::State& s) {
  std::string text = kmra::Base64Encode(Bytes(4096));
  for (auto _ : s) benchmark::DoNotOptimize(kmra::Base64Decode(text));
  s.SetBytesProcessed(static_cast<int64_t>(s.iterations()) * static_cast<int64_t>(text.size()));
}
void BM_Base64Decode_OpenSsl(benchmark::State& s) {
  std::string text = kmra::Base64Encode(Bytes(4096));
  std::vector<uint8_t> out(text.size());
  for (auto _ : s) {
    EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(text.data()),
                    static_cast<int>(text.size()));
    benchmark::DoNotOptimize(out);
  }
  s.SetBytesProcessed(static_cast<int64_t>(s.iterations()) * static_cast<int64_t>(text.size()));
}
BENCHMARK(BM_Base64Decode_Ours);
BENCHMARK(BM_Base64Decode_OpenSsl);

}  // namespace

BENCHMARK_MAIN();
