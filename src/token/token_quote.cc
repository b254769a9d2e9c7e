// Token: Intel CTK's CKM_EXPORT_ECDSA_QUOTE_RSA_PUBLIC_KEY through C_WrapKey.
//
// Output: CK_RSA_PUBLIC_KEY_PARAMS{ulExponentLen, ulModulusLen} || exponent || modulus || quote,
// where the quote's report data is SHA-256(exponent || modulus || nonce) || 32 zero bytes. The key
// server recomputes that hash from the public key it receives, so the key is bound to the enclave.
#include <openssl/evp.h>

#include <array>
#include <cstring>

#include "kmra/pkcs11_vendor.h"
#include "token/keys.h"
#include "token/log.h"
#include "token/token.h"

namespace kmra::token {

CK_RV Token::QuoteWrap(Session& s, const CK_MECHANISM& m, CK_OBJECT_HANDLE key, uint8_t* out,
                       CK_ULONG* out_len) {
  if (m.pParameter == nullptr || m.ulParameterLen != sizeof(CK_ECDSA_QUOTE_RSA_PUBLIC_KEY_PARAMS)) {
    return CKR_MECHANISM_PARAM_INVALID;
  }
  CK_ECDSA_QUOTE_RSA_PUBLIC_KEY_PARAMS params;
  std::memcpy(&params, m.pParameter, sizeof params);
  if (params.qlPolicy != SGX_QL_PERSISTENT && params.qlPolicy != SGX_QL_EPHEMERAL) {
    return CKR_MECHANISM_PARAM_INVALID;
  }
  auto k = Visible(key);
  if (!k) return CKR_KEY_HANDLE_INVALID;
  if (k->Class() != CKO_PUBLIC_KEY || k->KeyType() != CKK_RSA) return CKR_KEY_TYPE_INCONSISTENT;
  // CTK: only a session key, and only one quote per key, so a quote always speaks of a key pair
  // that this enclave made for one release.
  if (k->IsToken()) return CKR_KEY_NOT_WRAPPABLE;
  if (k->quote_used) return CKR_KEY_FUNCTION_NOT_PERMITTED;

  const std::vector<uint8_t> nonce(params.nonce, params.nonce + sizeof params.nonce);
  if (k->pending_quote.empty() || k->pending_nonce != nonce) {
    const auto& e = k->attrs[CKA_PUBLIC_EXPONENT];
    const auto& n = k->attrs[CKA_MODULUS];
    std::array<uint8_t, 64> report{};
    auto md = ossl::Wrap(EVP_MD_CTX_new());
    unsigned int len = 0;
    if (!md || EVP_DigestInit_ex(md.get(), EVP_sha256(), nullptr) != 1 ||
        EVP_DigestUpdate(md.get(), e.data(), e.size()) != 1 ||
        EVP_DigestUpdate(md.get(), n.data(), n.size()) != 1 ||
        EVP_DigestUpdate(md.get(), nonce.data(), nonce.size()) != 1 ||
        EVP_DigestFinal_ex(md.get(), report.data(), &len) != 1) {
      return CKR_FUNCTION_FAILED;
    }
    auto quote = platform_->Quote(std::span<const uint8_t, 64>(report));
    if (!quote) {
      LogError("quote for CKM_EXPORT_ECDSA_QUOTE_RSA_PUBLIC_KEY failed: " + quote.error().ToString());
      return CKR_DEVICE_ERROR;
    }
    CK_RSA_PUBLIC_KEY_PARAMS header{e.size(), n.size()};
    std::vector<uint8_t> blob(sizeof header);
    std::memcpy(blob.data(), &header, sizeof header);
    blob.insert(blob.end(), e.begin(), e.end());
    blob.insert(blob.end(), n.begin(), n.end());
    blob.insert(blob.end(), quote->begin(), quote->end());
    k->pending_quote = std::move(blob);
    k->pending_nonce = nonce;
  }
  const size_t size = k->pending_quote.size();
  if (out == nullptr) {
    *out_len = size;
    return CKR_OK;
  }
  if (*out_len < size) {
    *out_len = size;
    return CKR_BUFFER_TOO_SMALL;
  }
  std::memcpy(out, k->pending_quote.data(), size);
  *out_len = size;
  k->quote_used = true;
  k->pending_quote.clear();
  return CKR_OK;
}

}  // namespace kmra::token
