#include "p11/wrap.h"

#include <fmt/format.h>
#include <openssl/core_names.h>

#include "p11/error.h"
#include "p11/internal/pkey.h"

namespace kmra::p11 {
namespace {

CK_RSA_PKCS_OAEP_PARAMS OaepParams(OaepHash hash) {
  // PKCS#11 2.40 section 2.1.8: MGF1 with the same hash as the OAEP hash, empty label (KMRA clients
  // unwrap with exactly this).
  CK_RSA_PKCS_OAEP_PARAMS p{};
  p.hashAlg = hash == OaepHash::kSha256 ? CKM_SHA256 : CKM_SHA_1;
  p.mgf = hash == OaepHash::kSha256 ? CKG_MGF1_SHA256 : CKG_MGF1_SHA1;
  p.source = CKZ_DATA_SPECIFIED;
  p.pSourceData = nullptr;
  p.ulSourceDataLen = 0;
  return p;
}

std::vector<uint8_t> StripLeadingZeros(std::span<const uint8_t> v) {
  size_t i = 0;
  while (i + 1 < v.size() && v[i] == 0) ++i;
  return std::vector<uint8_t>(v.begin() + static_cast<long>(i), v.end());
}

Status CheckCustomerKey(const RsaPublicKey& key, std::vector<uint8_t>& n, std::vector<uint8_t>& e) {
  n = StripLeadingZeros(key.modulus);
  e = StripLeadingZeros(key.exponent);
  if (n.empty() || n[0] == 0) return InvalidArgument("the client's RSA public key has an empty modulus");
  size_t bits = n.size() * 8;
  for (uint8_t top = n[0]; (top & 0x80) == 0; top <<= 1) --bits;
  if (bits < 2048 || bits > 8192) {
    return InvalidArgument(fmt::format(
        "the client's RSA public key has a {}-bit modulus; 2048 to 8192 bits are accepted", bits));
  }
  if ((n.back() & 1) == 0) return InvalidArgument("the client's RSA modulus is even, so it is not an RSA key");
  if (e.empty() || e.size() > 8 || (e.back() & 1) == 0 || (e.size() == 1 && e[0] < 3)) {
    return InvalidArgument("the client's RSA public exponent must be odd, at least 3 and at most 64 bits");
  }
  return OkStatus();
}

// C_WrapKey returning the raw CK_RV, so the caller can tell an unsupported OAEP hash from other errors.
CK_RV WrapRaw(Session& session, CK_MECHANISM& mech, CK_OBJECT_HANDLE wrapping, CK_OBJECT_HANDLE key,
              std::vector<uint8_t>& out) {
  CK_ULONG size = 0;
  CK_RV rv = session.fn()->C_WrapKey(session.handle(), &mech, wrapping, key, nullptr, &size);
  if (rv != CKR_OK) return rv;
  out.resize(size);
  rv = session.fn()->C_WrapKey(session.handle(), &mech, wrapping, key, out.data(), &size);
  if (rv == CKR_OK) out.resize(size);
  return rv;
}

std::string OaepMechanismName(OaepHash hash) {
  return hash == OaepHash::kSha256 ? "CKM_RSA_PKCS_OAEP(SHA-256,MGF1-SHA256)"
                                   : "CKM_RSA_PKCS_OAEP(SHA-1,MGF1-SHA1)";
}

}  // namespace

std::string_view OaepHashName(OaepHash hash) { return hash == OaepHash::kSha256 ? "sha256" : "sha1"; }

Result<RsaPublicKey> RsaPublicKeyFromSpki(std::span<const uint8_t> spki) {
  KMRA_ASSIGN_OR_RETURN(auto key, internal::ParseSpki(spki));
  if (EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_RSA) {
    return InvalidArgument("the public key is not an RSA key");
  }
  RsaPublicKey out;
  for (auto [name, dest] : {std::pair{OSSL_PKEY_PARAM_RSA_N, &out.modulus},
                            std::pair{OSSL_PKEY_PARAM_RSA_E, &out.exponent}}) {
    BIGNUM* raw = nullptr;
    if (EVP_PKEY_get_bn_param(key.get(), name, &raw) != 1) {
      return ossl::Fail(Code::kInvalidArgument, "cannot read the RSA public key");
    }
    auto bn = ossl::Wrap(raw);
    dest->resize(static_cast<size_t>(BN_num_bytes(bn.get())));
    BN_bn2bin(bn.get(), dest->data());
  }
  return out;
}

Result<ReleaseWrapResult> WrapForRelease(Session& session, CK_OBJECT_HANDLE private_key,
                                         const RsaPublicKey& cust_pub, OaepChoice choice) {
  std::vector<uint8_t> n;
  std::vector<uint8_t> e;
  KMRA_TRY(CheckCustomerKey(cust_pub, n, e));

  // 1. cust_pub as a session object that may wrap.
  Attrs pub;
  pub.Ulong(CKA_CLASS, CKO_PUBLIC_KEY).Ulong(CKA_KEY_TYPE, CKK_RSA).Bool(CKA_TOKEN, false)
      .Bool(CKA_WRAP, true).Bool(CKA_ENCRYPT, true).Bool(CKA_VERIFY, false)
      .Bytes(CKA_MODULUS, n).Bytes(CKA_PUBLIC_EXPONENT, e);
  auto pub_handle = session.CreateObject(pub);
  if (!pub_handle) return tl::unexpected(pub_handle.error().WithContext("importing the client's RSA key"));
  ScopedObject cust(&session, *pub_handle);

  // 2. The AES-256 session wrapping key: extractable (it leaves under OAEP), never a token object.
  Attrs aes;
  aes.Ulong(CKA_CLASS, CKO_SECRET_KEY).Ulong(CKA_KEY_TYPE, CKK_AES).Ulong(CKA_VALUE_LEN, 32)
      .Bool(CKA_TOKEN, false).Bool(CKA_SENSITIVE, true).Bool(CKA_EXTRACTABLE, true)
      .Bool(CKA_WRAP, true).Bool(CKA_ENCRYPT, false).Bool(CKA_DECRYPT, false);
  CK_MECHANISM gen{CKM_AES_KEY_GEN, nullptr, 0};
  auto swk_handle = session.GenerateKey(gen, aes);
  if (!swk_handle) return tl::unexpected(swk_handle.error().WithContext("generating the AES-256 session key"));
  ScopedObject swk(&session, *swk_handle);

  ReleaseWrapResult result;
  // 3. The private key under the SWK, RFC 5649 (the HSM wraps the PKCS#8 PrivateKeyInfo).
  CK_MECHANISM kwp{CKM_AES_KEY_WRAP_PAD, nullptr, 0};
  CK_RV rv = WrapRaw(session, kwp, swk.get(), private_key, result.wrapped_key);
  if (rv != CKR_OK) {
    Error err = RvError("C_WrapKey(CKM_AES_KEY_WRAP_PAD)", rv);
    if (rv == CKR_KEY_UNEXTRACTABLE) {
      err = err.WithContext("the key is not CKA_EXTRACTABLE in the HSM, so it can never be released; "
                            "create or import it with extractable=true");
    }
    (void)session.Check("C_WrapKey", rv);  // records connection loss
    return tl::unexpected(err);
  }
  result.key_mechanism = "CKM_AES_KEY_WRAP_PAD";

  // 4. The SWK under cust_pub with OAEP.
  std::vector<OaepHash> order;
  switch (choice) {
    case OaepChoice::kSha1: order = {OaepHash::kSha1}; break;
    case OaepChoice::kSha256: order = {OaepHash::kSha256}; break;
    case OaepChoice::kSha256ElseSha1: order = {OaepHash::kSha256, OaepHash::kSha1}; break;
  }
  for (size_t i = 0; i < order.size(); ++i) {
    CK_RSA_PKCS_OAEP_PARAMS params = OaepParams(order[i]);
    CK_MECHANISM oaep{CKM_RSA_PKCS_OAEP, &params, sizeof(params)};
    rv = WrapRaw(session, oaep, cust.get(), swk.get(), result.wrapped_swk);
    if (rv == CKR_OK) {
      result.oaep_hash = order[i];
      result.swk_mechanism = OaepMechanismName(order[i]);
      return result;  // 5. cust and swk are destroyed by their ScopedObjects
    }
    // SoftHSM2 2.6.1 answers CKR_ARGUMENTS_BAD to OAEP SHA-256 wrapping; others say PARAM_INVALID.
    bool unsupported_hash = rv == CKR_ARGUMENTS_BAD || rv == CKR_MECHANISM_PARAM_INVALID;
    if (!(unsupported_hash && i + 1 < order.size())) break;
  }
  (void)session.Check("C_WrapKey", rv);
  return tl::unexpected(RvError(fmt::format("C_WrapKey({})", OaepMechanismName(order.back())), rv)
                            .WithContext("wrapping the session key for the client"));
}

Result<KeyObjects> GenerateSessionRsaKeyPair(Session& session, int bits) {
  if (bits < 2048 || bits > 8192) return InvalidArgument(fmt::format("RSA size {} not in 2048..8192", bits));
  static const uint8_t kF4[] = {0x01, 0x00, 0x01};
  Attrs pub;
  pub.Bool(CKA_TOKEN, false).Bool(CKA_ENCRYPT, true).Bool(CKA_WRAP, true).Bool(CKA_VERIFY, false)
      .Ulong(CKA_MODULUS_BITS, static_cast<CK_ULONG>(bits)).Bytes(CKA_PUBLIC_EXPONENT, kF4);
  Attrs priv;
  // The attestation template: the private half only unwraps (no DECRYPT, no SIGN), so nothing but
  // C_UnwrapKey ever touches the wrapped SWK.
  priv.Bool(CKA_TOKEN, false).Bool(CKA_PRIVATE, true).Bool(CKA_SENSITIVE, true)
      .Bool(CKA_EXTRACTABLE, false).Bool(CKA_DECRYPT, false).Bool(CKA_UNWRAP, true).Bool(CKA_SIGN, false);
  CK_MECHANISM mech{CKM_RSA_PKCS_KEY_PAIR_GEN, nullptr, 0};
  KMRA_ASSIGN_OR_RETURN(auto handles, session.GenerateKeyPair(mech, pub, priv));
  KeyObjects out;
  out.public_key = handles.first;
  out.private_key = handles.second;
  out.algorithm = KeyAlgorithm::kRsa;
  return out;
}

Result<RsaPublicKey> ReadRsaPublicKey(Session& session, CK_OBJECT_HANDLE key) {
  RsaPublicKey out;
  KMRA_ASSIGN_OR_RETURN(out.modulus, session.GetAttribute(key, CKA_MODULUS));
  KMRA_ASSIGN_OR_RETURN(out.exponent, session.GetAttribute(key, CKA_PUBLIC_EXPONENT));
  return out;
}

Result<std::vector<uint8_t>> WrapWithMechanism(Session& session, CK_MECHANISM_TYPE mechanism,
                                               std::span<const uint8_t> parameter,
                                               CK_OBJECT_HANDLE wrapping_key, CK_OBJECT_HANDLE key) {
  std::vector<uint8_t> param(parameter.begin(), parameter.end());
  CK_MECHANISM mech{mechanism, param.empty() ? nullptr : param.data(), static_cast<CK_ULONG>(param.size())};
  return session.WrapKey(mech, wrapping_key, key);
}

Result<CK_OBJECT_HANDLE> UnwrapReleasedKey(Session& session, CK_OBJECT_HANDLE cust_priv, OaepHash hash,
                                           std::span<const uint8_t> wrapped_swk,
                                           std::span<const uint8_t> wrapped_key,
                                           const UnwrapTarget& target) {
  if (target.name.label.empty() && target.name.id.empty()) {
    return InvalidArgument("the unwrapped key needs a label or an id");
  }
  CK_RSA_PKCS_OAEP_PARAMS params = OaepParams(hash);
  CK_MECHANISM oaep{CKM_RSA_PKCS_OAEP, &params, sizeof(params)};
  Attrs aes;
  aes.Ulong(CKA_CLASS, CKO_SECRET_KEY).Ulong(CKA_KEY_TYPE, CKK_AES).Bool(CKA_TOKEN, false)
      .Bool(CKA_SENSITIVE, true).Bool(CKA_EXTRACTABLE, false).Bool(CKA_UNWRAP, true);
  auto swk_handle = session.UnwrapKey(oaep, cust_priv, wrapped_swk, aes);
  if (!swk_handle) {
    return tl::unexpected(swk_handle.error().WithContext(fmt::format(
        "unwrapping the session key (RSA-OAEP {}) failed: the server wrapped it for another key or with "
        "another hash", OaepHashName(hash))));
  }
  ScopedObject swk(&session, *swk_handle);

  Attrs key;
  key.Ulong(CKA_CLASS, CKO_PRIVATE_KEY)
      .Ulong(CKA_KEY_TYPE, target.algorithm == KeyAlgorithm::kRsa ? CKK_RSA : CKK_EC)
      .Bool(CKA_TOKEN, target.token).Bool(CKA_PRIVATE, true).Bool(CKA_SENSITIVE, true)
      .Bool(CKA_EXTRACTABLE, false).Bool(CKA_SIGN, true)
      // A TLS key signs (and, for RSA, decrypts); it must not bring other keys into the token.
      .Bool(CKA_UNWRAP, false).Bool(CKA_DERIVE, false);
  if (target.algorithm == KeyAlgorithm::kRsa) key.Bool(CKA_DECRYPT, true);
  if (!target.name.label.empty()) key.String(CKA_LABEL, target.name.label);
  if (!target.name.id.empty()) key.Bytes(CKA_ID, target.name.id);
  CK_MECHANISM kwp{CKM_AES_KEY_WRAP_PAD, nullptr, 0};
  auto handle = session.UnwrapKey(kwp, swk.get(), wrapped_key, key);
  if (!handle) {
    return tl::unexpected(handle.error().WithContext(
        "unwrapping the released key (AES key wrap with padding) failed"));
  }
  return *handle;
}

Result<CK_OBJECT_HANDLE> CreatePublicKeyObject(Session& session, std::span<const uint8_t> spki,
                                               const KeyName& name, bool token) {
  KMRA_ASSIGN_OR_RETURN(auto pkey, internal::ParseSpki(spki));
  KMRA_ASSIGN_OR_RETURN(KeyAlgorithm alg, internal::AlgorithmOf(pkey.get()));
  Attrs attrs;
  attrs.Ulong(CKA_CLASS, CKO_PUBLIC_KEY).Bool(CKA_TOKEN, token).Bool(CKA_PRIVATE, false)
      .Bool(CKA_VERIFY, true);
  if (alg == KeyAlgorithm::kRsa) attrs.Bool(CKA_ENCRYPT, true);
  if (!name.label.empty()) attrs.String(CKA_LABEL, name.label);
  if (!name.id.empty()) attrs.Bytes(CKA_ID, name.id);
  KMRA_TRY(internal::AppendPublicKeyAttrs(pkey.get(), attrs));
  return session.CreateObject(attrs);
}

Result<CK_OBJECT_HANDLE> CreateCertificateObject(Session& session, std::span<const uint8_t> der,
                                                 const KeyName& name, bool token) {
  const uint8_t* p = der.data();
  auto cert = ossl::Wrap(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!cert || p != der.data() + der.size()) {
    return ossl::Fail(Code::kInvalidArgument, "the certificate is not DER X.509");
  }
  auto encode = [](auto* obj, auto i2d) {
    int len = i2d(obj, nullptr);
    std::vector<uint8_t> out(len > 0 ? static_cast<size_t>(len) : 0);
    uint8_t* q = out.data();
    if (len > 0) i2d(obj, &q);
    return out;
  };
  auto subject = encode(X509_get_subject_name(cert.get()), i2d_X509_NAME);
  auto issuer = encode(X509_get_issuer_name(cert.get()), i2d_X509_NAME);
  auto serial = encode(X509_get0_serialNumber(cert.get()), i2d_ASN1_INTEGER);
  Attrs attrs;
  attrs.Ulong(CKA_CLASS, CKO_CERTIFICATE).Ulong(CKA_CERTIFICATE_TYPE, CKC_X_509)
      .Bool(CKA_TOKEN, token).Bool(CKA_PRIVATE, false).Bytes(CKA_VALUE, der)
      .Bytes(CKA_SUBJECT, subject).Bytes(CKA_ISSUER, issuer).Bytes(CKA_SERIAL_NUMBER, serial);
  if (!name.label.empty()) attrs.String(CKA_LABEL, name.label);
  if (!name.id.empty()) attrs.Bytes(CKA_ID, name.id);
  return session.CreateObject(attrs);
}

}  // namespace kmra::p11
