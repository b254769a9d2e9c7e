#include "client/loadkey.h"

#include <fmt/format.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstring>
#include <optional>

#include "crypto/hash.h"
#include "crypto/ossl.h"
#include "crypto/random.h"
#include "p11/keys.h"
#include "p11/module.h"
#include "p11/session.h"
#include "p11/uri.h"
#include "p11/wrap.h"

#if __has_include("kmra/pkcs11_vendor.h")
#include "kmra/pkcs11_vendor.h"
#else
// Intel CTK's values (ARCHITECTURE.md), until the token's installed header is on this branch.
#define CKM_EXPORT_ECDSA_QUOTE_RSA_PUBLIC_KEY (CKM_VENDOR_DEFINED + 0x210DUL)
typedef struct CK_ECDSA_QUOTE_RSA_PUBLIC_KEY_PARAMS {
  CK_LONG qlPolicy;
  CK_BYTE nonce[32];
} CK_ECDSA_QUOTE_RSA_PUBLIC_KEY_PARAMS;
typedef struct CK_RSA_PUBLIC_KEY_PARAMS {
  CK_ULONG ulExponentLen;
  CK_ULONG ulModulusLen;
} CK_RSA_PUBLIC_KEY_PARAMS;
#endif

namespace kmra::client {
namespace {

// The leaf certificate of a PEM chain, with what the token objects need from it.
struct Leaf {
  std::vector<uint8_t> der;
  std::vector<uint8_t> spki;
  p11::KeyAlgorithm algorithm = p11::KeyAlgorithm::kRsa;
  std::string algorithm_name;
  std::string subject;
};

Result<Leaf> ParseLeaf(const std::string& pem) {
  auto bio = ossl::Wrap(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  auto cert = ossl::Wrap(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) {
    return ossl::Fail(Code::kInvalidArgument,
                      "the key server sent a certificate that is not PEM X.509");
  }
  Leaf leaf;
  unsigned char* der = nullptr;
  int len = i2d_X509(cert.get(), &der);
  if (len <= 0) return ossl::Fail(Code::kInternal, "i2d_X509");
  leaf.der.assign(der, der + len);
  OPENSSL_free(der);
  EVP_PKEY* pub = X509_get0_pubkey(cert.get());
  if (pub == nullptr)
    return ossl::Fail(Code::kInvalidArgument, "the certificate has no public key");
  unsigned char* spki = nullptr;
  len = i2d_PUBKEY(pub, &spki);
  if (len <= 0) return ossl::Fail(Code::kInternal, "i2d_PUBKEY");
  leaf.spki.assign(spki, spki + len);
  OPENSSL_free(spki);
  int bits = EVP_PKEY_get_bits(pub);
  if (EVP_PKEY_is_a(pub, "RSA")) {
    leaf.algorithm = p11::KeyAlgorithm::kRsa;
    leaf.algorithm_name = fmt::format("RSA-{}", bits);
  } else if (EVP_PKEY_is_a(pub, "EC")) {
    leaf.algorithm = p11::KeyAlgorithm::kEc;
    leaf.algorithm_name = fmt::format("EC P-{}", bits);
  } else {
    return InvalidArgument("the released certificate's key is neither RSA nor EC");
  }
  char* subject = X509_NAME_oneline(X509_get_subject_name(cert.get()), nullptr, 0);
  if (subject != nullptr) {
    leaf.subject = subject;
    OPENSSL_free(subject);
  }
  return leaf;
}

// Destroys session objects when the flow ends, whatever way it ends.
class ObjectGuard {
 public:
  explicit ObjectGuard(p11::Session& s) : session_(s) {}
  ~ObjectGuard() {
    for (CK_OBJECT_HANDLE h : handles_) (void)session_.DestroyObject(h);
  }
  void Add(CK_OBJECT_HANDLE h) {
    if (h != CK_INVALID_HANDLE) handles_.push_back(h);
  }
  void Release() { handles_.clear(); }

 private:
  p11::Session& session_;
  std::vector<CK_OBJECT_HANDLE> handles_;
};

// Objects (any class) whose CKA_LABEL is `label`.
Result<std::vector<CK_OBJECT_HANDLE>> ObjectsLabelled(p11::Session& session,
                                                      const std::string& label) {
  p11::Attrs t;
  t.String(CKA_LABEL, label).Bool(CKA_TOKEN, true);
  return session.Find(t);
}

// The certificate (DER) of the key `label` in the token, if there is one.
Result<std::optional<std::vector<uint8_t>>> ExistingCertificate(p11::Session& session,
                                                                const std::string& label) {
  p11::Attrs t;
  t.Ulong(CKA_CLASS, CKO_CERTIFICATE).String(CKA_LABEL, label);
  KMRA_ASSIGN_OR_RETURN(auto certs, session.Find(t));
  if (certs.empty()) return std::optional<std::vector<uint8_t>>();
  KMRA_ASSIGN_OR_RETURN(auto value, session.GetAttribute(certs.front(), CKA_VALUE));
  return std::optional<std::vector<uint8_t>>(std::move(value));
}

Error StepError(const Error& e, std::string_view step, std::string_view advice) {
  std::string m = fmt::format("{}: {}", step, e.message());
  if (!advice.empty()) m += fmt::format(" -> {}", advice);
  return Error(e.code(), m);
}

std::string TokenAdvice(const Error& e, const LoadKeyOptions& o) {
  const std::string& m = e.message();
  if (m.find("CKR_PIN_INCORRECT") != std::string::npos) {
    return fmt::format(
        "the user PIN given with -p is wrong for token '{}'; repeated failures lock "
        "the PIN",
        o.token_label);
  }
  if (m.find("CKR_PIN_LOCKED") != std::string::npos) {
    return "the user PIN is locked; the security officer resets it (kmra token init-pin)";
  }
  if (m.find("CKR_DEVICE_MEMORY") != std::string::npos ||
      m.find("CKR_HOST_MEMORY") != std::string::npos || e.code() == Code::kResourceExhausted) {
    return fmt::format(
        "token '{}' is full: delete keys that are no longer served (pkcs11-tool "
        "--delete-object) and run loadkey again",
        o.token_label);
  }
  return "";
}

}  // namespace

Result<QuotedKey> ParseQuoteOutput(std::span<const uint8_t> out) {
  CK_RSA_PUBLIC_KEY_PARAMS header;
  if (out.size() < sizeof(header)) {
    return InvalidArgument(
        fmt::format("the token's quote output is {} bytes, shorter than its "
                    "{}-byte header",
                    out.size(), sizeof(header)));
  }
  std::memcpy(&header, out.data(), sizeof(header));
  size_t rest = out.size() - sizeof(header);
  if (header.ulExponentLen == 0 || header.ulModulusLen == 0 || header.ulExponentLen > 16 ||
      header.ulModulusLen > 1024 || header.ulExponentLen + header.ulModulusLen >= rest) {
    return InvalidArgument(
        fmt::format("the token's quote output is malformed: exponent {} bytes, "
                    "modulus {} bytes, {} bytes after the header",
                    header.ulExponentLen, header.ulModulusLen, rest));
  }
  auto p = out.subspan(sizeof(header));
  QuotedKey q;
  const auto exponent = p.first(header.ulExponentLen);
  q.exponent.assign(exponent.begin(), exponent.end());
  p = p.subspan(header.ulExponentLen);
  const auto modulus = p.first(header.ulModulusLen);
  q.modulus.assign(modulus.begin(), modulus.end());
  p = p.subspan(header.ulModulusLen);
  q.quote.assign(p.begin(), p.end());
  return q;
}

Result<LoadKeyResult> LoadKey(const LoadKeyOptions& o, const Clock& clock) {
  if (o.key_id.empty()) return InvalidArgument("-u KEY_ID is required: the key's id on the server");
  if (o.token_label.empty()) return InvalidArgument("-t TOKEN is required: the token's label");
  if (o.host.empty()) return InvalidArgument("-H HOST is required: the key server's host name");
  if (o.pin.empty()) return InvalidArgument("-p PIN is required: the token's user PIN");

  // 1. The token.
  auto module = p11::Module::Load(o.module);
  if (!module) {
    return tl::unexpected(StepError(module.error(), "loading the token module " + o.module,
                                    "pass --module with the path of libkmra-pkcs11.so; the token "
                                    "reads its own configuration from KMRA_TOKEN_CONF"));
  }
  auto slot = (*module)->FindSlotByTokenLabel(o.token_label);
  if (!slot) {
    return tl::unexpected(StepError(slot.error(), "finding token '" + o.token_label + "'",
                                    "create it with `kmra token init --label " + o.token_label +
                                        "` or pass the right label with -t"));
  }
  auto session = p11::Session::Open(*module, *slot, /*read_write=*/true);
  if (!session) {
    return tl::unexpected(StepError(session.error(), "opening a session on the token",
                                    TokenAdvice(session.error(), o)));
  }
  if (auto st = session->Login(o.pin); !st) {
    return tl::unexpected(StepError(st.error(), "logging in to token '" + o.token_label + "'",
                                    TokenAdvice(st.error(), o)));
  }
  KMRA_ASSIGN_OR_RETURN(auto existing_cert, ExistingCertificate(*session, o.key_id));
  KMRA_ASSIGN_OR_RETURN(auto old_objects, ObjectsLabelled(*session, o.key_id));

  // 2. The quote key pair (the attestation template: its private half only unwraps), destroyed on
  // every path. Once quoted, the token lets the private half do nothing but unwrap the SWK.
  ObjectGuard temporaries(*session);
  auto quote_key = p11::GenerateSessionRsaKeyPair(*session, o.quote_key_bits);
  if (!quote_key) {
    return tl::unexpected(StepError(quote_key.error(), "generating the quote key pair in the token",
                                    TokenAdvice(quote_key.error(), o)));
  }
  temporaries.Add(quote_key->public_key);
  temporaries.Add(quote_key->private_key);

  // 3. The nonce.
  HttpClient http(fmt::format("https://{}:{}", o.host, o.port), o.tls, o.timeout_s);
  KeyServerClient server(std::move(http), o.api);
  std::vector<uint8_t> nonce;
  if (o.api == Api::kV1) {
    auto n = server.GetNonce();
    if (!n) return tl::unexpected(n.error().WithContext("asking the key server for a nonce"));
    nonce = std::move(*n);
  } else {
    std::array<uint8_t, 28> random{};
    KMRA_TRY(crypto::RandomBytes(random));
    auto kmra_nonce = MakeKmraNonce(random, clock.NowUnix());
    nonce.assign(kmra_nonce.begin(), kmra_nonce.end());
  }

  // 4. The quote, through the CTK vendor mechanism.
  CK_ECDSA_QUOTE_RSA_PUBLIC_KEY_PARAMS params{};
  params.qlPolicy = 0;  // SGX_QL_PERSISTENT
  std::memcpy(params.nonce, nonce.data(), std::min(nonce.size(), sizeof(params.nonce)));
  auto output = p11::WrapWithMechanism(
      *session, CKM_EXPORT_ECDSA_QUOTE_RSA_PUBLIC_KEY,
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(&params), sizeof(params)),
      CK_INVALID_HANDLE, quote_key->public_key);
  if (!output) {
    return tl::unexpected(StepError(output.error(), "getting a quote from the token",
                                    "the token could not reach its platform's quoting enclave; "
                                    "check `platform` and `platform_dir` in KMRA_TOKEN_CONF"));
  }
  KMRA_ASSIGN_OR_RETURN(QuotedKey quoted, ParseQuoteOutput(*output));
  KMRA_ASSIGN_OR_RETURN(auto pub, p11::ReadRsaPublicKey(*session, quote_key->public_key));
  if (pub.modulus != quoted.modulus || pub.exponent != quoted.exponent) {
    return Internal("the token quoted a public key other than the quote key it generated");
  }

