#include "crypto/rsa.h"

#include <openssl/core_names.h>
#include <openssl/rsa.h>

#include <string>

namespace kmra::crypto {
namespace {

const EVP_MD* Md(HashAlg alg) { return static_cast<const EVP_MD*>(internal::FetchedMd(alg)); }

std::string OaepName(const OaepParams& p) {
  return "OAEP " + std::string(HashName(p.hash)) + "/MGF1-" +
         std::string(HashName(p.mgf1.value_or(p.hash))) +
         (p.label.empty() ? std::string(", no label")
                          : ", a " + std::to_string(p.label.size()) + "-byte label");
}

size_t ModulusBytes(EVP_PKEY* pkey) { return static_cast<size_t>(EVP_PKEY_get_size(pkey)); }

ossl::Ptr<EVP_PKEY_CTX> Ctx(EVP_PKEY* pkey) {
  return ossl::Wrap(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey, nullptr));
}

Status SetOaep(EVP_PKEY_CTX* ctx, const OaepParams& p) {
  if (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) != 1 ||
      EVP_PKEY_CTX_set_rsa_oaep_md(ctx, Md(p.hash)) != 1 ||
      EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, Md(p.mgf1.value_or(p.hash))) != 1) {
    return ossl::Fail(Code::kInternal, "cannot set RSA-OAEP parameters");
  }
  if (!p.label.empty()) {
    // The context takes ownership of the label copy.
    void* copy = OPENSSL_memdup(p.label.data(), p.label.size());
    if (copy == nullptr ||
        EVP_PKEY_CTX_set0_rsa_oaep_label(ctx, copy, static_cast<int>(p.label.size())) != 1) {
      OPENSSL_free(copy);
      return ossl::Fail(Code::kInternal, "cannot set RSA-OAEP label");
    }
  }
  return OkStatus();
}

// Sets padding (and for PSS, MGF1 and salt) on a sign or verify context. `p.hash` is the
// signature hash of both paddings; the rest of `p` is PSS's.
Status SetSigPadding(EVP_PKEY_CTX* ctx, RsaPadding padding, const PssParams& p, bool verify) {
  if (padding == RsaPadding::kPkcs1v15) {
    if (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) != 1) {
      return ossl::Fail(Code::kInternal, "cannot set PKCS#1 v1.5 padding");
    }
    return OkStatus();
  }
  const int salt = p.salt_len ? static_cast<int>(*p.salt_len)
                              : (verify ? RSA_PSS_SALTLEN_AUTO : RSA_PSS_SALTLEN_DIGEST);
  if (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) != 1 ||
      EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, Md(p.mgf1.value_or(p.hash))) != 1 ||
      EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, salt) != 1) {
    return ossl::Fail(Code::kInternal, "cannot set PSS parameters");
  }
  return OkStatus();
}

std::optional<size_t> MaxSalt(EVP_PKEY* pkey, HashAlg hash) {
  const int bits = EVP_PKEY_get_bits(pkey);
  if (bits <= 1) return std::nullopt;
  const size_t em_len = (static_cast<size_t>(bits) - 1 + 7) / 8;
  const size_t need = HashSize(hash) + 2;
  if (em_len < need) return std::nullopt;
  return em_len - need;
}

std::optional<size_t> MaxOaepInput(EVP_PKEY* pkey, HashAlg hash) {
  const size_t k = ModulusBytes(pkey);
  const size_t need = 2 * HashSize(hash) + 2;
  if (k < need) return std::nullopt;
  return k - need;
}

Status CheckSaltLength(EVP_PKEY* pkey, const PssParams& p) {
  const auto max = MaxSalt(pkey, p.hash);
  if (max && (!p.salt_len || *p.salt_len <= *max)) return OkStatus();
  return InvalidArgument("RSA-PSS " + std::string(HashName(p.hash)) + " with a " +
                         (p.salt_len ? std::to_string(*p.salt_len) : std::string("digest-long")) +
                         "-byte salt does not fit a " + std::to_string(EVP_PKEY_get_bits(pkey)) +
                         "-bit key");
}

const char* PaddingName(RsaPadding p) {
  return p == RsaPadding::kPss ? "RSA-PSS" : "RSA PKCS#1 v1.5";
}

