#include "p11/keys.h"

#include <fmt/format.h>
#include <openssl/core_names.h>
#include <openssl/pem.h>

#include <algorithm>
#include <cctype>
#include <cstring>

#include "crypto/key.h"
#include "p11/internal/pkey.h"

namespace kmra::p11 {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  out.erase(std::remove(out.begin(), out.end(), '_'), out.end());
  return out;
}

void AddName(Attrs& attrs, const KeyName& name) {
  if (!name.label.empty()) attrs.String(CKA_LABEL, name.label);
  if (!name.id.empty()) attrs.Bytes(CKA_ID, name.id);
}

// Fails with AlreadyExists when a private key already carries the label or the id.
Status CheckFree(Session& session, const KeyName& name) {
  if (name.label.empty() && name.id.empty()) {
    return InvalidArgument("a key needs a label or an id (CKA_LABEL / CKA_ID)");
  }
  if (!name.label.empty()) {
    Attrs t;
    t.Ulong(CKA_CLASS, CKO_PRIVATE_KEY).String(CKA_LABEL, name.label);
    KMRA_ASSIGN_OR_RETURN(auto found, session.Find(t, 1));
    if (!found.empty()) {
      return AlreadyExists(
          fmt::format("a private key labelled '{}' already exists in the token", name.label));
    }
  }
  if (!name.id.empty()) {
    Attrs t;
    t.Ulong(CKA_CLASS, CKO_PRIVATE_KEY).Bytes(CKA_ID, name.id);
    KMRA_ASSIGN_OR_RETURN(auto found, session.Find(t, 1));
    if (!found.empty()) {
      return AlreadyExists(fmt::format("a private key with id {} already exists in the token",
                                       internal::Hex(name.id)));
    }
  }
  return OkStatus();
}

Status FillId(Session& session, KeyName& name) {
  if (!name.id.empty()) return OkStatus();
  KMRA_ASSIGN_OR_RETURN(name.id, session.GenerateRandom(16));
  return OkStatus();
}

}  // namespace

Result<KeySpec> KeySpec::Parse(std::string_view text) {
  std::string t = Lower(text);
  t.erase(std::remove(t.begin(), t.end(), '-'), t.end());
  KeySpec spec;
  if (t.rfind("rsa", 0) == 0) {
    std::string bits = t.substr(3);
    if (bits.empty()) bits = "2048";
    if (bits == "2048" || bits == "3072" || bits == "4096") {
      spec.algorithm = KeyAlgorithm::kRsa;
      spec.rsa_bits = std::stoi(bits);
      return spec;
    }
  } else {
    if (t.rfind("ec", 0) == 0) t = t.substr(2);
    if (t == "p256" || t == "prime256v1" || t == "secp256r1") {
      spec.algorithm = KeyAlgorithm::kEc;
      spec.ec_bits = 256;
      return spec;
    }
    if (t == "p384" || t == "secp384r1") {
      spec.algorithm = KeyAlgorithm::kEc;
      spec.ec_bits = 384;
      return spec;
    }
  }
  return InvalidArgument(fmt::format(
      "unknown key type '{}': use rsa-2048, rsa-3072, rsa-4096, ec-p256 or ec-p384", text));
}

std::string KeySpec::ToString() const {
  if (algorithm == KeyAlgorithm::kRsa) return fmt::format("rsa-{}", rsa_bits);
  return fmt::format("ec-p{}", ec_bits);
}

std::string KeyName::Describe() const {
  std::string out;
  if (!label.empty()) out = fmt::format("label '{}'", label);
  if (!id.empty()) out += fmt::format("{}id {}", out.empty() ? "" : " ", internal::Hex(id));
  return out.empty() ? "(unnamed key)" : out;
}

