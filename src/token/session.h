// A PKCS#11 session: its flags, its active operations and its object search.
#pragma once

#include <p11-kit/pkcs11.h>

#include <optional>
#include <vector>

#include "token/crypto_ops.h"

namespace kmra::token {

struct FindState {
  bool active = false;
  std::vector<CK_OBJECT_HANDLE> results;
  size_t pos = 0;
};

struct Session {
  CK_SESSION_HANDLE handle = 0;
  CK_FLAGS flags = 0;  // CKF_SERIAL_SESSION | CKF_RW_SESSION
  std::optional<Operation> sign, verify, encrypt, decrypt, digest;
  FindState find;

  bool ReadWrite() const { return (flags & CKF_RW_SESSION) != 0; }
  // The slot of the session's active operation of `kind`.
  std::optional<Operation>& Op(OpKind kind) {
    switch (kind) {
      case OpKind::kSign:
        return sign;
      case OpKind::kVerify:
        return verify;
      case OpKind::kEncrypt:
        return encrypt;
      case OpKind::kDecrypt:
        return decrypt;
      case OpKind::kDigest:
        break;
    }
    return digest;
  }
};

}  // namespace kmra::token
