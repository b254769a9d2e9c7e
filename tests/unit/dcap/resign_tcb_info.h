// Rewrites the tcbInfo.json of a simulated collateral folder (`kmra pki init`) with only the TCB
// levels whose status is in `keep`, signed again with the simulated TCB Signing key, the way Intel
// signs it (ECDSA P-256 over the exact bytes of the `tcbInfo` value, r || s in hex). Tests use it
// to make a platform meet no TCB level.
#pragma once

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace kmra::dcap::testing {

// Empty on success, else what failed.
inline std::string KeepTcbLevels(const std::string& collateral_dir,
                                 const std::string& tcb_signing_key_pem,
                                 const std::vector<std::string>& keep) {
  const std::string path = collateral_dir + "/tcbInfo.json";
  std::ifstream in(path, std::ios::binary);
  auto doc = nlohmann::ordered_json::parse(std::istreambuf_iterator<char>(in),
                                           std::istreambuf_iterator<char>(), nullptr, false);
  if (doc.is_discarded() || !doc.contains("tcbInfo")) return "cannot read " + path;
  nlohmann::ordered_json info = doc["tcbInfo"];
  nlohmann::ordered_json levels = nlohmann::ordered_json::array();
  for (const auto& l : info["tcbLevels"]) {
    if (std::find(keep.begin(), keep.end(), l["tcbStatus"]) != keep.end()) levels.push_back(l);
  }
  info["tcbLevels"] = levels;
  const std::string body = info.dump();

  FILE* f = std::fopen(tcb_signing_key_pem.c_str(), "r");
  if (f == nullptr) return "cannot open " + tcb_signing_key_pem;
  EVP_PKEY* key = PEM_read_PrivateKey(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  unsigned char der[80];
  size_t der_len = sizeof(der);
  const bool signed_ok =
      key != nullptr && ctx != nullptr &&
      EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key) == 1 &&
      EVP_DigestSign(ctx, der, &der_len, reinterpret_cast<const unsigned char*>(body.data()),
                     body.size()) == 1;
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(key);
  if (!signed_ok) return "cannot sign with " + tcb_signing_key_pem;
  const unsigned char* p = der;
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der_len));
  if (sig == nullptr) return "cannot decode the signature";
  unsigned char rs[64];
  BN_bn2binpad(ECDSA_SIG_get0_r(sig), rs, 32);
  BN_bn2binpad(ECDSA_SIG_get0_s(sig), rs + 32, 32);
  ECDSA_SIG_free(sig);
  std::string hex;
  char byte[3];
  for (unsigned char b : rs) {
    std::snprintf(byte, sizeof(byte), "%02x", b);
    hex += byte;
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << "{\"tcbInfo\":" << body << ",\"signature\":\"" << hex << "\"}";
  return out ? "" : "cannot write " + path;
}

}  // namespace kmra::dcap::testing