Result<KeyObjects> GenerateKeyPair(Session& session, const KeySpec& spec, const KeyName& name_in,
                                   const KeyOptions& options) {
  KMRA_TRY(CheckFree(session, name_in));
  KeyName name = name_in;
  KMRA_TRY(FillId(session, name));
  Attrs pub;
  Attrs priv;
  pub.Bool(CKA_TOKEN, options.token).Bool(CKA_VERIFY, true);
  priv.Bool(CKA_TOKEN, options.token)
      .Bool(CKA_PRIVATE, true)
      .Bool(CKA_SENSITIVE, true)
      .Bool(CKA_EXTRACTABLE, options.extractable)
      .Bool(CKA_SIGN, true);
  AddName(pub, name);
  AddName(priv, name);
  CK_MECHANISM mech{};
  if (spec.algorithm == KeyAlgorithm::kRsa) {
    if (spec.rsa_bits < 2048 || spec.rsa_bits > 4096 || spec.rsa_bits % 8 != 0) {
      return InvalidArgument(
          fmt::format("RSA keys must have 2048 to 4096 bits, not {}", spec.rsa_bits));
    }
    static const uint8_t kF4[] = {0x01, 0x00, 0x01};
    mech.mechanism = CKM_RSA_PKCS_KEY_PAIR_GEN;
    pub.Ulong(CKA_MODULUS_BITS, static_cast<CK_ULONG>(spec.rsa_bits))
        .Bytes(CKA_PUBLIC_EXPONENT, kF4)
        .Bool(CKA_ENCRYPT, true);
    priv.Bool(CKA_DECRYPT, true);
  } else {
    KMRA_ASSIGN_OR_RETURN(auto params, internal::EcParamsForBits(spec.ec_bits));
    mech.mechanism = CKM_EC_KEY_PAIR_GEN;
    pub.Bytes(CKA_EC_PARAMS, params);
  }
  KMRA_ASSIGN_OR_RETURN(auto handles, session.GenerateKeyPair(mech, pub, priv));
  return KeyObjects{handles.second, handles.first, spec.algorithm, std::move(name)};
}

Result<KeyObjects> ImportPrivateKeyPem(Session& session, std::string_view pem,
                                       const KeyName& name_in, const KeyOptions& options) {
  KMRA_ASSIGN_OR_RETURN(auto pkey, crypto::PrivateKey::FromPem(pem));
  KMRA_TRY(internal::CheckImportable(pkey.get()));
  KMRA_TRY(CheckFree(session, name_in));
  KeyName name = name_in;
  KMRA_TRY(FillId(session, name));

  Attrs priv;
  priv.Ulong(CKA_CLASS, CKO_PRIVATE_KEY)
      .Bool(CKA_TOKEN, options.token)
      .Bool(CKA_PRIVATE, true)
      .Bool(CKA_SENSITIVE, true)
      .Bool(CKA_EXTRACTABLE, options.extractable)
      .Bool(CKA_SIGN, true);
  AddName(priv, name);
  KMRA_ASSIGN_OR_RETURN(KeyAlgorithm algorithm, internal::AppendPrivateKeyAttrs(pkey.get(), priv));
  if (algorithm == KeyAlgorithm::kRsa) priv.Bool(CKA_DECRYPT, true);

  Attrs pub;
  pub.Ulong(CKA_CLASS, CKO_PUBLIC_KEY).Bool(CKA_TOKEN, options.token).Bool(CKA_VERIFY, true);
  AddName(pub, name);
  KMRA_TRY(AppendPublicKeyAttrs(pkey.get(), pub));

  KMRA_ASSIGN_OR_RETURN(CK_OBJECT_HANDLE priv_handle, session.CreateObject(priv));
  auto pub_handle = session.CreateObject(pub);
  if (!pub_handle) {
    (void)session.DestroyObject(priv_handle);  // leave no half-imported key behind
    return tl::unexpected<Error>(pub_handle.error());
  }
  return KeyObjects{priv_handle, *pub_handle, algorithm, std::move(name)};
}

