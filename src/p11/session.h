// Session: an open PKCS#11 session (RAII) and the object helpers that run in it.
//
// A Session is closed (C_CloseSession) when destroyed. It is movable, not copyable, and must be used by
// one thread at a time (PKCS#11 sessions are not re-entrant); the server shares a SessionPool instead
// (session_pool.h). Login state is per token in PKCS#11: logging in on one session logs in all sessions of
// the application on that token.
//
// Every failure is an Error naming the C_ function and the CKR_ value (error.h). When a call reports that
// the device or session is gone (IsConnectionLost), the session remembers it: broken() becomes true and a
// pool drops it instead of reusing it.
#pragma once

#include <p11-kit/pkcs11.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "base/secret_bytes.h"
#include "p11/attributes.h"
#include "p11/module.h"

namespace kmra::p11 {

class Session {
 public:
  // Opens a session on `slot` (CKF_SERIAL_SESSION, plus CKF_RW_SESSION when read_write).
  static Result<Session> Open(std::shared_ptr<Module> module, CK_SLOT_ID slot, bool read_write);

  Session(Session&& other) noexcept;
  Session& operator=(Session&& other) noexcept;
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  ~Session();

  // C_Login. CKR_USER_ALREADY_LOGGED_IN counts as success. A wrong PIN is Unauthenticated
  // ("C_Login: CKR_PIN_INCORRECT"), a locked PIN FailedPrecondition. The PIN is not copied anywhere.
  Status Login(const SecretBytes& pin, CK_USER_TYPE user = CKU_USER);
  // C_Logout; CKR_USER_NOT_LOGGED_IN counts as success.
  Status Logout();

  // Handles every object matching `tmpl` (an empty template matches all visible objects), at most
  // `max` of them when max > 0.
  Result<std::vector<CK_OBJECT_HANDLE>> Find(Attrs& tmpl, size_t max = 0);
  // Exactly one object matching `tmpl`: NotFound when none, FailedPrecondition when several.
  // `what` names the object in messages ("private key 'web'").
  Result<CK_OBJECT_HANDLE> FindOne(Attrs& tmpl, std::string_view what);

  // The value of one attribute (size query, then fetch). Errors: InvalidArgument for
  // CKR_ATTRIBUTE_TYPE_INVALID, PermissionDenied for a sensitive attribute.
  Result<std::vector<uint8_t>> GetAttribute(CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type);
  Result<bool> GetBool(CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type);
  Result<CK_ULONG> GetUlong(CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type);
  Result<std::string> GetString(CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type);
  Status SetAttributes(CK_OBJECT_HANDLE object, Attrs& attrs);

  Result<CK_OBJECT_HANDLE> CreateObject(Attrs& attrs);
  Status DestroyObject(CK_OBJECT_HANDLE object);

  // C_GenerateKeyPair; returns {public, private}.
  Result<std::pair<CK_OBJECT_HANDLE, CK_OBJECT_HANDLE>> GenerateKeyPair(CK_MECHANISM& mechanism,
                                                                        Attrs& public_template,
                                                                        Attrs& private_template);
  Result<CK_OBJECT_HANDLE> GenerateKey(CK_MECHANISM& mechanism, Attrs& tmpl);

  // C_WrapKey with a size query first. `wrapping_key` may be CK_INVALID_HANDLE for mechanisms that take
  // none (e.g. the CTK quote mechanism).
  Result<std::vector<uint8_t>> WrapKey(CK_MECHANISM& mechanism, CK_OBJECT_HANDLE wrapping_key,
                                       CK_OBJECT_HANDLE key);
  Result<CK_OBJECT_HANDLE> UnwrapKey(CK_MECHANISM& mechanism, CK_OBJECT_HANDLE unwrapping_key,
                                     std::span<const uint8_t> wrapped, Attrs& tmpl);

  // C_SignInit + C_Sign (size query, then sign).
  Result<std::vector<uint8_t>> Sign(CK_MECHANISM& mechanism, CK_OBJECT_HANDLE key,
                                    std::span<const uint8_t> data);
  // C_EncryptInit + C_Encrypt / C_DecryptInit + C_Decrypt (decrypt output in SecretBytes).
  Result<std::vector<uint8_t>> Encrypt(CK_MECHANISM& mechanism, CK_OBJECT_HANDLE key,
                                       std::span<const uint8_t> data);
  Result<SecretBytes> Decrypt(CK_MECHANISM& mechanism, CK_OBJECT_HANDLE key,
                              std::span<const uint8_t> data);

  Result<std::vector<uint8_t>> GenerateRandom(size_t size);

  // C_GetSessionInfo state (CKS_RO_PUBLIC_SESSION, CKS_RW_USER_FUNCTIONS, ...). A cheap liveness probe.
  Result<CK_STATE> State();

  CK_SESSION_HANDLE handle() const { return handle_; }
  CK_SLOT_ID slot() const { return slot_; }
  CK_FUNCTION_LIST* fn() const { return module_->fn(); }
  const std::shared_ptr<Module>& module() const { return module_; }
  bool read_write() const { return read_write_; }
  // True once a call reported that the device or session is gone.
  bool broken() const { return broken_; }

  // Turns a CK_RV into a Status for `function`, marking the session broken on connection loss.
  // For callers that invoke fn() directly.
  Status Check(std::string_view function, CK_RV rv);

 private:
  Session(std::shared_ptr<Module> module, CK_SLOT_ID slot, CK_SESSION_HANDLE handle, bool rw)
      : module_(std::move(module)), slot_(slot), handle_(handle), read_write_(rw) {}
  void Close();

  std::shared_ptr<Module> module_;
  CK_SLOT_ID slot_ = 0;
  CK_SESSION_HANDLE handle_ = CK_INVALID_HANDLE;
  bool read_write_ = false;
  bool broken_ = false;
};

// Destroys a (session) object when it goes out of scope, unless Release()d. Used for the temporary keys of
// the release and loadkey flows so they disappear on every error path too.
class ScopedObject {
 public:
  ScopedObject() = default;
  ScopedObject(Session* session, CK_OBJECT_HANDLE handle) : session_(session), handle_(handle) {}
  ScopedObject(ScopedObject&& other) noexcept { *this = std::move(other); }
  ScopedObject& operator=(ScopedObject&& other) noexcept;
  ScopedObject(const ScopedObject&) = delete;
  ScopedObject& operator=(const ScopedObject&) = delete;
  ~ScopedObject() { Reset(); }

  CK_OBJECT_HANDLE get() const { return handle_; }
  // Stops tracking the object without destroying it.
  CK_OBJECT_HANDLE Release();
  // Destroys the object now (errors are ignored: the session may already be gone, and session objects
  // die with the session anyway).
  void Reset();

 private:
  Session* session_ = nullptr;
  CK_OBJECT_HANDLE handle_ = CK_INVALID_HANDLE;
};

}  // namespace kmra::p11
