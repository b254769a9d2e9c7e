// Little-endian integer helpers for the fixed byte layouts of SGX structures.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace kmra::enclave::internal {

template <class T>
void PutLe(std::span<std::uint8_t> out, std::size_t offset, T value) {
  for (std::size_t i = 0; i < sizeof(T); ++i) {
    out[offset + i] = static_cast<std::uint8_t>(static_cast<std::uint64_t>(value) >> (8 * i));
  }
}

template <class T>
void AppendLe(std::vector<std::uint8_t>& out, T value) {
  for (std::size_t i = 0; i < sizeof(T); ++i) {
    out.push_back(static_cast<std::uint8_t>(static_cast<std::uint64_t>(value) >> (8 * i)));
  }
}

template <class T>
T GetLe(std::span<const std::uint8_t> in, std::size_t offset) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i) v |= std::uint64_t{in[offset + i]} << (8 * i);
  return static_cast<T>(v);
}

}  // namespace kmra::enclave::internal
