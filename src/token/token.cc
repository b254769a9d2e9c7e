#include "token/token.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <optional>

#include "base/hex.h"
#include "crypto/random.h"
#include "token/log.h"

namespace kmra::token {
namespace {

void Pad(CK_UTF8CHAR* dst, size_t n, std::string_view s) {
  std::memset(dst, ' ', n);
  std::memcpy(dst, s.data(), std::min(n, s.size()));
}

// A fresh salt and the PBKDF2 verifier of `pin` under it; false (logged) when OpenSSL fails.
bool MakeVerifier(std::string_view pin, SecretBytes& salt, SecretBytes& hash) {
  auto s = crypto::RandomSecret(16);
  auto h = s ? HashPin(*s, pin) : Result<SecretBytes>(tl::unexpected(s.error()));
  if (!h) {
    LogError("cannot make a PIN verifier: " + h.error().message());
    return false;
  }
  salt = std::move(*s);
  hash = std::move(*h);
  return true;
}

// Whether `pin` matches the verifier; nullopt (logged) when OpenSSL fails.
std::optional<bool> PinMatches(const SecretBytes& salt, const SecretBytes& hash,
                               std::string_view pin) {
  auto h = HashPin(salt, pin);
  if (!h) {
    LogError("cannot check a PIN: " + h.error().message());
    return std::nullopt;
  }
  return h->Equals(hash);
}

// CKR_OK, or CKR_DEVICE_ERROR with the store's reason logged.
CK_RV Stored(const Status& st) {
  if (st) return CKR_OK;
  LogError(st.error().ToString());
  return CKR_DEVICE_ERROR;
}

}  // namespace

Token::Token(TokenConfig config, std::unique_ptr<enclave::Platform> platform,
             std::unique_ptr<Store> store)
    : config_(std::move(config)), platform_(std::move(platform)), store_(std::move(store)) {}

Result<std::unique_ptr<Token>> Token::Open(const TokenConfig& config,
                                           std::unique_ptr<enclave::Platform> platform) {
  auto key = platform->SealingKey();
  if (!key) return tl::unexpected(key.error().WithContext("platform sealing key"));
  KMRA_ASSIGN_OR_RETURN(auto store, Store::Open(config.token_dir, *key));
  std::unique_ptr<Token> t(new Token(config, std::move(platform), std::move(store)));
  KMRA_ASSIGN_OR_RETURN(auto lock, t->store_->LockShared());
  auto meta = t->store_->ReadMeta();
  if (meta) {
    t->meta_ = std::move(*meta);
    std::vector<std::string> refused;
    t->ReplaceTokenObjects(t->store_->LoadObjects(&refused));
    for (const auto& r : refused) LogError("refusing token object " + r);
  } else if (meta.error().code() != Code::kNotFound) {
    return tl::unexpected(meta.error());
  }
  return t;
}

void Token::ReplaceTokenObjects(std::vector<Object> loaded) {
  std::map<std::string, CK_OBJECT_HANDLE> next;
  for (auto& o : loaded) {
    auto it = token_handles_.find(o.uid);
    CK_OBJECT_HANDLE h = it != token_handles_.end() ? it->second : next_object_++;
    next[o.uid] = h;
    objects_[h] = std::make_shared<Object>(std::move(o));
  }
  for (const auto& [uid, h] : token_handles_) {
    if (next.count(uid) == 0) objects_.erase(h);
  }
  token_handles_ = std::move(next);
}

void Token::Refresh() {
  if (!store_->Changed()) return;
  auto lock = store_->LockShared();
  if (!lock) return;
  RefreshLocked();
}

void Token::RefreshLocked() {
  if (!store_->Changed()) return;
  auto meta = store_->ReadMeta();
  if (!meta) {
    if (meta.error().code() != Code::kNotFound) LogError(meta.error().ToString());
    meta_.reset();
    ReplaceTokenObjects({});
    return;
  }
  meta_ = std::move(*meta);
  std::vector<std::string> refused;
  ReplaceTokenObjects(store_->LoadObjects(&refused));
  for (const auto& r : refused) LogError("refusing token object " + r);
}

void Token::FillTokenInfo(CK_TOKEN_INFO& info) {
  Refresh();
  std::memset(&info, 0, sizeof info);
  Pad(info.label, sizeof info.label, meta_ ? meta_->label : "");
  Pad(info.manufacturerID, sizeof info.manufacturerID, "OpenKMRA");
  Pad(info.model, sizeof info.model, config_.platform == "sim" ? "SGX sim enclave" : "SGX enclave");
  Pad(info.serialNumber, sizeof info.serialNumber, meta_ ? meta_->serial : "");
  info.flags = CKF_RNG | CKF_LOGIN_REQUIRED;
  if (meta_) {
    info.flags |= CKF_TOKEN_INITIALIZED;
    if (!meta_->user_hash.empty()) info.flags |= CKF_USER_PIN_INITIALIZED;
    const CK_ULONG limit = static_cast<CK_ULONG>(config_.max_pin_failures);
    if (meta_->user_failures >= limit) {
      info.flags |= CKF_USER_PIN_LOCKED;
    } else if (meta_->user_failures > 0) {
      info.flags |= CKF_USER_PIN_COUNT_LOW;
      if (meta_->user_failures + 1 == limit) info.flags |= CKF_USER_PIN_FINAL_TRY;
    }
    if (meta_->so_failures >= limit) {
      info.flags |= CKF_SO_PIN_LOCKED;
    } else if (meta_->so_failures > 0) {
      info.flags |= CKF_SO_PIN_COUNT_LOW;
      if (meta_->so_failures + 1 == limit) info.flags |= CKF_SO_PIN_FINAL_TRY;
    }
  }
  info.ulMaxSessionCount = CK_EFFECTIVELY_INFINITE;
  info.ulMaxRwSessionCount = CK_EFFECTIVELY_INFINITE;
  info.ulSessionCount = sessions_.size();
  info.ulRwSessionCount = static_cast<CK_ULONG>(std::count_if(
      sessions_.begin(), sessions_.end(), [](const auto& kv) { return kv.second.ReadWrite(); }));
  info.ulMaxPinLen = 255;
  info.ulMinPinLen = 4;
  info.ulTotalPublicMemory = CK_UNAVAILABLE_INFORMATION;
  info.ulFreePublicMemory = CK_UNAVAILABLE_INFORMATION;
  info.ulTotalPrivateMemory = CK_UNAVAILABLE_INFORMATION;
  info.ulFreePrivateMemory = CK_UNAVAILABLE_INFORMATION;
  info.hardwareVersion = {1, 0};
  info.firmwareVersion = {0, 1};
  Pad(info.utcTime, sizeof info.utcTime, "");
}

CK_RV Token::InitToken(std::string_view so_pin, std::string_view label) {
  if (so_pin.size() < 4 || so_pin.size() > 255) return CKR_PIN_LEN_RANGE;
  if (!sessions_.empty()) return CKR_SESSION_EXISTS;
  auto lock = store_->LockExclusive();
  if (!lock) return CKR_DEVICE_ERROR;
  auto current = store_->ReadMeta();
  TokenMeta m;
  if (current) {
    // Re-initialising needs the current SO PIN (§5.6 C_InitToken); wrong ones count as at C_Login.
    const CK_ULONG limit = static_cast<CK_ULONG>(config_.max_pin_failures);
    if (current->so_failures >= limit) return CKR_PIN_LOCKED;
    const auto match = PinMatches(current->so_salt, current->so_hash, so_pin);
    if (!match) return CKR_FUNCTION_FAILED;
    if (!*match) {
      current->so_failures++;
      current->generation++;
      if (Stored(store_->WriteMeta(*current)) != CKR_OK) return CKR_DEVICE_ERROR;
      meta_ = *current;
      if (current->so_failures >= limit) {
        LogError("SO PIN locked after " + std::to_string(current->so_failures) +
                 " wrong PINs; the token cannot be re-initialised: remove its directory and create "
                 "it again (`kmra token init`), then `kmra loadkey` its keys again");
        return CKR_PIN_LOCKED;
      }
      return CKR_PIN_INCORRECT;
    }
    m.serial = current->serial;
    m.generation = current->generation + 1;
  } else if (current.error().code() == Code::kNotFound) {
    auto raw = crypto::RandomSecret(8);
    if (!raw) {
      LogError("C_InitToken: " + raw.error().message());
      return CKR_FUNCTION_FAILED;
    }
    m.serial = HexEncode(raw->Reveal());  // 16 lowercase hex digits
    m.generation = 1;  // generation 0 marks a store whose first record is not written yet
  } else {
    // A record that does not unseal belongs to another enclave or was tampered with; refuse to
    // silently overwrite it.
    LogError(current.error().ToString());
    return CKR_DEVICE_ERROR;
  }
  std::string l(label.substr(0, 32));
  while (!l.empty() && (l.back() == ' ' || l.back() == '\0')) l.pop_back();
  m.label = l;
  if (!MakeVerifier(so_pin, m.so_salt, m.so_hash)) return CKR_FUNCTION_FAILED;
  if (Stored(store_->Clear()) != CKR_OK || Stored(store_->WriteMeta(m)) != CKR_OK) {
    return CKR_DEVICE_ERROR;
  }
  meta_ = std::move(m);
  ReplaceTokenObjects({});
  login_ = LoginState::kPublic;
  return CKR_OK;
}

CK_RV Token::CheckPin(std::string_view pin, bool is_user) {
  // Counters live in the sealed record, shared by every process of the token.
  auto lock = store_->LockExclusive();
  if (!lock) return CKR_DEVICE_ERROR;
  RefreshLocked();
  if (!meta_) return CKR_DEVICE_ERROR;
  CK_ULONG& failures = is_user ? meta_->user_failures : meta_->so_failures;
  const CK_ULONG limit = static_cast<CK_ULONG>(config_.max_pin_failures);
  if (failures >= limit) return CKR_PIN_LOCKED;
  const SecretBytes& s = is_user ? meta_->user_salt : meta_->so_salt;
  const SecretBytes& h = is_user ? meta_->user_hash : meta_->so_hash;
  const auto match = PinMatches(s, h, pin);
  if (!match) return CKR_FUNCTION_FAILED;
  const bool ok = *match;
  const CK_ULONG before = failures;
  failures = ok ? 0 : failures + 1;
  if (failures != before) {
    meta_->generation++;
    if (Stored(store_->WriteMeta(*meta_)) != CKR_OK) return CKR_DEVICE_ERROR;
  }
  if (ok) return CKR_OK;
  if (failures >= limit) {
    LogError(is_user ? "user PIN locked after " + std::to_string(failures) +
                           " wrong PINs; the SO can reset it (C_InitPIN)"
                     : "SO PIN locked after " + std::to_string(failures) +
                           " wrong PINs; the token cannot be re-initialised: remove its directory "
                           "and create it again (`kmra token init`), then `kmra loadkey` its keys "
                           "again");
    return CKR_PIN_LOCKED;
  }
  return CKR_PIN_INCORRECT;
}

CK_RV Token::Login(CK_USER_TYPE user, std::string_view pin) {
  Refresh();
  if (user != CKU_USER && user != CKU_SO && user != CKU_CONTEXT_SPECIFIC) {
    return CKR_USER_TYPE_INVALID;
  }
  if (!meta_) return CKR_USER_PIN_NOT_INITIALIZED;
  if (user == CKU_CONTEXT_SPECIFIC) {
    // No key of this token has CKA_ALWAYS_AUTHENTICATE; re-check the user PIN all the same.
    if (login_ != LoginState::kUser) return CKR_USER_NOT_LOGGED_IN;
    return CheckPin(pin, true);
  }
  if (login_ == LoginState::kUser) {
    return user == CKU_USER ? CKR_USER_ALREADY_LOGGED_IN : CKR_USER_ANOTHER_ALREADY_LOGGED_IN;
  }
  if (login_ == LoginState::kSo) {
    return user == CKU_SO ? CKR_USER_ALREADY_LOGGED_IN : CKR_USER_ANOTHER_ALREADY_LOGGED_IN;
  }
  if (user == CKU_SO) {
    for (const auto& [h, s] : sessions_) {
      if (!s.ReadWrite()) return CKR_SESSION_READ_ONLY_EXISTS;
    }
  }
  if (user == CKU_USER && meta_->user_hash.empty()) return CKR_USER_PIN_NOT_INITIALIZED;
  CK_RV rv = CheckPin(pin, user == CKU_USER);
  if (rv != CKR_OK) return rv;
  login_ = user == CKU_USER ? LoginState::kUser : LoginState::kSo;
  return CKR_OK;
}

CK_RV Token::Logout() {
  if (login_ == LoginState::kPublic) return CKR_USER_NOT_LOGGED_IN;
  login_ = LoginState::kPublic;
  // §5.6 C_Logout: private session objects are destroyed (their handles become invalid) and every
  // operation ends (they may use private keys), as do searches that could list private objects.
  DestroyPrivateSessionObjects();
  for (auto& [h, s] : sessions_) {
    s.sign.reset();
    s.verify.reset();
    s.encrypt.reset();
    s.decrypt.reset();
    s.find = FindState();
  }
  return CKR_OK;
}

void Token::DestroyPrivateSessionObjects() {
  for (auto it = objects_.begin(); it != objects_.end();) {
    if (!it->second->IsToken() && it->second->IsPrivate()) {
      it = objects_.erase(it);
    } else {
      ++it;
    }
  }
}

CK_RV Token::InitPin(Session& s, std::string_view pin) {
  if (login_ != LoginState::kSo) return CKR_USER_NOT_LOGGED_IN;
  if (!s.ReadWrite()) return CKR_SESSION_READ_ONLY;
  if (pin.size() < 4 || pin.size() > 255) return CKR_PIN_LEN_RANGE;
  auto lock = store_->LockExclusive();
  if (!lock) return CKR_DEVICE_ERROR;
  RefreshLocked();
  if (!meta_) return CKR_DEVICE_ERROR;
  SecretBytes salt, hash;
  if (!MakeVerifier(pin, salt, hash)) return CKR_FUNCTION_FAILED;
  meta_->user_salt = std::move(salt);
  meta_->user_hash = std::move(hash);
  meta_->user_failures = 0;
  meta_->generation++;
  return Stored(store_->WriteMeta(*meta_));
}

CK_RV Token::SetPin(Session& s, std::string_view old_pin, std::string_view new_pin) {
  if (!s.ReadWrite()) return CKR_SESSION_READ_ONLY;
  if (new_pin.size() < 4 || new_pin.size() > 255) return CKR_PIN_LEN_RANGE;
  if (!meta_) return CKR_USER_PIN_NOT_INITIALIZED;
  const bool is_user = login_ != LoginState::kSo;
  if (is_user && meta_->user_hash.empty()) return CKR_USER_PIN_NOT_INITIALIZED;
  CK_RV rv = CheckPin(old_pin, is_user);
  if (rv != CKR_OK) return rv;
  auto lock = store_->LockExclusive();
  if (!lock) return CKR_DEVICE_ERROR;
  SecretBytes salt, hash;
  if (!MakeVerifier(new_pin, salt, hash)) return CKR_FUNCTION_FAILED;
  if (is_user) {
    meta_->user_salt = std::move(salt);
    meta_->user_hash = std::move(hash);
  } else {
    meta_->so_salt = std::move(salt);
    meta_->so_hash = std::move(hash);
  }
  meta_->generation++;
  return Stored(store_->WriteMeta(*meta_));
}

Session* Token::FindSession(CK_SESSION_HANDLE h) {
  auto it = sessions_.find(h);
  return it == sessions_.end() ? nullptr : &it->second;
}

CK_RV Token::OpenSession(CK_FLAGS flags, CK_SESSION_HANDLE& out) {
  Refresh();
  if ((flags & CKF_SERIAL_SESSION) == 0) return CKR_SESSION_PARALLEL_NOT_SUPPORTED;
  if (!meta_) return CKR_TOKEN_NOT_RECOGNIZED;
  if ((flags & CKF_RW_SESSION) == 0 && login_ == LoginState::kSo)
    return CKR_SESSION_READ_WRITE_SO_EXISTS;
  Session s;
  s.handle = next_session_++;
  s.flags = flags & (CKF_SERIAL_SESSION | CKF_RW_SESSION);
  out = s.handle;
  sessions_.emplace(out, std::move(s));
  return CKR_OK;
}

CK_RV Token::CloseSession(CK_SESSION_HANDLE h) {
  for (auto it = objects_.begin(); it != objects_.end();) {
    if (it->second->owner == h) {
      it = objects_.erase(it);
    } else {
      ++it;
    }
  }
  sessions_.erase(h);
  if (sessions_.empty()) login_ = LoginState::kPublic;  // §5.6: closing the last session logs out
  // (its private session objects went with their sessions above).
  return CKR_OK;
}

void Token::CloseAllSessions() {
  std::vector<CK_SESSION_HANDLE> all;
  for (const auto& [h, s] : sessions_) all.push_back(h);
  for (auto h : all) CloseSession(h);
}

void Token::FillSessionInfo(const Session& s, CK_SESSION_INFO& info) const {
  info.slotID = kSlotId;
  info.flags = s.flags;
  info.ulDeviceError = 0;
  if (login_ == LoginState::kSo) {
    info.state = CKS_RW_SO_FUNCTIONS;
  } else if (login_ == LoginState::kUser) {
    info.state = s.ReadWrite() ? CKS_RW_USER_FUNCTIONS : CKS_RO_USER_FUNCTIONS;
  } else {
    info.state = s.ReadWrite() ? CKS_RW_PUBLIC_SESSION : CKS_RO_PUBLIC_SESSION;
  }
}

}  // namespace kmra::token
