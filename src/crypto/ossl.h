// ossl::Ptr<T>: unique_ptr with the right OpenSSL free function for each type.
// Wrap anything returned by *_new, get1_*, d2i_* at once; never wrap a get0_* pointer.
#pragma once

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/decoder.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>

#include "base/result.h"

namespace kmra::ossl {

template <class T>
struct Deleter;

// Type names a type (Type* cannot take parentheses).
// NOLINTBEGIN(bugprone-macro-parentheses)
#define KMRA_OSSL_DELETER(Type, free_fn)          \
  template <>                                     \
  struct Deleter<Type> {                          \
    void operator()(Type* p) const { free_fn(p); } \
  };
// NOLINTEND(bugprone-macro-parentheses)

KMRA_OSSL_DELETER(BIO, BIO_free_all)
KMRA_OSSL_DELETER(BIGNUM, BN_clear_free)
KMRA_OSSL_DELETER(BN_CTX, BN_CTX_free)
KMRA_OSSL_DELETER(EVP_PKEY, EVP_PKEY_free)
KMRA_OSSL_DELETER(EVP_PKEY_CTX, EVP_PKEY_CTX_free)
KMRA_OSSL_DELETER(EVP_MD_CTX, EVP_MD_CTX_free)
KMRA_OSSL_DELETER(EVP_CIPHER_CTX, EVP_CIPHER_CTX_free)
KMRA_OSSL_DELETER(EVP_MD, EVP_MD_free)
KMRA_OSSL_DELETER(EVP_CIPHER, EVP_CIPHER_free)
KMRA_OSSL_DELETER(ECDSA_SIG, ECDSA_SIG_free)
KMRA_OSSL_DELETER(EC_GROUP, EC_GROUP_free)
KMRA_OSSL_DELETER(EC_POINT, EC_POINT_free)
KMRA_OSSL_DELETER(X509, X509_free)
KMRA_OSSL_DELETER(X509_CRL, X509_CRL_free)
KMRA_OSSL_DELETER(X509_STORE, X509_STORE_free)
KMRA_OSSL_DELETER(X509_STORE_CTX, X509_STORE_CTX_free)
KMRA_OSSL_DELETER(X509_NAME, X509_NAME_free)
KMRA_OSSL_DELETER(X509_REQ, X509_REQ_free)
KMRA_OSSL_DELETER(X509_EXTENSION, X509_EXTENSION_free)
KMRA_OSSL_DELETER(ASN1_OBJECT, ASN1_OBJECT_free)
// ASN1_INTEGER, ASN1_TIME and ASN1_OCTET_STRING are all ASN1_STRING.
KMRA_OSSL_DELETER(ASN1_STRING, ASN1_STRING_free)
KMRA_OSSL_DELETER(ASN1_TYPE, ASN1_TYPE_free)
KMRA_OSSL_DELETER(PKCS8_PRIV_KEY_INFO, PKCS8_PRIV_KEY_INFO_free)
KMRA_OSSL_DELETER(OSSL_PARAM_BLD, OSSL_PARAM_BLD_free)
KMRA_OSSL_DELETER(OSSL_PARAM, OSSL_PARAM_free)
KMRA_OSSL_DELETER(OSSL_DECODER_CTX, OSSL_DECODER_CTX_free)

#undef KMRA_OSSL_DELETER

template <class T>
using Ptr = std::unique_ptr<T, Deleter<T>>;

template <class T>
Ptr<T> Wrap(T* p) {
  return Ptr<T>(p);
}

// Drains the thread's OpenSSL error queue into one line ("lib:reason; lib:reason"), or "" if empty.
std::string DrainErrors();

// An Error with `what`, followed by the drained OpenSSL error queue when there is one.
Error OpenSslError(Code code, std::string what);
inline tl::unexpected<Error> Fail(Code code, std::string what) {
  return tl::unexpected<Error>(OpenSslError(code, std::move(what)));
}

}  // namespace kmra::ossl