  // 5. The release.
  auto released = server.Release(o.key_id, quoted, nonce);
  if (!released) return tl::unexpected(released.error());
  KMRA_ASSIGN_OR_RETURN(Leaf leaf, ParseLeaf(released->certificate_pem));

  LoadKeyResult result;
  result.algorithm = leaf.algorithm_name;
  result.subject = leaf.subject;
  result.version = released->version;
  result.certificate_pem = released->certificate_pem;
  p11::Uri uri;
  uri.token = o.token_label;
  uri.object = o.key_id;
  uri.type = CKO_PRIVATE_KEY;
  KMRA_ASSIGN_OR_RETURN(result.uri, p11::FormatUri(uri));

  if (existing_cert && *existing_cert == leaf.der && !o.force) {
    return result;  // same key version already there: leave the token untouched
  }

  // 6. Unwrap into persistent objects. CKA_ID names this key version (SHA-256 of its public key,
  // first 16 bytes), so old and new objects differ while both exist.
  auto spki_hash = crypto::Sha256(leaf.spki);
  p11::UnwrapTarget target;
  target.name.label = o.key_id;
  target.name.id.assign(spki_hash.begin(), spki_hash.begin() + 16);
  target.algorithm = leaf.algorithm;
  target.token = true;
  ObjectGuard new_objects(*session);  // removed again if a later step fails
  auto priv = p11::UnwrapReleasedKey(*session, quote_key->private_key, released->oaep,
                                     released->wrapped_swk, released->wrapped_key, target);
  if (!priv) {
    return tl::unexpected(StepError(priv.error(), "unwrapping the released key into the token",
                                    TokenAdvice(priv.error(), o)));
  }
  new_objects.Add(*priv);
  auto pub_obj = p11::CreatePublicKeyObject(*session, leaf.spki, target.name);
  if (!pub_obj) {
    return tl::unexpected(StepError(pub_obj.error(), "storing the public key in the token",
                                    TokenAdvice(pub_obj.error(), o)));
  }
  new_objects.Add(*pub_obj);
  auto cert_obj = p11::CreateCertificateObject(*session, leaf.der, target.name);
  if (!cert_obj) {
    return tl::unexpected(StepError(cert_obj.error(), "storing the certificate in the token",
                                    TokenAdvice(cert_obj.error(), o)));
  }
  new_objects.Add(*cert_obj);