Status CheckSignatureLength(EVP_PKEY* pkey, RsaPadding padding, size_t len) {
  size_t k = ModulusBytes(pkey);
  if (len != k) {
    return InvalidArgument(std::string(PaddingName(padding)) + " signature is " +
                           std::to_string(len) + " bytes; this " +
                           std::to_string(EVP_PKEY_get_bits(pkey)) + "-bit key makes " +
                           std::to_string(k) + "-byte signatures");
  }
  return OkStatus();
}

Status Mismatch(RsaPadding padding, HashAlg hash) {
  ERR_clear_error();
  return Unauthenticated(std::string(PaddingName(padding)) + " " + std::string(HashName(hash)) +
                         " signature does not match the data and key");
}

Result<std::vector<uint8_t>> SignWith(EVP_PKEY_CTX* ctx, std::span<const uint8_t> in,
                                      size_t max_len) {
  std::vector<uint8_t> out(max_len);
  size_t len = out.size();
  if (EVP_PKEY_sign(ctx, out.data(), &len, in.data(), in.size()) != 1) {
    return ossl::Fail(Code::kInternal, "RSA signing failed");
  }
  out.resize(len);
  return out;
}

}  // namespace

Result<PrivateKey> GenerateRsaKey(int bits) {
  if (bits < 1024 || bits > 8192 || bits % 8 != 0) {
    return InvalidArgument("RSA key size " + std::to_string(bits) +
                           " bits is not supported; use 2048, 3072 or 4096");
  }
  EVP_PKEY* raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(bits));
  if (raw == nullptr) {
    return ossl::Fail(Code::kInternal, "cannot generate an RSA-" + std::to_string(bits) + " key");
  }
  return PrivateKey::Adopt(ossl::Ptr<EVP_PKEY>(raw));
}

Result<RsaPublicNumbers> RsaPublicNumbersOf(const PublicKey& key) {
  KMRA_TRY(internal::RequireType(key.get(), KeyType::kRsa, "reading RSA public numbers"));
  BIGNUM* n = nullptr;
  BIGNUM* e = nullptr;
  if (EVP_PKEY_get_bn_param(key.get(), OSSL_PKEY_PARAM_RSA_N, &n) != 1 ||
      EVP_PKEY_get_bn_param(key.get(), OSSL_PKEY_PARAM_RSA_E, &e) != 1) {
    BN_free(n);
    BN_free(e);
    return ossl::Fail(Code::kInternal, "cannot read RSA public numbers");
  }
  ossl::Ptr<BIGNUM> n_owner(n), e_owner(e);
  RsaPublicNumbers out;
  out.modulus.resize(static_cast<size_t>(BN_num_bytes(n)));
  out.exponent.resize(static_cast<size_t>(BN_num_bytes(e)));
  BN_bn2bin(n, out.modulus.data());
  BN_bn2bin(e, out.exponent.data());
  return out;
}

Result<PublicKey> RsaPublicKeyFromNumbers(std::span<const uint8_t> modulus,
                                          std::span<const uint8_t> exponent) {
  while (!modulus.empty() && modulus[0] == 0) modulus = modulus.subspan(1);
  while (!exponent.empty() && exponent[0] == 0) exponent = exponent.subspan(1);
  if (modulus.size() < 128 || modulus.size() > 1024) {
    return InvalidArgument("RSA modulus is " + std::to_string(modulus.size()) +
                           " bytes; expected 128 to 1024 (1024 to 8192 bits)");
  }
  if ((modulus.back() & 1) == 0) return InvalidArgument("RSA modulus is even");
  if (exponent.empty() || exponent.size() > 8 || (exponent.back() & 1) == 0 ||
      (exponent.size() == 1 && exponent[0] < 3)) {
    return InvalidArgument("RSA public exponent must be odd, at least 3 and at most 8 bytes (got " +
                           std::to_string(exponent.size()) + " bytes)");
  }
  ossl::Ptr<BIGNUM> n(BN_bin2bn(modulus.data(), static_cast<int>(modulus.size()), nullptr));
  ossl::Ptr<BIGNUM> e(BN_bin2bn(exponent.data(), static_cast<int>(exponent.size()), nullptr));
  auto bld = ossl::Wrap(OSSL_PARAM_BLD_new());
  if (!n || !e || !bld || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e.get()) != 1) {
    return ossl::Fail(Code::kInternal, "cannot build RSA key parameters");
  }
  auto params = ossl::Wrap(OSSL_PARAM_BLD_to_param(bld.get()));
  auto ctx = ossl::Wrap(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    return ossl::Fail(Code::kInvalidArgument, "RSA public numbers do not form a key");
  }
  return PublicKey::Adopt(ossl::Ptr<EVP_PKEY>(raw));
}

