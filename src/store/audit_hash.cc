#include <openssl/evp.h>

#include <string>

#include "store/store.h"

namespace kmra::store {

std::string AuditHash(const std::string& prev_hash, int64_t seq, int64_t time, const std::string& json) {
  std::string input = prev_hash;
  input += '\n';
  input += std::to_string(seq);
  input += '\n';
  input += std::to_string(time);
  input += '\n';
  input += json;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(input.data(), input.size(), digest, &len, EVP_sha256(), nullptr);
  static const char kDigits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(std::size_t{len} * 2);
  for (unsigned int i = 0; i < len; ++i) {
    hex.push_back(kDigits[digest[i] >> 4]);
    hex.push_back(kDigits[digest[i] & 15]);
  }
  return hex;
}

const std::string& GenesisHash() {
  static const std::string kGenesis(64, '0');
  return kGenesis;
}

}  // namespace kmra::store
