// Little helpers shared by the dcap parsers: a bounds-checked little-endian reader, hex (from
// base/hex.h), and UTC times.
// Internal to src/dcap; not part of the component's interface.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/hex.h"

namespace kmra::dcap::internal {

// Reads little-endian integers and byte ranges; every read checks the remaining length first and
// returns false (without moving) when the data is too short.
class Reader {
 public:
  explicit Reader(std::span<const uint8_t> data) : data_(data) {}

  size_t offset() const { return pos_; }
  size_t remaining() const { return data_.size() - pos_; }

  bool U16(uint16_t* out) {
    if (remaining() < 2) return false;
    *out = static_cast<uint16_t>(data_[pos_] | (data_[pos_ + 1] << 8));
    pos_ += 2;
    return true;
  }
  bool U32(uint32_t* out) {
    if (remaining() < 4) return false;
    *out = static_cast<uint32_t>(data_[pos_]) | (static_cast<uint32_t>(data_[pos_ + 1]) << 8) |
           (static_cast<uint32_t>(data_[pos_ + 2]) << 16) |
           (static_cast<uint32_t>(data_[pos_ + 3]) << 24);
    pos_ += 4;
    return true;
  }
  bool Bytes(size_t n, std::span<const uint8_t>* out) {
    if (remaining() < n) return false;
    *out = data_.subspan(pos_, n);
    pos_ += n;
    return true;
  }
  template <size_t N>
  bool Array(std::array<uint8_t, N>* out) {
    if (remaining() < N) return false;
    std::memcpy(out->data(), data_.data() + pos_, N);
    pos_ += N;
    return true;
  }

 private:
  std::span<const uint8_t> data_;
  size_t pos_ = 0;
};

// Hex is base/hex.h's; these short names keep the parsers readable. Lower case:
inline std::string Hex(std::span<const uint8_t> bytes) { return HexEncode(bytes); }
template <size_t N>
std::string Hex(const std::array<uint8_t, N>& a) {
  return HexEncode(std::span<const uint8_t>(a.data(), N));
}
// Upper case, the spelling of Intel's collateral.
inline std::string HexUpper(std::span<const uint8_t> bytes) { return HexEncodeUpper(bytes); }
// Decodes hex (either case); nullopt on an odd length or a non-hex character.
inline std::optional<std::vector<uint8_t>> Unhex(std::string_view hex) {
  auto bytes = HexDecode(hex);
  if (!bytes) return std::nullopt;
  return std::move(*bytes);
}

// Parses Intel's collateral dates "YYYY-MM-DDThh:mm:ssZ" (also accepting fractional seconds and
// "+00:00") into unix seconds; nullopt when malformed.
std::optional<int64_t> ParseUtc(std::string_view text);

// "2025-07-19T10:56:11Z"
std::string FormatUtc(int64_t unix_seconds);

// Days since 1970-01-01 of a civil date (proleptic Gregorian).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d);

}  // namespace kmra::dcap::internal