std::optional<size_t> RsaOaepMaxInput(const PublicKey& key, const OaepParams& params) {
  if (internal::TypeOf(key.get()) != KeyType::kRsa) return std::nullopt;
  return MaxOaepInput(key.get(), params.hash);
}

std::optional<size_t> RsaPssMaxSalt(const PublicKey& key, HashAlg hash) {
  if (internal::TypeOf(key.get()) != KeyType::kRsa) return std::nullopt;
  return MaxSalt(key.get(), hash);
}

Result<std::vector<uint8_t>> RsaOaepEncrypt(const PublicKey& key,
                                            std::span<const uint8_t> plaintext,
                                            const OaepParams& params) {
  KMRA_TRY(internal::RequireType(key.get(), KeyType::kRsa, "RSA-OAEP encryption"));
  const size_t k = ModulusBytes(key.get());
  const auto max = MaxOaepInput(key.get(), params.hash);
  if (!max || plaintext.size() > *max) {
    return InvalidArgument("RSA-OAEP input is " + std::to_string(plaintext.size()) +
                           " bytes; this key with " + OaepName(params) + " takes at most " +
                           std::to_string(max.value_or(0)));
  }
  auto ctx = Ctx(key.get());
  if (!ctx || EVP_PKEY_encrypt_init(ctx.get()) != 1) {
    return ossl::Fail(Code::kInternal, "cannot start RSA-OAEP encryption");
  }
  KMRA_TRY(SetOaep(ctx.get(), params));
  std::vector<uint8_t> out(k);
  size_t len = out.size();
  if (EVP_PKEY_encrypt(ctx.get(), out.data(), &len, plaintext.data(), plaintext.size()) != 1) {
    return ossl::Fail(Code::kInternal, "RSA-OAEP encryption failed");
  }
  out.resize(len);
  return out;
}

Result<SecretBytes> RsaOaepDecrypt(const PrivateKey& key, std::span<const uint8_t> ciphertext,
                                   const OaepParams& params) {
  KMRA_TRY(internal::RequireType(key.get(), KeyType::kRsa, "RSA-OAEP decryption"));
  const size_t k = ModulusBytes(key.get());
  if (ciphertext.size() != k) {
    return InvalidArgument("RSA-OAEP ciphertext is " + std::to_string(ciphertext.size()) +
                           " bytes; this " + std::to_string(key.bits()) + "-bit key needs " +
                           std::to_string(k));
  }
  auto ctx = Ctx(key.get());
  if (!ctx || EVP_PKEY_decrypt_init(ctx.get()) != 1) {
    return ossl::Fail(Code::kInternal, "cannot start RSA-OAEP decryption");
  }
  KMRA_TRY(SetOaep(ctx.get(), params));
  SecretBytes out(k);
  size_t len = out.size();
  if (EVP_PKEY_decrypt(ctx.get(), out.RevealMutable().data(), &len, ciphertext.data(),
                       ciphertext.size()) != 1) {
    ERR_clear_error();
    return Unauthenticated(
        "RSA-OAEP decryption failed: the ciphertext was not made for this key "
        "with " +
        OaepName(params));
  }
  out.resize(len);
  return out;
}

Result<std::vector<uint8_t>> RsaSign(const PrivateKey& key, RsaPadding padding, HashAlg hash,
                                     std::span<const uint8_t> message) {
  return RsaSignDigest(key, padding, hash, Digest(hash, message));
}

Status RsaVerify(const PublicKey& key, RsaPadding padding, HashAlg hash,
                 std::span<const uint8_t> message, std::span<const uint8_t> signature) {
  return RsaVerifyDigest(key, padding, hash, Digest(hash, message), signature);
}

