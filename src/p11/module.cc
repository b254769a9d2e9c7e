#include "p11/module.h"

#include <dlfcn.h>
#include <fmt/format.h>
#include <sys/stat.h>

#include <map>
#include <mutex>
#include <optional>

#include "p11/error.h"

namespace kmra::p11 {
namespace {

// PKCS#11 allows one C_Initialize per process and module, so modules are shared by path.
std::mutex g_registry_mu;
std::map<std::string, std::weak_ptr<Module>>& Registry() {
  static auto* registry = new std::map<std::string, std::weak_ptr<Module>>();
  return *registry;
}

}  // namespace

std::string TrimPadded(const CK_UTF8CHAR* data, size_t size) {
  std::string s(reinterpret_cast<const char*>(data), size);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) s.pop_back();
  return s;
}

Result<std::shared_ptr<Module>> Module::Load(const std::string& path) {
  std::lock_guard<std::mutex> lock(g_registry_mu);
  auto& registry = Registry();
  if (auto it = registry.find(path); it != registry.end()) {
    if (auto existing = it->second.lock()) return existing;
  }
  struct stat st {};
  if (path.empty()) return InvalidArgument("no PKCS#11 module path given");
  if (::stat(path.c_str(), &st) != 0) {
    return NotFound(fmt::format("PKCS#11 module {} does not exist (install the HSM's library or fix "
                                "the module path)", path));
  }
  // RTLD_LOCAL keeps the module's symbols from clashing with ours (or with another module).
  void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = ::dlerror();
    return InvalidArgument(fmt::format("cannot load PKCS#11 module {}: {}", path, why ? why : "?"));
  }
  auto get_list = reinterpret_cast<CK_C_GetFunctionList>(::dlsym(handle, "C_GetFunctionList"));
  if (get_list == nullptr) {
    ::dlclose(handle);
    return InvalidArgument(fmt::format("{} is not a PKCS#11 module: it exports no C_GetFunctionList", path));
  }
  CK_FUNCTION_LIST* fn = nullptr;
  CK_RV rv = get_list(&fn);
  if (rv != CKR_OK || fn == nullptr) {
    ::dlclose(handle);
    if (rv == CKR_OK) return Internal(path + ": C_GetFunctionList returned no function list");
    return tl::unexpected<Error>(RvError("C_GetFunctionList", rv).WithContext(path));
  }
  // PKCS#11 2.40 section 5.4: with CKF_OS_LOCKING_OK and no mutex callbacks the module uses OS locks,
  // which lets the server call it from many threads.
  CK_C_INITIALIZE_ARGS args{};
  args.flags = CKF_OS_LOCKING_OK;
  rv = fn->C_Initialize(&args);
  bool finalize = true;
  if (rv == CKR_CRYPTOKI_ALREADY_INITIALIZED) {
    finalize = false;  // someone else in this process owns the initialisation
  } else if (rv != CKR_OK) {
    ::dlclose(handle);
    return tl::unexpected<Error>(RvError("C_Initialize", rv).WithContext(path));
  }
  std::shared_ptr<Module> module(new Module(path, fn, finalize));
  registry[path] = module;
  return module;
}

Module::~Module() {
  if (fn_ != nullptr && finalize_) fn_->C_Finalize(nullptr);
  // The module stays mapped: some modules (SoftHSM2 with OpenSSL) register atexit handlers or thread
  // locals that would point into unmapped code after dlclose.
  std::lock_guard<std::mutex> lock(g_registry_mu);
  auto& registry = Registry();
  if (auto it = registry.find(path_); it != registry.end() && it->second.expired()) registry.erase(it);
}

Result<std::string> Module::Describe() const {
  CK_INFO info{};
  KMRA_TRY(CheckRv("C_GetInfo", fn_->C_GetInfo(&info)));
  return fmt::format("{} {} v{}.{}", TrimPadded(info.manufacturerID, sizeof(info.manufacturerID)),
                     TrimPadded(info.libraryDescription, sizeof(info.libraryDescription)),
                     info.libraryVersion.major, info.libraryVersion.minor);
}

Result<TokenInfo> Module::GetTokenInfo(CK_SLOT_ID slot) const {
  CK_TOKEN_INFO info{};
  KMRA_TRY(CheckRv("C_GetTokenInfo", fn_->C_GetTokenInfo(slot, &info)));
  TokenInfo out;
  out.slot = slot;
  out.label = TrimPadded(info.label, sizeof(info.label));
  out.manufacturer = TrimPadded(info.manufacturerID, sizeof(info.manufacturerID));
  out.model = TrimPadded(info.model, sizeof(info.model));
  out.serial = TrimPadded(info.serialNumber, sizeof(info.serialNumber));
  out.flags = info.flags;
  return out;
}

Result<std::vector<TokenInfo>> Module::Tokens() const {
  CK_ULONG count = 0;
  KMRA_TRY(CheckRv("C_GetSlotList", fn_->C_GetSlotList(CK_TRUE, nullptr, &count)));
  std::vector<CK_SLOT_ID> slots(count);
  if (count > 0) {
    KMRA_TRY(CheckRv("C_GetSlotList", fn_->C_GetSlotList(CK_TRUE, slots.data(), &count)));
    slots.resize(count);
  }
  std::vector<TokenInfo> tokens;
  for (CK_SLOT_ID slot : slots) {
    KMRA_ASSIGN_OR_RETURN(auto info, GetTokenInfo(slot));
    tokens.push_back(std::move(info));
  }
  return tokens;
}

Result<CK_SLOT_ID> Module::FindSlotByTokenLabel(std::string_view label) const {
  KMRA_ASSIGN_OR_RETURN(auto tokens, Tokens());
  std::optional<CK_SLOT_ID> found;
  std::string labels;
  for (const auto& t : tokens) {
    if (!t.initialized()) continue;
    if (!labels.empty()) labels += ", ";
    labels += "'" + t.label + "'";
    if (t.label != label) continue;
    if (found) {
      return FailedPrecondition(fmt::format(
          "two tokens in {} are labelled '{}' (slots {} and {}); give them distinct labels", path_,
          label, *found, t.slot));
    }
    found = t.slot;
  }
  if (!found) {
    return NotFound(fmt::format("no initialised token labelled '{}' in {} (tokens: {})", label, path_,
                                labels.empty() ? "none" : labels));
  }
  return *found;
}

Result<MechanismInfo> Module::GetMechanismInfo(CK_SLOT_ID slot, CK_MECHANISM_TYPE mechanism) const {
  CK_MECHANISM_INFO info{};
  CK_RV rv = fn_->C_GetMechanismInfo(slot, mechanism, &info);
  if (rv == CKR_MECHANISM_INVALID) {
    return NotFound(fmt::format("the token in slot {} of {} does not offer mechanism {:#x}", slot, path_,
                                mechanism));
  }
  KMRA_TRY(CheckRv("C_GetMechanismInfo", rv));
  return MechanismInfo{mechanism, info.ulMinKeySize, info.ulMaxKeySize, info.flags};
}

}  // namespace kmra::p11
