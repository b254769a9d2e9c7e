#include "p11/session.h"

#include <fmt/format.h>

#include <cstring>

#include "p11/error.h"

namespace kmra::p11 {

Result<Session> Session::Open(std::shared_ptr<Module> module, CK_SLOT_ID slot, bool read_write) {
  CK_FLAGS flags = CKF_SERIAL_SESSION | (read_write ? CKF_RW_SESSION : 0);
  CK_SESSION_HANDLE handle = CK_INVALID_HANDLE;
  CK_RV rv = module->fn()->C_OpenSession(slot, flags, nullptr, nullptr, &handle);
  if (rv != CKR_OK) {
    return tl::unexpected<Error>(
        RvError("C_OpenSession", rv).WithContext(fmt::format("{} slot {}", module->path(), slot)));
  }
  return Session(std::move(module), slot, handle, read_write);
}

Session::Session(Session&& other) noexcept { *this = std::move(other); }

Session& Session::operator=(Session&& other) noexcept {
  if (this != &other) {
    Close();
    module_ = std::move(other.module_);
    slot_ = other.slot_;
    handle_ = other.handle_;
    read_write_ = other.read_write_;
    broken_ = other.broken_;
    other.handle_ = CK_INVALID_HANDLE;
  }
  return *this;
}

Session::~Session() { Close(); }

void Session::Close() {
  if (module_ && handle_ != CK_INVALID_HANDLE) module_->fn()->C_CloseSession(handle_);
  handle_ = CK_INVALID_HANDLE;
}

Status Session::Check(std::string_view function, CK_RV rv) {
  if (rv == CKR_OK) return OkStatus();
  if (IsConnectionLost(rv)) broken_ = true;
  return tl::unexpected<Error>(RvError(function, rv));
}

Status Session::Login(const SecretBytes& pin, CK_USER_TYPE user) {
  auto pin_bytes = pin.Reveal();
  CK_RV rv = fn()->C_Login(handle_, user, const_cast<CK_UTF8CHAR*>(pin_bytes.data()),
                           static_cast<CK_ULONG>(pin_bytes.size()));
  if (rv == CKR_USER_ALREADY_LOGGED_IN) return OkStatus();
  if (rv == CKR_PIN_INCORRECT) {
    return Unauthenticated("C_Login: CKR_PIN_INCORRECT: the PIN for the token is wrong (check the PIN "
                           "file or variable; repeated failures may lock the token)");
  }
  if (rv == CKR_PIN_LOCKED) {
    return FailedPrecondition("C_Login: CKR_PIN_LOCKED: the token's user PIN is locked; the security "
                              "officer must reset it (C_InitPIN)");
  }
  return Check("C_Login", rv);
}

Status Session::Logout() {
  CK_RV rv = fn()->C_Logout(handle_);
  if (rv == CKR_USER_NOT_LOGGED_IN) return OkStatus();
  return Check("C_Logout", rv);
}

Result<std::vector<CK_OBJECT_HANDLE>> Session::Find(Attrs& tmpl, size_t max) {
  KMRA_TRY(Check("C_FindObjectsInit", fn()->C_FindObjectsInit(handle_, tmpl.data(), tmpl.size())));
  std::vector<CK_OBJECT_HANDLE> found;
  Status status = OkStatus();
  for (;;) {
    CK_OBJECT_HANDLE batch[32];
    CK_ULONG n = 0;
    CK_RV rv = fn()->C_FindObjects(handle_, batch, 32, &n);
    if (rv != CKR_OK) {
      status = Check("C_FindObjects", rv);
      break;
    }
    found.insert(found.end(), batch, batch + n);
    if (n == 0 || (max > 0 && found.size() >= max)) break;
  }
  // Always finish the search: a dangling operation blocks the next C_FindObjectsInit in this session.
  CK_RV final_rv = fn()->C_FindObjectsFinal(handle_);
  KMRA_TRY(status);
  KMRA_TRY(Check("C_FindObjectsFinal", final_rv));
  if (max > 0 && found.size() > max) found.resize(max);
  return found;
}

Result<CK_OBJECT_HANDLE> Session::FindOne(Attrs& tmpl, std::string_view what) {
  KMRA_ASSIGN_OR_RETURN(auto found, Find(tmpl, 2));
  if (found.empty()) return NotFound(fmt::format("no {} in the token", what));
  if (found.size() > 1) {
    return FailedPrecondition(fmt::format("more than one {} in the token; names must be unique", what));
  }
  return found[0];
}

Result<std::vector<uint8_t>> Session::GetAttribute(CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type) {
  CK_ATTRIBUTE attr{type, nullptr, 0};
  CK_RV rv = fn()->C_GetAttributeValue(handle_, object, &attr, 1);
  if (rv == CKR_ATTRIBUTE_TYPE_INVALID) {
    return InvalidArgument(fmt::format("object has no attribute {:#x}", type));
  }
  if (rv == CKR_ATTRIBUTE_SENSITIVE) {
    return PermissionDenied(fmt::format("attribute {:#x} is sensitive and cannot be read", type));
  }
  KMRA_TRY(Check("C_GetAttributeValue", rv));
  if (attr.ulValueLen == CK_UNAVAILABLE_INFORMATION) {
    return InvalidArgument(fmt::format("attribute {:#x} is unavailable", type));
  }
  std::vector<uint8_t> value(attr.ulValueLen);
  attr.pValue = value.data();
  KMRA_TRY(Check("C_GetAttributeValue", fn()->C_GetAttributeValue(handle_, object, &attr, 1)));
  value.resize(attr.ulValueLen);
  return value;
}

Result<bool> Session::GetBool(CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type) {
  KMRA_ASSIGN_OR_RETURN(auto v, GetAttribute(object, type));
  if (v.size() != sizeof(CK_BBOOL)) return Internal(fmt::format("attribute {:#x} is not a CK_BBOOL", type));
  return v[0] != CK_FALSE;
}

Result<CK_ULONG> Session::GetUlong(CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type) {
  KMRA_ASSIGN_OR_RETURN(auto v, GetAttribute(object, type));
  if (v.size() != sizeof(CK_ULONG)) return Internal(fmt::format("attribute {:#x} is not a CK_ULONG", type));
  CK_ULONG out = 0;
  std::memcpy(&out, v.data(), sizeof(out));
  return out;
}

Result<std::string> Session::GetString(CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type) {
  KMRA_ASSIGN_OR_RETURN(auto v, GetAttribute(object, type));
  return std::string(v.begin(), v.end());
}

Status Session::SetAttributes(CK_OBJECT_HANDLE object, Attrs& attrs) {
  return Check("C_SetAttributeValue", fn()->C_SetAttributeValue(handle_, object, attrs.data(), attrs.size()));
}

Result<CK_OBJECT_HANDLE> Session::CreateObject(Attrs& attrs) {
  CK_OBJECT_HANDLE object = CK_INVALID_HANDLE;
  KMRA_TRY(Check("C_CreateObject", fn()->C_CreateObject(handle_, attrs.data(), attrs.size(), &object)));
  return object;
}

Status Session::DestroyObject(CK_OBJECT_HANDLE object) {
  return Check("C_DestroyObject", fn()->C_DestroyObject(handle_, object));
}

Result<std::pair<CK_OBJECT_HANDLE, CK_OBJECT_HANDLE>> Session::GenerateKeyPair(
    CK_MECHANISM& mechanism, Attrs& public_template, Attrs& private_template) {
  CK_OBJECT_HANDLE pub = CK_INVALID_HANDLE;
  CK_OBJECT_HANDLE priv = CK_INVALID_HANDLE;
  KMRA_TRY(Check("C_GenerateKeyPair",
                 fn()->C_GenerateKeyPair(handle_, &mechanism, public_template.data(),
                                         public_template.size(), private_template.data(),
                                         private_template.size(), &pub, &priv)));
  return std::make_pair(pub, priv);
}

Result<CK_OBJECT_HANDLE> Session::GenerateKey(CK_MECHANISM& mechanism, Attrs& tmpl) {
  CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;
  KMRA_TRY(Check("C_GenerateKey",
                 fn()->C_GenerateKey(handle_, &mechanism, tmpl.data(), tmpl.size(), &key)));
  return key;
}

Result<std::vector<uint8_t>> Session::WrapKey(CK_MECHANISM& mechanism, CK_OBJECT_HANDLE wrapping_key,
                                              CK_OBJECT_HANDLE key) {
  CK_ULONG size = 0;
  KMRA_TRY(Check("C_WrapKey", fn()->C_WrapKey(handle_, &mechanism, wrapping_key, key, nullptr, &size)));
  std::vector<uint8_t> out(size);
  KMRA_TRY(Check("C_WrapKey", fn()->C_WrapKey(handle_, &mechanism, wrapping_key, key, out.data(), &size)));
  out.resize(size);
  return out;
}

Result<CK_OBJECT_HANDLE> Session::UnwrapKey(CK_MECHANISM& mechanism, CK_OBJECT_HANDLE unwrapping_key,
                                            std::span<const uint8_t> wrapped, Attrs& tmpl) {
  CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;
  KMRA_TRY(Check("C_UnwrapKey",
                 fn()->C_UnwrapKey(handle_, &mechanism, unwrapping_key, const_cast<uint8_t*>(wrapped.data()),
                                   static_cast<CK_ULONG>(wrapped.size()), tmpl.data(), tmpl.size(), &key)));
  return key;
}

Result<std::vector<uint8_t>> Session::Sign(CK_MECHANISM& mechanism, CK_OBJECT_HANDLE key,
                                           std::span<const uint8_t> data) {
  KMRA_TRY(Check("C_SignInit", fn()->C_SignInit(handle_, &mechanism, key)));
  CK_ULONG size = 0;
  auto* in = const_cast<uint8_t*>(data.data());
  // A failing C_Sign ends the operation (PKCS#11 5.12), so no cleanup call is needed.
  KMRA_TRY(Check("C_Sign", fn()->C_Sign(handle_, in, static_cast<CK_ULONG>(data.size()), nullptr, &size)));
  std::vector<uint8_t> out(size);
  KMRA_TRY(Check("C_Sign", fn()->C_Sign(handle_, in, static_cast<CK_ULONG>(data.size()), out.data(), &size)));
  out.resize(size);
  return out;
}

Result<std::vector<uint8_t>> Session::Encrypt(CK_MECHANISM& mechanism, CK_OBJECT_HANDLE key,
                                              std::span<const uint8_t> data) {
  KMRA_TRY(Check("C_EncryptInit", fn()->C_EncryptInit(handle_, &mechanism, key)));
  CK_ULONG size = 0;
  auto* in = const_cast<uint8_t*>(data.data());
  KMRA_TRY(Check("C_Encrypt", fn()->C_Encrypt(handle_, in, static_cast<CK_ULONG>(data.size()), nullptr, &size)));
  std::vector<uint8_t> out(size);
  KMRA_TRY(Check("C_Encrypt",
                 fn()->C_Encrypt(handle_, in, static_cast<CK_ULONG>(data.size()), out.data(), &size)));
  out.resize(size);
  return out;
}

Result<SecretBytes> Session::Decrypt(CK_MECHANISM& mechanism, CK_OBJECT_HANDLE key,
                                     std::span<const uint8_t> data) {
  KMRA_TRY(Check("C_DecryptInit", fn()->C_DecryptInit(handle_, &mechanism, key)));
  CK_ULONG size = 0;
  auto* in = const_cast<uint8_t*>(data.data());
  KMRA_TRY(Check("C_Decrypt", fn()->C_Decrypt(handle_, in, static_cast<CK_ULONG>(data.size()), nullptr, &size)));
  SecretBytes out(size);
  KMRA_TRY(Check("C_Decrypt", fn()->C_Decrypt(handle_, in, static_cast<CK_ULONG>(data.size()),
                                              out.RevealMutable().data(), &size)));
  out.resize(size);
  return out;
}

Result<std::vector<uint8_t>> Session::GenerateRandom(size_t size) {
  std::vector<uint8_t> out(size);
  if (size == 0) return out;
  KMRA_TRY(Check("C_GenerateRandom",
                 fn()->C_GenerateRandom(handle_, out.data(), static_cast<CK_ULONG>(size))));
  return out;
}

Result<CK_STATE> Session::State() {
  CK_SESSION_INFO info{};
  KMRA_TRY(Check("C_GetSessionInfo", fn()->C_GetSessionInfo(handle_, &info)));
  return info.state;
}

ScopedObject& ScopedObject::operator=(ScopedObject&& other) noexcept {
  if (this != &other) {
    Reset();
    session_ = other.session_;
    handle_ = other.handle_;
    other.handle_ = CK_INVALID_HANDLE;
  }
  return *this;
}

CK_OBJECT_HANDLE ScopedObject::Release() {
  CK_OBJECT_HANDLE h = handle_;
  handle_ = CK_INVALID_HANDLE;
  return h;
}

void ScopedObject::Reset() {
  if (session_ != nullptr && handle_ != CK_INVALID_HANDLE) (void)session_->DestroyObject(handle_);
  handle_ = CK_INVALID_HANDLE;
}

}  // namespace kmra::p11
