// One token (the module has one slot holding it): its sealed store, its objects, its sessions and
// its login state. Every method expects the module lock held; methods taking a Session& expect
// the session handle already checked (PKCS#11 check order: initialised, session, arguments).
#pragma once

#include <p11-kit/pkcs11.h>

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "enclave/platform.h"
#include "token/config.h"
#include "token/object.h"
#include "token/session.h"
#include "token/store.h"

namespace kmra::token {

inline constexpr CK_SLOT_ID kSlotId = 0;

class Token {
 public:
  // Opens the token of `config` on `platform`: derives the store key, reads the sealed record and
  // objects. A token that was never initialised opens fine (CKF_TOKEN_INITIALIZED unset).
  static Result<std::unique_ptr<Token>> Open(const TokenConfig& config,
                                             std::unique_ptr<enclave::Platform> platform);

  // Slot and token.
  void FillTokenInfo(CK_TOKEN_INFO& info);
  CK_RV InitToken(std::string_view so_pin, std::string_view label);
  CK_RV InitPin(Session& s, std::string_view pin);
  CK_RV SetPin(Session& s, std::string_view old_pin, std::string_view new_pin);

  // Sessions and login.
  Session* FindSession(CK_SESSION_HANDLE h);
  CK_RV OpenSession(CK_FLAGS flags, CK_SESSION_HANDLE& out);
  CK_RV CloseSession(CK_SESSION_HANDLE h);
  void CloseAllSessions();
  void FillSessionInfo(const Session& s, CK_SESSION_INFO& info) const;
  CK_RV Login(CK_USER_TYPE user, std::string_view pin);
  CK_RV Logout();
  size_t session_count() const { return sessions_.size(); }

  // Objects.
  CK_RV CreateObject(Session& s, const CK_ATTRIBUTE* tmpl, CK_ULONG count, CK_OBJECT_HANDLE& out);
  CK_RV DestroyObject(Session& s, CK_OBJECT_HANDLE h);
  CK_RV GetAttributeValue(Session& s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE* tmpl, CK_ULONG count);
  CK_RV SetAttributeValue(Session& s, CK_OBJECT_HANDLE h, const CK_ATTRIBUTE* tmpl, CK_ULONG count);
  CK_RV GetObjectSize(Session& s, CK_OBJECT_HANDLE h, CK_ULONG& size);
  CK_RV FindObjectsInit(Session& s, const CK_ATTRIBUTE* tmpl, CK_ULONG count);

  // Operations (init only: Update/Final act on the Session's Operation directly).
  CK_RV OperationInit(Session& s, OpKind kind, const CK_MECHANISM& m, CK_OBJECT_HANDLE key);

  // Key generation, wrapping and the CTK quote.
  CK_RV GenerateKeyPair(Session& s, const CK_MECHANISM& m, const CK_ATTRIBUTE* pub_tmpl,
                        CK_ULONG pub_count, const CK_ATTRIBUTE* priv_tmpl, CK_ULONG priv_count,
                        CK_OBJECT_HANDLE& pub, CK_OBJECT_HANDLE& priv);
  CK_RV GenerateKey(Session& s, const CK_MECHANISM& m, const CK_ATTRIBUTE* tmpl, CK_ULONG count,
                    CK_OBJECT_HANDLE& out);
  CK_RV WrapKey(Session& s, const CK_MECHANISM& m, CK_OBJECT_HANDLE wrapping, CK_OBJECT_HANDLE key,
                uint8_t* out, CK_ULONG* out_len);
  CK_RV UnwrapKey(Session& s, const CK_MECHANISM& m, CK_OBJECT_HANDLE unwrapping,
                  std::span<const uint8_t> wrapped, const CK_ATTRIBUTE* tmpl, CK_ULONG count,
                  CK_OBJECT_HANDLE& out);

  const TokenConfig& config() const { return config_; }

 private:
  Token(TokenConfig config, std::unique_ptr<enclave::Platform> platform,
        std::unique_ptr<Store> store);

  enum class LoginState { kPublic, kUser, kSo };

  // Reloads the record and the token objects when another process changed them.
  void Refresh();
  // The same with the store lock already held (shared or exclusive).
  void RefreshLocked();
  // Replaces the token objects with `loaded`, keeping the handles of unchanged uids.
  void ReplaceTokenObjects(std::vector<Object> loaded);
  // The object behind a handle if this session may see it (private objects need a user login).
  std::shared_ptr<Object> Visible(CK_OBJECT_HANDLE h);
  // Checks a new object may be created by this session (R/W for token objects, login for
  // private ones).
  CK_RV CheckCreate(const Session& s, const Object& o) const;
  // Stores a new object (token objects are sealed to disk first) and returns its handle.
  CK_RV AddObject(Session& s, Object o, CK_OBJECT_HANDLE& out);
  // Persists a changed token object and bumps the generation.
  CK_RV Persist(const Object& o);
  CK_RV RemoveObject(CK_OBJECT_HANDLE h);
  // Destroys every private session object (C_Logout, §5.6).
  void DestroyPrivateSessionObjects();
  // Writes the record after a change (caller holds the exclusive lock).
  CK_RV BumpGeneration();
  // Verifies a PIN against the sealed record, counting failures (user PIN locks at the limit).
  CK_RV CheckPin(std::string_view pin, bool is_user);
  CK_RV QuoteWrap(Session& s, const CK_MECHANISM& m, CK_OBJECT_HANDLE key, uint8_t* out,
                  CK_ULONG* out_len);
  // Why the public key `pub` may not be quoted (empty when it may); `priv` gets its private half.
  std::string QuoteRefusal(const Object& pub, std::shared_ptr<Object>& priv, CK_RV& rv) const;
  // Ends every session's sign and decrypt operation that uses `pkey` (a key entering custody).
  void CancelOperationsOn(const EVP_PKEY* pkey);

  TokenConfig config_;
  std::unique_ptr<enclave::Platform> platform_;
  std::unique_ptr<Store> store_;
  std::optional<TokenMeta> meta_;  // nullopt: not initialised
  LoginState login_ = LoginState::kPublic;
  std::map<CK_OBJECT_HANDLE, std::shared_ptr<Object>> objects_;
  std::map<std::string, CK_OBJECT_HANDLE> token_handles_;  // uid -> handle
  std::map<CK_SESSION_HANDLE, Session> sessions_;
  CK_OBJECT_HANDLE next_object_ = 1;
  CK_SESSION_HANDLE next_session_ = 1;
  std::set<std::vector<uint8_t>> quoted_moduli_;  // every key pair quoted, by key (its modulus)
};

}  // namespace kmra::token
