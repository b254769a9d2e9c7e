#include "token/log.h"

#include <cstdio>
#include <cstdlib>

namespace kmra::token {

void LogError(const std::string& message) {
  if (std::getenv("KMRA_TOKEN_QUIET") != nullptr) return;
  std::fprintf(stderr, "kmra-pkcs11: %s\n", message.c_str());
}

}  // namespace kmra::token
