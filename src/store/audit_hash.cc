#include <string>

#include "base/hex.h"
#include "crypto/hash.h"
#include "store/store.h"

namespace kmra::store {

std::string AuditHash(const std::string& prev_hash, int64_t seq, int64_t time,
                      const std::string& json) {
  std::string input = prev_hash;
  input += '\n';
  input += std::to_string(seq);
  input += '\n';
  input += std::to_string(time);
  input += '\n';
  input += json;
  return HexEncode(crypto::Sha256(input));
}

const std::string& GenesisHash() {
  static const std::string kGenesis(64, '0');
  return kGenesis;
}

}  // namespace kmra::store
