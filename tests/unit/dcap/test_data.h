// Access to the real DCAP cases under KMRA_TEST_DATA/dcap for the dcap tests.
#pragma once

#include <cstdint>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace kmra::dcap::testing {

inline std::string CaseDir(const std::string& name) {
  return std::string(KMRA_TEST_DATA) + "/dcap/" + name;
}

inline std::vector<uint8_t> ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace kmra::dcap::testing