Result<KeyObjects> FindKey(Session& session, const KeyName& name) {
  if (name.label.empty() && name.id.empty()) return InvalidArgument("a key needs a label or an id");
  Attrs t;
  t.Ulong(CKA_CLASS, CKO_PRIVATE_KEY);
  AddName(t, name);
  KMRA_ASSIGN_OR_RETURN(CK_OBJECT_HANDLE priv,
                        session.FindOne(t, fmt::format("private key with {}", name.Describe())));
  KeyObjects key;
  key.private_key = priv;
  KMRA_ASSIGN_OR_RETURN(CK_ULONG type, session.GetUlong(priv, CKA_KEY_TYPE));
  if (type == CKK_RSA) {
    key.algorithm = KeyAlgorithm::kRsa;
  } else if (type == CKK_EC) {
    key.algorithm = KeyAlgorithm::kEc;
  } else {
    return Unimplemented(fmt::format(
        "key with {} has key type {:#x}; only RSA and EC are supported", name.Describe(), type));
  }
  // Fill in whichever half of the name the caller did not give.
  key.name = name;
  if (key.name.label.empty()) {
    auto label = session.GetString(priv, CKA_LABEL);
    if (label) key.name.label = *label;
  }
  if (key.name.id.empty()) {
    auto id = session.GetAttribute(priv, CKA_ID);
    if (id) key.name.id = *id;
  }
  Attrs p;
  p.Ulong(CKA_CLASS, CKO_PUBLIC_KEY);
  AddName(p, key.name);
  KMRA_ASSIGN_OR_RETURN(auto pubs, session.Find(p, 2));
  if (pubs.size() == 1) key.public_key = pubs[0];
  return key;
}

Result<ossl::Ptr<EVP_PKEY>> PublicKey(Session& session, const KeyObjects& key) {
  CK_OBJECT_HANDLE source = key.public_key != CK_INVALID_HANDLE ? key.public_key : key.private_key;
  if (key.algorithm == KeyAlgorithm::kRsa) {
    KMRA_ASSIGN_OR_RETURN(auto n, session.GetAttribute(source, CKA_MODULUS));
    KMRA_ASSIGN_OR_RETURN(auto e, session.GetAttribute(source, CKA_PUBLIC_EXPONENT));
    return internal::RsaPublicFromComponents(n, e);
  }
  KMRA_ASSIGN_OR_RETURN(auto params, session.GetAttribute(source, CKA_EC_PARAMS));
  auto point = session.GetAttribute(source, CKA_EC_POINT);
  if (!point) {
    return NotFound(
        fmt::format("the EC key with {} has no public key object and its private key "
                    "object has no CKA_EC_POINT",
                    key.name.Describe()));
  }
  return internal::EcPublicFromAttributes(params, *point);
}

Result<std::vector<uint8_t>> PublicKeySpki(Session& session, const KeyObjects& key) {
  KMRA_ASSIGN_OR_RETURN(auto pkey, PublicKey(session, key));
  return internal::SpkiDer(pkey.get());
}

Status DeleteKey(Session& session, const KeyName& name) {
  if (name.label.empty() && name.id.empty()) return InvalidArgument("a key needs a label or an id");
  size_t destroyed = 0;
  for (CK_OBJECT_CLASS cls : {CKO_PRIVATE_KEY, CKO_PUBLIC_KEY, CKO_CERTIFICATE}) {
    Attrs t;
    t.Ulong(CKA_CLASS, cls);
    AddName(t, name);
    KMRA_ASSIGN_OR_RETURN(auto found, session.Find(t));
    for (CK_OBJECT_HANDLE h : found) {
      KMRA_TRY(session.DestroyObject(h));
      ++destroyed;
    }
  }
  if (destroyed == 0) return NotFound(fmt::format("no key with {} in the token", name.Describe()));
  return OkStatus();
}

Status AppendPublicKeyAttrs(const EVP_PKEY* key, Attrs& attrs) {
  return internal::AppendPublicKeyAttrs(key, attrs);
}

}  // namespace kmra::p11
