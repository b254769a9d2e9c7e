// SHA-1/SHA-2 digests on OpenSSL 3. One-shot functions for the hot paths, a Hasher for streams.
// All functions are thread safe.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace kmra::crypto {

// kSha224 is there for PKCS#11 callers of the token (OAEP and PSS parameters); ParseHashAlg does
// not name it. The order is the index of the fetched digests in hash.cc.
enum class HashAlg { kSha1, kSha256, kSha384, kSha512, kSha224 };

// "SHA-1", "SHA-256", ... (the names OpenSSL and the PKCS#11/OAEP docs use).
std::string_view HashName(HashAlg alg);
// Digest length in bytes (20, 32, 48, 64, 28).
size_t HashSize(HashAlg alg);
// Parses "sha1", "SHA-256", "sha384"... (case-insensitive, dash optional).
Result<HashAlg> ParseHashAlg(std::string_view name);

std::array<uint8_t, 32> Sha256(std::span<const uint8_t> data);
std::array<uint8_t, 48> Sha384(std::span<const uint8_t> data);
std::array<uint8_t, 64> Sha512(std::span<const uint8_t> data);

// Convenience for text input.
std::array<uint8_t, 32> Sha256(std::string_view text);

// Digest of `data` with `alg`.
std::vector<uint8_t> Digest(HashAlg alg, std::span<const uint8_t> data);

// Incremental hashing: Update any number of times, then Finish once.
class Hasher {
 public:
  explicit Hasher(HashAlg alg);
  Hasher(const Hasher&) = delete;
  Hasher& operator=(const Hasher&) = delete;
  Hasher(Hasher&&) noexcept;
  Hasher& operator=(Hasher&&) noexcept;
  ~Hasher();

  Hasher& Update(std::span<const uint8_t> data);
  Hasher& Update(std::string_view text);
  // Returns the digest; the Hasher is then reset for reuse.
  std::vector<uint8_t> Finish();

 private:
  HashAlg alg_;
  void* ctx_;  // EVP_MD_CTX*
};

namespace internal {
// The fetched EVP_MD of an algorithm, fetched once per process (returns const EVP_MD*).
const void* FetchedMd(HashAlg alg);
}  // namespace internal

}  // namespace kmra::crypto
