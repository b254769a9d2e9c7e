#include "base/secret_bytes.h"

#include <openssl/crypto.h>

#include <ostream>

namespace kmra {

void SecureWipe(void* data, std::size_t size) {
  if (data != nullptr && size > 0) OPENSSL_cleanse(data, size);
}

SecretBytes SecretBytes::FromString(std::string_view s) {
  return SecretBytes(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()));
}

void SecretBytes::clear() {
  SecureWipe(data_.data(), data_.size());
  data_.clear();
}

bool SecretBytes::Equals(std::span<const std::uint8_t> other) const {
  if (other.size() != data_.size()) return false;
  if (data_.empty()) return true;
  return CRYPTO_memcmp(data_.data(), other.data(), data_.size()) == 0;
}

bool SecretBytes::Equals(const SecretBytes& other) const { return Equals(other.Reveal()); }

std::string SecretBytes::ToString() const { return "<redacted:" + std::to_string(data_.size()) + ">"; }

std::ostream& operator<<(std::ostream& os, const SecretBytes& s) { return os << s.ToString(); }

}  // namespace kmra