  // The key must be what the certificate says and must never leave the token.
  KMRA_ASSIGN_OR_RETURN(bool sensitive, session->GetBool(*priv, CKA_SENSITIVE));
  KMRA_ASSIGN_OR_RETURN(bool extractable, session->GetBool(*priv, CKA_EXTRACTABLE));
  if (!sensitive || extractable) {
    return Internal(
        "the token created the key without CKA_SENSITIVE or with CKA_EXTRACTABLE; "
        "refusing to keep it");
  }
#ifdef CKA_KMRA_CUSTODY
  // Our token marks what came in through the attestation path; tokens without the attribute
  // (CTK) answer CKR_ATTRIBUTE_TYPE_INVALID and are judged by the checks above.
  if (auto mark = session->GetAttribute(*priv, CKA_KMRA_CUSTODY);
      mark && mark->size() == sizeof(CK_ULONG)) {
    CK_ULONG custody = 0;
    std::memcpy(&custody, mark->data(), sizeof custody);
    if (custody != KMRA_CUSTODY_RELEASED) {
      return Internal(
          fmt::format("the token did not take the released key into custody "
                      "(CKA_KMRA_CUSTODY is {}); refusing to keep it",
                      custody));
    }
  }
#endif
  if (leaf.algorithm == p11::KeyAlgorithm::kRsa) {
    KMRA_ASSIGN_OR_RETURN(auto modulus, session->GetAttribute(*priv, CKA_MODULUS));
    KMRA_ASSIGN_OR_RETURN(auto cert_rsa, p11::RsaPublicKeyFromSpki(leaf.spki));
    if (modulus != cert_rsa.modulus) {
      return FailedPrecondition(
          "the released key does not match its certificate (different RSA "
          "modulus); the key server holds a wrong certificate for '" +
          o.key_id + "'");
    }
  }
  new_objects.Release();

  // 7. Remove the previous version now that the new one is complete.
  for (CK_OBJECT_HANDLE h : old_objects) {
    if (auto st = session->DestroyObject(h); !st) {
      return tl::unexpected(st.error().WithContext(
          "the new key is in the token, but removing the previous version failed"));
    }
  }
  result.changed = true;
  result.replaced = !old_objects.empty();
  return result;
}

}  // namespace kmra::client
