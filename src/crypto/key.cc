#include "crypto/key.h"

#include <openssl/decoder.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

namespace kmra::crypto {
namespace {

// Never let OpenSSL prompt on the terminal for a PEM pass phrase.
int NoPassword(char*, int, int, void*) { return -1; }

ossl::Ptr<EVP_PKEY> UpRef(EVP_PKEY* p) {
  if (p != nullptr) EVP_PKEY_up_ref(p);
  return ossl::Ptr<EVP_PKEY>(p);
}

ossl::Ptr<BIO> MemBio(std::string_view text) {
  return ossl::Wrap(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

// Reads the whole content of a memory BIO into wiping memory.
Result<SecretBytes> DrainSecret(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  if (len < 0 || data == nullptr) return ossl::Fail(Code::kInternal, "cannot read encoded key");
  return SecretBytes(
      std::span<const uint8_t>(reinterpret_cast<uint8_t*>(data), static_cast<size_t>(len)));
}

bool LooksLikePem(std::span<const uint8_t> b) {
  std::string_view s(reinterpret_cast<const char*>(b.data()), b.size());
  return s.find("-----BEGIN ") != std::string_view::npos;
}

}  // namespace

namespace internal {
KeyType TypeOf(const EVP_PKEY* pkey) {
  if (pkey == nullptr) return KeyType::kOther;
  if (EVP_PKEY_is_a(pkey, "RSA")) return KeyType::kRsa;
  if (EVP_PKEY_is_a(pkey, "EC")) return KeyType::kEc;
  return KeyType::kOther;
}

Status RequireType(const EVP_PKEY* pkey, KeyType want, std::string_view what) {
  KeyType got = TypeOf(pkey);
  if (got == want) return OkStatus();
  return InvalidArgument(std::string(what) + " needs an " + std::string(KeyTypeName(want)) +
                         " key, got an " + std::string(KeyTypeName(got)) + " key");
}
}  // namespace internal

std::string_view KeyTypeName(KeyType type) {
  switch (type) {
    case KeyType::kRsa:
      return "RSA";
    case KeyType::kEc:
      return "EC";
    case KeyType::kOther:
      return "other";
  }
  return "other";
}

// ---- PublicKey ----

Result<PublicKey> PublicKey::FromSpkiDer(std::span<const uint8_t> der) {
  const unsigned char* p = der.data();
  auto pkey = ossl::Wrap(d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size())));
  if (!pkey) {
    return ossl::Fail(Code::kInvalidArgument,
                      "public key is not a valid DER SubjectPublicKeyInfo (" +
                          std::to_string(der.size()) + " bytes)");
  }
  if (p != der.data() + der.size()) {
    return InvalidArgument("public key DER has " + std::to_string(der.data() + der.size() - p) +
                           " trailing bytes");
  }
  return PublicKey(std::move(pkey));
}

Result<PublicKey> PublicKey::FromPem(std::string_view pem) {
  // The decoder reads both "PUBLIC KEY" (SPKI) and "RSA PUBLIC KEY" (PKCS#1).
  EVP_PKEY* raw = nullptr;
  auto dctx = ossl::Wrap(OSSL_DECODER_CTX_new_for_pkey(&raw, "PEM", nullptr, nullptr,
                                                       EVP_PKEY_PUBLIC_KEY, nullptr, nullptr));
  auto bio = MemBio(pem);
  if (!dctx || !bio || OSSL_DECODER_from_bio(dctx.get(), bio.get()) != 1 || raw == nullptr) {
    EVP_PKEY_free(raw);
    return ossl::Fail(Code::kInvalidArgument,
                      "no PEM public key found (expected -----BEGIN PUBLIC KEY----- or "
                      "-----BEGIN RSA PUBLIC KEY-----)");
  }
  return PublicKey(ossl::Ptr<EVP_PKEY>(raw));
}

PublicKey PublicKey::Share(EVP_PKEY* pkey) { return PublicKey(UpRef(pkey)); }

PublicKey::PublicKey(const PublicKey& other) : pkey_(UpRef(other.pkey_.get())) {}

PublicKey& PublicKey::operator=(const PublicKey& other) {
  if (this != &other) pkey_ = UpRef(other.pkey_.get());
  return *this;
}

KeyType PublicKey::type() const { return internal::TypeOf(pkey_.get()); }
int PublicKey::bits() const { return EVP_PKEY_get_bits(pkey_.get()); }

Result<std::vector<uint8_t>> PublicKey::ToSpkiDer() const {
  int len = i2d_PUBKEY(pkey_.get(), nullptr);
  if (len <= 0) return ossl::Fail(Code::kInternal, "cannot encode public key");
  std::vector<uint8_t> out(static_cast<size_t>(len));
  unsigned char* p = out.data();
  if (i2d_PUBKEY(pkey_.get(), &p) != len) {
    return ossl::Fail(Code::kInternal, "cannot encode public key");
  }
  return out;
}

Result<std::string> PublicKey::ToPem() const {
  auto bio = ossl::Wrap(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), pkey_.get()) != 1) {
    return ossl::Fail(Code::kInternal, "cannot PEM-encode public key");
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

bool PublicKey::Equals(const PublicKey& other) const {
  return EVP_PKEY_eq(pkey_.get(), other.pkey_.get()) == 1;
}

// ---- PrivateKey ----

Result<PrivateKey> PrivateKey::FromDer(std::span<const uint8_t> der) {
  const unsigned char* p = der.data();
  auto pkey = ossl::Wrap(d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(der.size())));
  if (!pkey) {
    return ossl::Fail(Code::kInvalidArgument,
                      "private key is not valid DER PKCS#8 or a traditional RSA/EC key (" +
                          std::to_string(der.size()) + " bytes)");
  }
  if (p != der.data() + der.size()) {
    return InvalidArgument("private key DER has " + std::to_string(der.data() + der.size() - p) +
                           " trailing bytes");
  }
  return PrivateKey(std::move(pkey));
}

