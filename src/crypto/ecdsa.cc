#include "crypto/ecdsa.h"

#include <string>

#include "crypto/ec.h"

namespace kmra::crypto {
namespace {

const EVP_MD* Md(HashAlg alg) { return static_cast<const EVP_MD*>(internal::FetchedMd(alg)); }

// Rejects a signature that is not a single, complete DER ECDSA-Sig-Value before OpenSSL sees it,
// so malformed input gets its own message instead of "does not match".
Status CheckDer(std::span<const uint8_t> der) {
  const unsigned char* p = der.data();
  auto sig = ossl::Wrap(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
  if (!sig) {
    ERR_clear_error();
    return InvalidArgument("ECDSA signature is not a DER SEQUENCE of two INTEGERs (" +
                           std::to_string(der.size()) + " bytes)");
  }
  if (p != der.data() + der.size()) {
    return InvalidArgument("ECDSA signature DER has " +
                           std::to_string(der.data() + der.size() - p) + " trailing bytes");
  }
  return OkStatus();
}

Status VerifyResult(int rc, const char* what) {
  if (rc == 1) return OkStatus();
  ERR_clear_error();  // a mismatch leaves only noise in the queue
  return Unauthenticated(std::string(what) + ": the signature does not match the data and key");
}

}  // namespace

Result<std::vector<uint8_t>> EcdsaRawToDer(std::span<const uint8_t> raw) {
  if (raw.empty() || raw.size() % 2 != 0 || raw.size() > 132) {
    return InvalidArgument("raw ECDSA signature is " + std::to_string(raw.size()) +
                           " bytes; expected r||s of equal halves (64 for P-256, 96 for P-384)");
  }
  // Each half is an unsigned big-endian integer: DER wants it minimal (leading zero bytes dropped,
  // one kept for zero) and non-negative (a zero byte before a set top bit).
  const size_t half = raw.size() / 2;
  auto minimal = [half](std::span<const uint8_t> v) {
    size_t skip = 0;
    while (skip + 1 < half && v[skip] == 0) ++skip;
    return v.subspan(skip);
  };
  const std::span<const uint8_t> ints[2] = {minimal(raw.first(half)), minimal(raw.last(half))};
  size_t body = 0;
  for (auto v : ints) body += 2 + (v[0] & 0x80 ? 1 : 0) + v.size();
  std::vector<uint8_t> out;
  out.reserve(3 + body);
  out.push_back(0x30);  // SEQUENCE; at most 2 * (2 + 67) = 138 content bytes
  if (body >= 0x80) out.push_back(0x81);
  out.push_back(static_cast<uint8_t>(body));
  for (auto v : ints) {
    const bool pad = (v[0] & 0x80) != 0;
    out.push_back(0x02);  // INTEGER
    out.push_back(static_cast<uint8_t>(v.size() + (pad ? 1 : 0)));
    if (pad) out.push_back(0x00);
    out.insert(out.end(), v.begin(), v.end());
  }
  return out;
}

Result<std::vector<uint8_t>> EcdsaDerToRaw(std::span<const uint8_t> der, size_t coordinate_size) {
  KMRA_TRY(CheckDer(der));
  const unsigned char* p = der.data();
  auto sig = ossl::Wrap(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
  const BIGNUM* r = ECDSA_SIG_get0_r(sig.get());
  const BIGNUM* s = ECDSA_SIG_get0_s(sig.get());
  if (BN_is_negative(r) || BN_is_negative(s)) {
    return InvalidArgument("ECDSA signature has a negative r or s");
  }
  std::vector<uint8_t> out(2 * coordinate_size);
  const int n = static_cast<int>(coordinate_size);
  if (BN_bn2binpad(r, out.data(), n) != n || BN_bn2binpad(s, out.data() + n, n) != n) {
    ERR_clear_error();
    return InvalidArgument("ECDSA signature r or s is longer than " +
                           std::to_string(coordinate_size) + " bytes");
  }
  return out;
}

Result<std::vector<uint8_t>> EcdsaSign(const PrivateKey& key, HashAlg hash,
                                       std::span<const uint8_t> message) {
  KMRA_TRY(internal::RequireType(key.get(), KeyType::kEc, "ECDSA signing"));
  auto ctx = ossl::Wrap(EVP_MD_CTX_new());
  size_t len = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, Md(hash), nullptr, key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, message.data(), message.size()) != 1) {
    return ossl::Fail(Code::kInternal, "ECDSA signing failed");
  }
  std::vector<uint8_t> out(len);
  if (EVP_DigestSign(ctx.get(), out.data(), &len, message.data(), message.size()) != 1) {
    return ossl::Fail(Code::kInternal, "ECDSA signing failed");
  }
  out.resize(len);
  return out;
}

Result<std::vector<uint8_t>> EcdsaSignDigest(const PrivateKey& key,
                                             std::span<const uint8_t> digest) {
  KMRA_TRY(internal::RequireType(key.get(), KeyType::kEc, "ECDSA signing"));
  auto ctx = ossl::Wrap(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
  size_t len = 0;
  if (!ctx || EVP_PKEY_sign_init(ctx.get()) != 1 ||
      EVP_PKEY_sign(ctx.get(), nullptr, &len, digest.data(), digest.size()) != 1) {
    return ossl::Fail(Code::kInternal, "ECDSA signing failed");
  }
  std::vector<uint8_t> out(len);
  if (EVP_PKEY_sign(ctx.get(), out.data(), &len, digest.data(), digest.size()) != 1) {
    return ossl::Fail(Code::kInternal, "ECDSA signing failed");
  }
  out.resize(len);
  return out;
}

Result<std::vector<uint8_t>> EcdsaSignRaw(const PrivateKey& key, HashAlg hash,
                                          std::span<const uint8_t> message) {
  KMRA_ASSIGN_OR_RETURN(EcCurve curve, EcCurveOf(key));
  KMRA_ASSIGN_OR_RETURN(auto der, EcdsaSign(key, hash, message));
  return EcdsaDerToRaw(der, EcCoordinateSize(curve));
}

namespace {

// EVP_DigestVerify of a DER signature known to be well-formed.
Status VerifyWellFormed(const PublicKey& key, HashAlg hash, std::span<const uint8_t> message,
                        std::span<const uint8_t> der_signature) {
  auto ctx = ossl::Wrap(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, Md(hash), nullptr, key.get()) != 1) {
    return ossl::Fail(Code::kInternal, "cannot start ECDSA verification");
  }
  return VerifyResult(EVP_DigestVerify(ctx.get(), der_signature.data(), der_signature.size(),
                                       message.data(), message.size()),
                      "ECDSA verification");
}

}  // namespace

Status EcdsaVerify(const PublicKey& key, HashAlg hash, std::span<const uint8_t> message,
                   std::span<const uint8_t> der_signature) {
  KMRA_TRY(internal::RequireType(key.get(), KeyType::kEc, "ECDSA verification"));
  KMRA_TRY(CheckDer(der_signature));
  return VerifyWellFormed(key, hash, message, der_signature);
}

Status EcdsaVerifyRaw(const PublicKey& key, HashAlg hash, std::span<const uint8_t> message,
                      std::span<const uint8_t> raw_signature) {
  KMRA_ASSIGN_OR_RETURN(EcCurve curve, EcCurveOf(key));
  if (raw_signature.size() != 2 * EcCoordinateSize(curve)) {
    return InvalidArgument("raw ECDSA signature is " + std::to_string(raw_signature.size()) +
                           " bytes; a " + std::string(EcCurveName(curve)) + " signature is " +
                           std::to_string(2 * EcCoordinateSize(curve)));
  }
  KMRA_ASSIGN_OR_RETURN(auto der, EcdsaRawToDer(raw_signature));
  return VerifyWellFormed(key, hash, message, der);
}

Status EcdsaVerifyDigest(const PublicKey& key, std::span<const uint8_t> digest,
                         std::span<const uint8_t> der_signature) {
  KMRA_TRY(internal::RequireType(key.get(), KeyType::kEc, "ECDSA verification"));
  KMRA_TRY(CheckDer(der_signature));
  auto ctx = ossl::Wrap(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
  if (!ctx || EVP_PKEY_verify_init(ctx.get()) != 1) {
    return ossl::Fail(Code::kInternal, "cannot start ECDSA verification");
  }
  return VerifyResult(EVP_PKEY_verify(ctx.get(), der_signature.data(), der_signature.size(),
                                      digest.data(), digest.size()),
                      "ECDSA verification");
}

}  // namespace kmra::crypto
