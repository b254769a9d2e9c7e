#include "crypto/random.h"

#include <openssl/rand.h>

#include <algorithm>
#include <climits>

#include "crypto/ossl.h"

namespace kmra::crypto {

Status RandomBytes(std::span<uint8_t> out) {
  // RAND_bytes takes an int length; fill larger buffers in chunks.
  size_t done = 0;
  while (done < out.size()) {
    size_t chunk = std::min<size_t>(out.size() - done, INT_MAX);
    if (RAND_bytes(out.data() + done, static_cast<int>(chunk)) != 1) {
      return ossl::Fail(Code::kUnavailable, "the random generator failed (is it seeded?)");
    }
    done += chunk;
  }
  return OkStatus();
}

Result<std::vector<uint8_t>> RandomBytes(size_t n) {
  std::vector<uint8_t> out(n);
  KMRA_TRY(RandomBytes(std::span<uint8_t>(out)));
  return out;
}

Result<SecretBytes> RandomSecret(size_t n) {
  SecretBytes out(n);
  KMRA_TRY(RandomBytes(out.RevealMutable()));
  return out;
}

}  // namespace kmra::crypto
