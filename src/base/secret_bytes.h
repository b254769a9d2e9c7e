// SecretBytes: a byte buffer for key material, PINs and unwrapped secrets.
//
// - Memory is wiped with OPENSSL_cleanse whenever it is released (destructor, reallocation).
// - The raw bytes are reached only through Reveal()/RevealMutable(): every use is greppable.
// - It formats as "<redacted:N>" (fmt and ostream), so logging one by mistake prints no secret.
// - Equality is constant time.
// Not thread safe for concurrent mutation, like std::vector.
#pragma once

#include <cstddef>
#include <cstdint>
#include <fmt/format.h>
#include <iosfwd>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kmra {

// Wipes memory before giving it back. Used by SecretBytes and WipingString.
void SecureWipe(void* data, std::size_t size);

template <class T>
struct WipingAllocator {
  using value_type = T;
  WipingAllocator() noexcept = default;
  template <class U>
  WipingAllocator(const WipingAllocator<U>&) noexcept {}
  T* allocate(std::size_t n) { return std::allocator<T>{}.allocate(n); }
  void deallocate(T* p, std::size_t n) noexcept {
    SecureWipe(p, n * sizeof(T));
    std::allocator<T>{}.deallocate(p, n);
  }
  template <class U>
  bool operator==(const WipingAllocator<U>&) const noexcept { return true; }
};

// A std::string whose buffers are wiped when released (reallocation, destruction): for buffers
// that may hold a secret in transit, such as received request bytes.
using WipingString = std::basic_string<char, std::char_traits<char>, WipingAllocator<char>>;

class SecretBytes {
 public:
  SecretBytes() = default;
  explicit SecretBytes(std::size_t size) : data_(size, 0) {}
  explicit SecretBytes(std::span<const std::uint8_t> bytes) : data_(bytes.begin(), bytes.end()) {}
  // Copies the characters of a PIN or password.
  static SecretBytes FromString(std::string_view s);

  SecretBytes(const SecretBytes&) = default;
  SecretBytes& operator=(const SecretBytes&) = default;
  SecretBytes(SecretBytes&& other) noexcept = default;
  SecretBytes& operator=(SecretBytes&& other) noexcept = default;
  ~SecretBytes() = default;  // the allocator wipes

  std::size_t size() const { return data_.size(); }
  bool empty() const { return data_.empty(); }
  void resize(std::size_t n) { data_.resize(n); }
  // Wipes and empties.
  void clear();

  // Explicit access to the secret bytes. Do not copy them into non-wiping storage.
  std::span<const std::uint8_t> Reveal() const { return {data_.data(), data_.size()}; }
  std::span<std::uint8_t> RevealMutable() { return {data_.data(), data_.size()}; }
  std::string_view RevealAsString() const {
    return {reinterpret_cast<const char*>(data_.data()), data_.size()};
  }

  // Constant-time comparison (the length is not secret).
  bool Equals(const SecretBytes& other) const;
  bool Equals(std::span<const std::uint8_t> other) const;
  bool operator==(const SecretBytes& other) const { return Equals(other); }

  // "<redacted:N>"
  std::string ToString() const;

 private:
  std::vector<std::uint8_t, WipingAllocator<std::uint8_t>> data_;
};

std::ostream& operator<<(std::ostream& os, const SecretBytes& s);

}  // namespace kmra

template <>
struct fmt::formatter<kmra::SecretBytes> : fmt::formatter<std::string_view> {
  template <class Ctx>
  auto format(const kmra::SecretBytes& s, Ctx& ctx) const {
    return fmt::formatter<std::string_view>::format(s.ToString(), ctx);
  }
};
