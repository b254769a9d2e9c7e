/* OpenKMRA PKCS#11 vendor extensions, compatible with Intel's Crypto API Toolkit for SGX (CTK).
 *
 * Installed header for applications that ask the token for an attested RSA public key:
 *
 *   CK_ECDSA_QUOTE_RSA_PUBLIC_KEY_PARAMS params = {SGX_QL_PERSISTENT, {nonce...}};
 *   CK_MECHANISM m = {CKM_EXPORT_ECDSA_QUOTE_RSA_PUBLIC_KEY, &params, sizeof(params)};
 *   C_WrapKey(session, &m, 0, rsa_public_key, NULL, &len);   // size query
 *   C_WrapKey(session, &m, 0, rsa_public_key, out, &len);
 *
 * Output layout: CK_RSA_PUBLIC_KEY_PARAMS {ulExponentLen, ulModulusLen} || exponent || modulus || quote,
 * with the quote's report data = SHA-256(exponent || modulus || nonce) followed by 32 zero bytes.
 * Only the public half of an RSA key pair this token generated, whose private half is a session
 * object that was never revealed, is quoted, once per key pair. From the quote on the private half
 * is an attestation key (CKA_KMRA_CUSTODY below; docs/token.md, "Threat model and custody").
 */
#ifndef KMRA_PKCS11_VENDOR_H_
#define KMRA_PKCS11_VENDOR_H_

#include <p11-kit/pkcs11.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Mechanism: export an RSA public key bound to a DCAP ECDSA quote (CTK value). */
#define CKM_EXPORT_ECDSA_QUOTE_RSA_PUBLIC_KEY (CKM_VENDOR_DEFINED + 0x210DUL)

/* Length of the caller's nonce in CK_ECDSA_QUOTE_RSA_PUBLIC_KEY_PARAMS. */
#define KMRA_QUOTE_NONCE_LENGTH 32

/* Quote library policy values of CTK (accepted; the platform decides how its quoting enclave runs). */
#define SGX_QL_PERSISTENT 0
#define SGX_QL_EPHEMERAL 1

/* Mechanism parameters of CKM_EXPORT_ECDSA_QUOTE_RSA_PUBLIC_KEY. */
typedef struct CK_ECDSA_QUOTE_RSA_PUBLIC_KEY_PARAMS {
  CK_LONG qlPolicy;
  CK_BYTE nonce[KMRA_QUOTE_NONCE_LENGTH];
} CK_ECDSA_QUOTE_RSA_PUBLIC_KEY_PARAMS;

/* Header of the mechanism's output, followed by the exponent, the modulus and the quote. */
typedef struct CK_RSA_PUBLIC_KEY_PARAMS {
  CK_ULONG ulExponentLen;
  CK_ULONG ulModulusLen;
} CK_RSA_PUBLIC_KEY_PARAMS;

/* Read-only CK_ULONG attribute of every key: how the key came into the token's custody. Set by the
 * token only; a template that names it gets CKR_ATTRIBUTE_READ_ONLY. Token keys keep it across
 * restarts. */
#define CKA_KMRA_CUSTODY (CKA_VENDOR_DEFINED + 0x4B4D0001UL)

/* Any key outside the attestation path. */
#define KMRA_CUSTODY_NONE 0UL
/* The private half of a quoted key pair: it can only C_UnwrapKey with CKM_RSA_PKCS_OAEP, once. */
#define KMRA_CUSTODY_ATTESTATION 1UL
/* A transport key (SWK) an attestation key unwrapped: AES, sensitive, session only; it can only
 * C_UnwrapKey a private key with CKM_AES_KEY_WRAP_PAD or CKM_AES_GCM, once. */
#define KMRA_CUSTODY_TRANSPORT 2UL
/* A key a transport key unwrapped (the released key): it signs and decrypts, and never leaves. */
#define KMRA_CUSTODY_RELEASED 3UL

#ifdef __cplusplus
}
#endif

#endif /* KMRA_PKCS11_VENDOR_H_ */
