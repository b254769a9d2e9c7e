#include "token/log.h"

#include <cstdio>
#include <cstdlib>

namespace kmra::token {

void LogError(const std::string& message) {
  if (std::getenv("KMRA_TOKEN_QUIET") != nullptr) return;
  (void)std::fprintf(stderr, "kmra-pkcs11: %s\n", message.c_str());  // nowhere to report a failure
}

void LogDebug(const std::string& message) {
  const char* debug = std::getenv("KMRA_TOKEN_DEBUG");
  if (debug == nullptr || std::string(debug) != "1") return;
  LogError("debug: " + message);
}

}  // namespace kmra::token
