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
 * The public key must be a session object and gives one quote only.
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

#ifdef __cplusplus
}
#endif

#endif /* KMRA_PKCS11_VENDOR_H_ */
