#include "dcap/collateral.h"

#include <openssl/pem.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <system_error>

#include "crypto/ossl.h"
#include "dcap/internal/bytes.h"

namespace kmra::dcap {
namespace {

namespace fs = std::filesystem;

// Reads a whole file; nullopt-like false when it does not exist.
Result<bool> ReadIfExists(const fs::path& path, std::string* out) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return false;
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot open collateral file " + path.string());
  out->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  if (in.bad()) return Unavailable("error while reading collateral file " + path.string());
  return true;
}

std::span<const uint8_t> AsBytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// Loads NAME.der or else NAME.pem into a DER CRL.
Result<bool> LoadCrl(const fs::path& dir, const std::string& name, std::vector<uint8_t>* out) {
  for (const char* ext : {".der", ".pem"}) {
    std::string text;
    KMRA_ASSIGN_OR_RETURN(bool found, ReadIfExists(dir / (name + ext), &text));
    if (!found) continue;
    auto der = CrlToDer(AsBytes(text));
    if (!der) return tl::unexpected(der.error().WithContext((dir / (name + ext)).string()));
    *out = std::move(*der);
    return true;
  }
  return false;
}

}  // namespace

Result<std::vector<uint8_t>> CrlToDer(std::span<const uint8_t> bytes) {
  if (bytes.empty()) return InvalidArgument("the CRL is empty");
  const unsigned char* p = bytes.data();
  ossl::Ptr<X509_CRL> crl(d2i_X509_CRL(nullptr, &p, static_cast<long>(bytes.size())));
  if (crl && p == bytes.data() + bytes.size()) {
    return std::vector<uint8_t>(bytes.begin(), bytes.end());
  }
  ERR_clear_error();
  std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  if (text.find("-----BEGIN X509 CRL-----") != std::string_view::npos) {
    ossl::Ptr<BIO> bio(BIO_new_mem_buf(bytes.data(), static_cast<int>(bytes.size())));
    crl.reset(bio ? PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr) : nullptr);
    if (!crl) return ossl::Fail(Code::kInvalidArgument, "the PEM CRL does not parse");
  } else {
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ' ||
                             text.back() == '\0')) {
      text.remove_suffix(1);
    }
    auto raw = internal::Unhex(text);
    if (!raw) return InvalidArgument("the CRL is neither DER, PEM nor a hex string of DER");
    p = raw->data();
    crl.reset(d2i_X509_CRL(nullptr, &p, static_cast<long>(raw->size())));
    if (!crl || p != raw->data() + raw->size()) {
      return ossl::Fail(Code::kInvalidArgument, "the hex CRL does not decode to a DER CRL");
    }
    return std::move(*raw);
  }
  unsigned char* der = nullptr;
  int len = i2d_X509_CRL(crl.get(), &der);
  if (len <= 0) return ossl::Fail(Code::kInternal, "cannot re-encode the CRL as DER");
  std::vector<uint8_t> out(der, der + len);
  OPENSSL_free(der);
  return out;
}

Result<Collateral> LoadCollateralDir(const std::string& dir) {
  std::error_code ec;
  const fs::path path(dir);
  if (!fs::is_directory(path, ec)) {
    return NotFound("collateral directory " + dir + " does not exist or is not a directory");
  }
  Collateral c;
  int found = 0;
  for (auto [name, field] : {std::pair{"tcbInfo.json", &c.tcb_info_json},
                             std::pair{"qeIdentity.json", &c.qe_identity_json},
                             std::pair{"tcbSignChain.pem", &c.tcb_signing_chain_pem},
                             std::pair{"pckCrlIssuerChain.pem", &c.pck_crl_issuer_chain_pem},
                             std::pair{"trustedRootCaCert.pem", &c.trusted_root_pem}}) {
    KMRA_ASSIGN_OR_RETURN(bool ok, ReadIfExists(path / name, field));
    found += ok;
  }
  KMRA_ASSIGN_OR_RETURN(bool root_crl, LoadCrl(path, "rootCaCrl", &c.root_ca_crl_der));
  KMRA_ASSIGN_OR_RETURN(bool pck_crl, LoadCrl(path, "pckCrl", &c.pck_crl_der));
  found += root_crl + pck_crl;
  if (found == 0) {
    return NotFound("collateral directory " + dir +
                    " holds none of tcbInfo.json, qeIdentity.json, tcbSignChain.pem, "
                    "rootCaCrl.der|.pem, pckCrl.der|.pem");
  }
  return c;
}

}  // namespace kmra::dcap
