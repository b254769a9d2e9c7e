#include "token/abi/ops.h"

#include <cstring>
#include <optional>
#include <span>

#include "token/abi/guard.h"

namespace kmra::token::abi {
namespace {

CK_RV Finish(std::optional<Operation>& op, std::span<const uint8_t> in, CK_BYTE_PTR out,
             CK_ULONG_PTR out_len) {
  const size_t bound = OutputBound(*op, in.size());
  if (out == nullptr) {
    *out_len = bound;
    return CKR_OK;
  }
  // Decryption lengths are known only after the fact; everything else has an exact bound.
  if (op->kind != OpKind::kDecrypt && *out_len < bound) {
    *out_len = bound;
    return CKR_BUFFER_TOO_SMALL;
  }
  SecretBytes result;
  CK_RV rv = FinishOperation(*op, in, result);
  if (rv != CKR_OK) {
    op.reset();
    return rv;
  }
  if (*out_len < result.size()) {
    *out_len = result.size();
    return CKR_BUFFER_TOO_SMALL;
  }
  if (!result.empty()) std::memcpy(out, result.Reveal().data(), result.size());
  *out_len = result.size();
  op.reset();
  return CKR_OK;
}

// Runs body(op) on the session's operation of `kind` after the guard's not-initialised and
// session checks, then `args` (an argument check of the caller that comes before the
// operation's), then CKR_OPERATION_NOT_INITIALIZED.
template <class F>
CK_RV WithOperation(CK_SESSION_HANDLE h, OpKind kind, F&& body, CK_RV args = CKR_OK) noexcept {
  return WithSession(h, [&](Token&, Session& s) -> CK_RV {
    if (args != CKR_OK) return args;
    std::optional<Operation>& op = s.Op(kind);
    if (!op) return CKR_OPERATION_NOT_INITIALIZED;
    return body(op);
  });
}

CK_RV Update(std::optional<Operation>& op, const uint8_t* in, CK_ULONG in_len) {
  // After a single-part length query only the single-part call may finish (the input it was
  // given is not part of the operation, so a multi-part ending would answer for other data).
  // The refusal ends the operation, as every failed C_*Update / C_*Final does (§5.2).
  if (op->single) {
    op.reset();
    return CKR_OPERATION_ACTIVE;
  }
  if (in == nullptr && in_len > 0) {
    op.reset();
    return CKR_ARGUMENTS_BAD;
  }
  CK_RV rv = UpdateOperation(*op, {in, static_cast<size_t>(in_len)});
  if (rv != CKR_OK) op.reset();
  return rv;
}

}  // namespace

CK_RV InitEntry(CK_SESSION_HANDLE h, OpKind kind, CK_MECHANISM_PTR mechanism,
                CK_OBJECT_HANDLE key) noexcept {
  return WithSession(h, [&](Token& t, Session& s) -> CK_RV {
    if (mechanism == nullptr) return CKR_ARGUMENTS_BAD;
    return t.OperationInit(s, kind, *mechanism, kind == OpKind::kDigest ? CK_INVALID_HANDLE : key);
  });
}

CK_RV SingleEntry(CK_SESSION_HANDLE h, OpKind kind, const uint8_t* in, CK_ULONG in_len,
                  CK_BYTE_PTR out, CK_ULONG_PTR out_len) noexcept {
  return WithOperation(h, kind, [&](std::optional<Operation>& op) -> CK_RV {
    if ((in == nullptr && in_len > 0) || out_len == nullptr) {
      op.reset();
      return CKR_ARGUMENTS_BAD;
    }
    // A multi-part operation in progress cannot be finished by a single-part call; it stays
    // usable (C_*Update / C_*Final go on).
    if (op->multipart) return CKR_OPERATION_ACTIVE;
    // Digests only: pkcs11-tool --test-ec finishes a C_Sign length query with C_SignFinal and
    // expects it to work, while conformance suites refuse C_DigestFinal after a C_Digest one.
    if (op->kind == OpKind::kDigest) op->single = true;
    return Finish(op, {in, static_cast<size_t>(in_len)}, out, out_len);
  });
}

CK_RV UpdateEntry(CK_SESSION_HANDLE h, OpKind kind, const uint8_t* in, CK_ULONG in_len) noexcept {
  return WithOperation(h, kind,
                       [&](std::optional<Operation>& op) { return Update(op, in, in_len); });
}

CK_RV BufferedUpdateEntry(CK_SESSION_HANDLE h, OpKind kind, const uint8_t* in, CK_ULONG in_len,
                          CK_ULONG_PTR out_len) noexcept {
  return WithOperation(
      h, kind,
      [&](std::optional<Operation>& op) {
        CK_RV rv = Update(op, in, in_len);
        if (rv == CKR_OK) *out_len = 0;
        return rv;
      },
      out_len == nullptr ? CKR_ARGUMENTS_BAD : CKR_OK);
}

CK_RV FinalEntry(CK_SESSION_HANDLE h, OpKind kind, CK_BYTE_PTR out, CK_ULONG_PTR out_len) noexcept {
  return WithOperation(h, kind, [&](std::optional<Operation>& op) -> CK_RV {
    if (op->single) {  // see Update
      op.reset();
      return CKR_OPERATION_ACTIVE;
    }
    if (out_len == nullptr) {
      op.reset();
      return CKR_ARGUMENTS_BAD;
    }
    op->multipart = true;
    return Finish(op, {}, out, out_len);
  });
}

CK_RV VerifyEntry(CK_SESSION_HANDLE h, bool final, const uint8_t* in, CK_ULONG in_len,
                  const uint8_t* signature, CK_ULONG signature_len) noexcept {
  return WithOperation(h, OpKind::kVerify, [&](std::optional<Operation>& op) -> CK_RV {
    if ((!final && in == nullptr && in_len > 0) || signature == nullptr) {
      op.reset();
      return CKR_ARGUMENTS_BAD;
    }
    if (final) {
      op->multipart = true;
    } else if (op->multipart) {
      return CKR_OPERATION_ACTIVE;  // as in SingleEntry
    }
    CK_RV rv = FinishVerify(*op, {in, final ? 0 : static_cast<size_t>(in_len)},
                            {signature, static_cast<size_t>(signature_len)});
    op.reset();
    return rv;
  });
}

}  // namespace kmra::token::abi