namespace {

Status CheckDigest(HashAlg hash, std::span<const uint8_t> digest) {
  if (digest.size() == HashSize(hash)) return OkStatus();
  return InvalidArgument("digest is " + std::to_string(digest.size()) + " bytes; " +
                         std::string(HashName(hash)) + " is " + std::to_string(HashSize(hash)));
}

// The one RSA signing path over a digest: PKCS#1 v1.5 with `p.hash`, or PSS with all of `p`.
Result<std::vector<uint8_t>> SignDigestWith(const PrivateKey& key, RsaPadding padding,
                                            const PssParams& p, std::span<const uint8_t> digest) {
  KMRA_TRY(internal::RequireType(key.get(), KeyType::kRsa,
                                 PaddingName(padding) + std::string(" signing")));
  KMRA_TRY(CheckDigest(p.hash, digest));
  if (padding == RsaPadding::kPss) KMRA_TRY(CheckSaltLength(key.get(), p));
  auto ctx = Ctx(key.get());
  if (!ctx || EVP_PKEY_sign_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_signature_md(ctx.get(), Md(p.hash)) != 1) {
    return ossl::Fail(Code::kInternal, "cannot start RSA signing");
  }
  KMRA_TRY(SetSigPadding(ctx.get(), padding, p, false));
  return SignWith(ctx.get(), digest, ModulusBytes(key.get()));
}

// The one RSA verification path over a digest (see SignDigestWith).
Status VerifyDigestWith(const PublicKey& key, RsaPadding padding, const PssParams& p,
                        std::span<const uint8_t> digest, std::span<const uint8_t> signature) {
  KMRA_TRY(internal::RequireType(key.get(), KeyType::kRsa,
                                 PaddingName(padding) + std::string(" verification")));
  KMRA_TRY(CheckSignatureLength(key.get(), padding, signature.size()));
  KMRA_TRY(CheckDigest(p.hash, digest));
  if (padding == RsaPadding::kPss) KMRA_TRY(CheckSaltLength(key.get(), p));
  auto ctx = Ctx(key.get());
  if (!ctx || EVP_PKEY_verify_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_signature_md(ctx.get(), Md(p.hash)) != 1) {
    return ossl::Fail(Code::kInternal, "cannot start RSA verification");
  }
  KMRA_TRY(SetSigPadding(ctx.get(), padding, p, true));
  if (EVP_PKEY_verify(ctx.get(), signature.data(), signature.size(), digest.data(),
                      digest.size()) != 1) {
    return Mismatch(padding, p.hash);
  }
  return OkStatus();
}

}  // namespace

Result<std::vector<uint8_t>> RsaSignDigest(const PrivateKey& key, RsaPadding padding, HashAlg hash,
                                           std::span<const uint8_t> digest) {
  return SignDigestWith(key, padding, PssParams{hash, std::nullopt, std::nullopt}, digest);
}

Status RsaVerifyDigest(const PublicKey& key, RsaPadding padding, HashAlg hash,
                       std::span<const uint8_t> digest, std::span<const uint8_t> signature) {
  return VerifyDigestWith(key, padding, PssParams{hash, std::nullopt, std::nullopt}, digest,
                          signature);
}

Result<std::vector<uint8_t>> RsaPssSignDigest(const PrivateKey& key,
                                              std::span<const uint8_t> digest,
                                              const PssParams& params) {
  return SignDigestWith(key, RsaPadding::kPss, params, digest);
}

Status RsaPssVerifyDigest(const PublicKey& key, std::span<const uint8_t> digest,
                          std::span<const uint8_t> signature, const PssParams& params) {
  return VerifyDigestWith(key, RsaPadding::kPss, params, digest, signature);
}

Result<std::vector<uint8_t>> RsaSignPkcs1Raw(const PrivateKey& key, std::span<const uint8_t> data) {
  KMRA_TRY(internal::RequireType(key.get(), KeyType::kRsa, "RSA PKCS#1 v1.5 signing"));
  const size_t k = ModulusBytes(key.get());
  if (data.size() > k - 11) {
    return InvalidArgument("RSA PKCS#1 v1.5 input is " + std::to_string(data.size()) +
                           " bytes; this key takes at most " + std::to_string(k - 11));
  }
  auto ctx = Ctx(key.get());
  if (!ctx || EVP_PKEY_sign_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) != 1) {
    return ossl::Fail(Code::kInternal, "cannot start RSA signing");
  }
  return SignWith(ctx.get(), data, k);
}

}  // namespace kmra::crypto
