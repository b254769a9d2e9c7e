#include "crypto/hash.h"

#include <openssl/evp.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <string>

namespace kmra::crypto {
namespace {

// What each HashAlg is called and how long its digest is, in the enum's order.
struct HashInfo {
  const char* ossl;       // OpenSSL's fetch name
  std::string_view name;  // HashName
  size_t size;
};
constexpr HashInfo kHashInfo[] = {{"SHA1", "SHA-1", 20},
                                  {"SHA256", "SHA-256", 32},
                                  {"SHA384", "SHA-384", 48},
                                  {"SHA512", "SHA-512", 64},
                                  {"SHA224", "SHA-224", 28}};
static_assert(std::size(kHashInfo) == static_cast<size_t>(HashAlg::kSha224) + 1);

const HashInfo& Info(HashAlg alg) { return kHashInfo[static_cast<size_t>(alg)]; }

const EVP_MD* Md(HashAlg alg) { return static_cast<const EVP_MD*>(internal::FetchedMd(alg)); }

// A failure of a digest over memory with a fetched, known algorithm means OpenSSL itself is broken
// (or out of memory); there is no useful recovery, so stop loudly instead of returning a wrong
// hash.
void Check(int ok, const char* what) {
  if (ok != 1) {
    (void)std::fprintf(stderr, "kmra: fatal: OpenSSL %s failed\n", what);  // aborting anyway
    std::abort();
  }
}

template <size_t N>
std::array<uint8_t, N> OneShot(HashAlg alg, std::span<const uint8_t> data) {
  std::array<uint8_t, N> out{};
  unsigned int len = 0;
  Check(EVP_Digest(data.data(), data.size(), out.data(), &len, Md(alg), nullptr), "EVP_Digest");
  return out;
}

}  // namespace

namespace internal {
const void* FetchedMd(HashAlg alg) {
  // Fetching once avoids the implicit fetch (a locked lookup) on every call of EVP_sha256() & co.
  static const auto kMds = [] {
    std::array<const EVP_MD*, std::size(kHashInfo)> mds{};
    for (size_t i = 0; i < mds.size(); ++i) {
      mds[i] = EVP_MD_fetch(nullptr, kHashInfo[i].ossl, nullptr);
    }
    return mds;
  }();
  const EVP_MD* md = kMds[static_cast<size_t>(alg)];
  if (md == nullptr) {
    // Aborting anyway: a failed write to stderr changes nothing.
    (void)std::fprintf(stderr, "kmra: fatal: OpenSSL has no %s digest\n", Info(alg).ossl);
    std::abort();
  }
  return md;
}
}  // namespace internal

std::string_view HashName(HashAlg alg) { return Info(alg).name; }

size_t HashSize(HashAlg alg) { return Info(alg).size; }

Result<HashAlg> ParseHashAlg(std::string_view name) {
  std::string n;
  for (char c : name) {
    if (c == '-' || c == '_') continue;
    n.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c));
  }
  if (n == "sha1") return HashAlg::kSha1;
  if (n == "sha256") return HashAlg::kSha256;
  if (n == "sha384") return HashAlg::kSha384;
  if (n == "sha512") return HashAlg::kSha512;
  return InvalidArgument("unknown hash '" + std::string(name) +
                         "'; expected sha1, sha256, sha384 or sha512");
}

std::array<uint8_t, 32> Sha256(std::span<const uint8_t> data) {
  return OneShot<32>(HashAlg::kSha256, data);
}
std::array<uint8_t, 48> Sha384(std::span<const uint8_t> data) {
  return OneShot<48>(HashAlg::kSha384, data);
}
std::array<uint8_t, 64> Sha512(std::span<const uint8_t> data) {
  return OneShot<64>(HashAlg::kSha512, data);
}
std::array<uint8_t, 32> Sha256(std::string_view text) {
  return Sha256(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

std::vector<uint8_t> Digest(HashAlg alg, std::span<const uint8_t> data) {
  std::vector<uint8_t> out(HashSize(alg));
  unsigned int len = 0;
  Check(EVP_Digest(data.data(), data.size(), out.data(), &len, Md(alg), nullptr), "EVP_Digest");
  return out;
}

Hasher::Hasher(HashAlg alg) : alg_(alg), ctx_(EVP_MD_CTX_new()) {
  Check(ctx_ != nullptr ? 1 : 0, "EVP_MD_CTX_new");
  Check(EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), Md(alg), nullptr), "EVP_DigestInit_ex");
}

Hasher::Hasher(Hasher&& other) noexcept : alg_(other.alg_), ctx_(other.ctx_) {
  other.ctx_ = nullptr;
}

Hasher& Hasher::operator=(Hasher&& other) noexcept {
  if (this != &other) {
    EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_));
    alg_ = other.alg_;
    ctx_ = other.ctx_;
    other.ctx_ = nullptr;
  }
  return *this;
}

Hasher::~Hasher() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }

Hasher& Hasher::Update(std::span<const uint8_t> data) {
  Check(EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data.data(), data.size()),
        "EVP_DigestUpdate");
  return *this;
}

Hasher& Hasher::Update(std::string_view text) {
  return Update(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

std::vector<uint8_t> Hasher::Finish() {
  std::vector<uint8_t> out(HashSize(alg_));
  unsigned int len = 0;
  auto* ctx = static_cast<EVP_MD_CTX*>(ctx_);
  Check(EVP_DigestFinal_ex(ctx, out.data(), &len), "EVP_DigestFinal_ex");
  Check(EVP_DigestInit_ex(ctx, Md(alg_), nullptr), "EVP_DigestInit_ex");
  return out;
}

}  // namespace kmra::crypto
