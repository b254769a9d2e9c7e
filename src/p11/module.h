// A loaded PKCS#11 module (the HSM's library, SoftHSM2, or our own token).
//
//   KMRA_ASSIGN_OR_RETURN(auto module, p11::Module::Load("/usr/lib/softhsm/libsofthsm2.so"));
//   KMRA_ASSIGN_OR_RETURN(CK_SLOT_ID slot, module->FindSlotByTokenLabel("kmra"));
//   KMRA_ASSIGN_OR_RETURN(auto session, p11::Session::Open(module, slot, /*read_write=*/true));
//
// Load() dlopen()s the library, calls C_GetFunctionList and C_Initialize with CKF_OS_LOCKING_OK (so the
// module may be used from several threads), and C_Finalize when the last reference goes away (the library
// stays mapped: some modules leave atexit handlers behind).
// Loading the same path twice in one process returns the same Module (PKCS#11 allows one C_Initialize per
// process). If something else in the process already initialised the module
// (CKR_CRYPTOKI_ALREADY_INITIALIZED), we use it and leave C_Finalize to whoever initialised it.
//
// Thread safety: all methods are safe to call concurrently (the module does its own locking).
#pragma once

#include <p11-kit/pkcs11.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace kmra::p11 {

// What a slot's token says about itself; the CK_UTF8CHAR fields are trimmed of their space padding.
struct TokenInfo {
  CK_SLOT_ID slot = 0;
  std::string label;
  std::string manufacturer;
  std::string model;
  std::string serial;
  CK_FLAGS flags = 0;
  bool initialized() const { return (flags & CKF_TOKEN_INITIALIZED) != 0; }
};

// Flags and key size range of a mechanism on a slot.
struct MechanismInfo {
  CK_MECHANISM_TYPE type = 0;
  CK_ULONG min_key_size = 0;
  CK_ULONG max_key_size = 0;
  CK_FLAGS flags = 0;
};

class Module {
 public:
  // Loads and initialises the module at `path`. Errors: NotFound when the file does not exist,
  // InvalidArgument when it is not a PKCS#11 module (no C_GetFunctionList), and the C_Initialize
  // error otherwise.
  static Result<std::shared_ptr<Module>> Load(const std::string& path);

  ~Module();
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // The module's function table; valid while this Module lives.
  CK_FUNCTION_LIST* fn() const { return fn_; }
  const std::string& path() const { return path_; }

  // "manufacturer library description vX.Y" from C_GetInfo.
  Result<std::string> Describe() const;

  // The tokens in the slots that have one (C_GetSlotList(CK_TRUE) + C_GetTokenInfo each).
  Result<std::vector<TokenInfo>> Tokens() const;

  // The slot holding the initialised token whose label is exactly `label`. NotFound lists the labels that
  // exist; FailedPrecondition when two tokens carry the label.
  Result<CK_SLOT_ID> FindSlotByTokenLabel(std::string_view label) const;

  Result<TokenInfo> GetTokenInfo(CK_SLOT_ID slot) const;

  // Whether `slot` offers `mechanism`; NotFound (with the mechanism number) when it does not.
  Result<MechanismInfo> GetMechanismInfo(CK_SLOT_ID slot, CK_MECHANISM_TYPE mechanism) const;

 private:
  // The dlopen handle is not kept: the module is never unloaded (~Module says why).
  Module(std::string path, CK_FUNCTION_LIST* fn, bool finalize)
      : path_(std::move(path)), fn_(fn), finalize_(finalize) {}

  std::string path_;
  CK_FUNCTION_LIST* fn_ = nullptr;
  bool finalize_ = false;
};

// Trims the space padding of a fixed-size CK_UTF8CHAR field.
std::string TrimPadded(const CK_UTF8CHAR* data, size_t size);

}  // namespace kmra::p11
