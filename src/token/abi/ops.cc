#include "token/abi/ops.h"

#include <cstring>

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

}  // namespace

CK_RV SinglePart(std::optional<Operation>& op, const uint8_t* in, CK_ULONG in_len, CK_BYTE_PTR out,
                 CK_ULONG_PTR out_len) {
  if (!op) return CKR_OPERATION_NOT_INITIALIZED;
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
}

CK_RV UpdatePart(std::optional<Operation>& op, const uint8_t* in, CK_ULONG in_len) {
  if (!op) return CKR_OPERATION_NOT_INITIALIZED;
  // After a single-part length query only the single-part call may finish (the input it was
  // given is not part of the operation, so a multi-part ending would answer for other data). The
  // refusal ends the operation, as every failed C_*Update / C_*Final does (§5.2).
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

CK_RV FinalPart(std::optional<Operation>& op, CK_BYTE_PTR out, CK_ULONG_PTR out_len) {
  if (!op) return CKR_OPERATION_NOT_INITIALIZED;
  if (op->single) {  // see UpdatePart
    op.reset();
    return CKR_OPERATION_ACTIVE;
  }
  if (out_len == nullptr) {
    op.reset();
    return CKR_ARGUMENTS_BAD;
  }
  op->multipart = true;
  return Finish(op, {}, out, out_len);
}

}  // namespace kmra::token::abi