Result<PrivateKey> PrivateKey::FromPem(std::string_view pem) {
  if (pem.find("-----BEGIN") == std::string_view::npos) {
    return InvalidArgument("the private key is not PEM (no '-----BEGIN' line)");
  }
  if (pem.find("ENCRYPTED") != std::string_view::npos) {
    return InvalidArgument(
        "the PEM private key is encrypted; give an unencrypted key (openssl pkey -in K -out "
        "K.clear) over a protected channel");
  }
  auto bio = MemBio(pem);
  auto pkey = ossl::Wrap(PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassword, nullptr));
  if (!pkey) {
    return ossl::Fail(Code::kInvalidArgument,
                      "no PEM private key found (expected -----BEGIN PRIVATE KEY-----, "
                      "RSA PRIVATE KEY or EC PRIVATE KEY)");
  }
  return PrivateKey(std::move(pkey));
}

Result<PrivateKey> PrivateKey::Parse(std::span<const uint8_t> bytes) {
  if (LooksLikePem(bytes)) {
    return FromPem(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  }
  return FromDer(bytes);
}

PrivateKey PrivateKey::Share(EVP_PKEY* pkey) { return PrivateKey(UpRef(pkey)); }

PrivateKey::PrivateKey(const PrivateKey& other) : pkey_(UpRef(other.pkey_.get())) {}

PrivateKey& PrivateKey::operator=(const PrivateKey& other) {
  if (this != &other) pkey_ = UpRef(other.pkey_.get());
  return *this;
}

KeyType PrivateKey::type() const { return internal::TypeOf(pkey_.get()); }
int PrivateKey::bits() const { return EVP_PKEY_get_bits(pkey_.get()); }

Result<SecretBytes> PrivateKey::ToPkcs8Der() const {
  // The secure-memory BIO wipes its buffer when freed.
  auto bio = ossl::Wrap(BIO_new(BIO_s_secmem()));
  if (!bio ||
      i2d_PKCS8PrivateKey_bio(bio.get(), pkey_.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return ossl::Fail(Code::kInternal, "cannot encode private key as PKCS#8");
  }
  return DrainSecret(bio.get());
}

Result<SecretBytes> PrivateKey::ToPkcs8Pem() const {
  auto bio = ossl::Wrap(BIO_new(BIO_s_secmem()));
  if (!bio || PEM_write_bio_PKCS8PrivateKey(bio.get(), pkey_.get(), nullptr, nullptr, 0, nullptr,
                                            nullptr) != 1) {
    return ossl::Fail(Code::kInternal, "cannot PEM-encode private key as PKCS#8");
  }
  return DrainSecret(bio.get());
}

Result<crypto::PublicKey> PrivateKey::PublicKey() const {
  int len = i2d_PUBKEY(pkey_.get(), nullptr);
  if (len <= 0) return ossl::Fail(Code::kInternal, "cannot derive the public key");
  std::vector<uint8_t> der(static_cast<size_t>(len));
  unsigned char* p = der.data();
  i2d_PUBKEY(pkey_.get(), &p);
  return crypto::PublicKey::FromSpkiDer(der);
}

}  // namespace kmra::crypto
