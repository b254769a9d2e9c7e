// OpenSSL helpers for the p11 tests: make keys, sign/verify, compare public keys.
#pragma once

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <string>
#include <vector>

#include "crypto/ossl.h"

namespace kmra::p11::testing {

inline ossl::Ptr<EVP_PKEY> MakeRsa(int bits) { return ossl::Wrap(EVP_RSA_gen(static_cast<unsigned>(bits))); }
inline ossl::Ptr<EVP_PKEY> MakeEc(const char* curve) { return ossl::Wrap(EVP_EC_gen(curve)); }

inline std::string PrivatePem(EVP_PKEY* key, bool traditional = false) {
  auto bio = ossl::Wrap(BIO_new(BIO_s_mem()));
  if (traditional) {
    PEM_write_bio_PrivateKey_traditional(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  } else {
    PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

inline std::vector<uint8_t> Spki(EVP_PKEY* key) {
  int len = i2d_PUBKEY(key, nullptr);
  std::vector<uint8_t> out(static_cast<size_t>(len));
  uint8_t* p = out.data();
  i2d_PUBKEY(key, &p);
  return out;
}

inline ossl::Ptr<EVP_PKEY> FromSpki(const std::vector<uint8_t>& der) {
  const uint8_t* p = der.data();
  return ossl::Wrap(d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size())));
}

// Verifies an SHA-256 signature (PKCS#1 v1.5 for RSA, DER ECDSA for EC).
inline bool VerifySha256(EVP_PKEY* key, const std::vector<uint8_t>& data, const std::vector<uint8_t>& sig) {
  auto ctx = ossl::Wrap(EVP_MD_CTX_new());
  return EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) == 1 &&
         EVP_DigestVerify(ctx.get(), sig.data(), sig.size(), data.data(), data.size()) == 1;
}

}  // namespace kmra::p11::testing

namespace kmra::p11::testing {

inline std::string PublicPem(const std::vector<uint8_t>& spki) {
  auto key = FromSpki(spki);
  auto bio = ossl::Wrap(BIO_new(BIO_s_mem()));
  PEM_write_bio_PUBKEY(bio.get(), key.get());
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

}  // namespace kmra::p11::testing
