// Loading the vendored known-answer vectors of tests/data/kat (README.md there names each file's
// origin and license): Wycheproof JSON files and NIST CAVP / RFC "Name = value" text files.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "base/file.h"
#include "base/hex.h"

namespace kmra::crypto::testing {

inline std::string KatPath(std::string_view relative) {
  return std::string(KMRA_TEST_DATA) + "/kat/" + std::string(relative);
}

// Hex to bytes; a malformed vector file fails the test that reads it.
inline std::vector<uint8_t> Unhex(std::string_view hex) {
  auto bytes = HexDecode(hex);
  EXPECT_TRUE(bytes) << bytes.error().message();
  return bytes ? *bytes : std::vector<uint8_t>{};
}

// A Wycheproof file (parsed; null json when it cannot be read or parsed, with a test failure).
inline nlohmann::json LoadWycheproof(std::string_view name) {
  auto text = ReadFileText(KatPath("wycheproof/" + std::string(name)));
  EXPECT_TRUE(text) << text.error().message();
  if (!text) return nullptr;
  auto doc = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  EXPECT_FALSE(doc.is_discarded()) << name << " is not JSON";
  return doc.is_discarded() ? nlohmann::json() : doc;
}

// One record of a CAVP .rsp or RFC text file: its "Name = value" lines, the "[Name = value]"
// section parameters in force, and whether it is marked FAIL (a decryption that must fail).
struct KatRecord {
  std::map<std::string, std::string> fields;
  std::map<std::string, std::string> section;
  bool fail = false;
  std::string Get(const std::string& name) const {
    auto it = fields.find(name);
    return it == fields.end() ? std::string() : it->second;
  }
};

// Splits a CAVP-style file into records; a record starts at a line whose name is `first_field`
// ("Count", "COUNT").
inline std::vector<KatRecord> LoadKatRecords(std::string_view relative,
                                             std::string_view first_field) {
  std::vector<KatRecord> out;
  auto text = ReadFileText(KatPath(relative));
  EXPECT_TRUE(text) << text.error().message();
  if (!text) return out;
  std::map<std::string, std::string> section;
  bool after_record = false;  // the next "[...]" line starts a new section
  auto trim = [](std::string s) {
    while (!s.empty() && (s.back() == ' ' || s.back() == '\r')) s.pop_back();
    size_t i = s.find_first_not_of(' ');
    return i == std::string::npos ? std::string() : s.substr(i);
  };
  size_t pos = 0;
  while (pos <= text->size()) {
    size_t end = text->find('\n', pos);
    if (end == std::string::npos) end = text->size();
    std::string line = trim(text->substr(pos, end - pos));
    pos = end + 1;
    if (line.empty() || line[0] == '#') continue;
    if (line == "FAIL") {
      if (!out.empty()) out.back().fail = true;
      continue;
    }
    const bool bracket = line.front() == '[' && line.back() == ']';
    if (bracket) line = line.substr(1, line.size() - 2);
    size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string name = trim(line.substr(0, eq));
    std::string value = trim(line.substr(eq + 1));
    if (bracket) {
      if (after_record) section.clear();
      after_record = false;
      section[name] = value;
      continue;
    }
    if (name == first_field) out.push_back({{}, section, false});
    if (!out.empty()) out.back().fields[name] = value;
    after_record = true;
  }
  return out;
}

}  // namespace kmra::crypto::testing
