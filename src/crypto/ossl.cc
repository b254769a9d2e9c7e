#include "crypto/ossl.h"

namespace kmra::ossl {

std::string DrainErrors() {
  std::string out;
  unsigned long e;
  char buf[256];
  while ((e = ERR_get_error()) != 0) {
    ERR_error_string_n(e, buf, sizeof(buf));
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

Error OpenSslError(Code code, std::string what) {
  std::string detail = DrainErrors();
  if (!detail.empty()) {
    what += " (OpenSSL: ";
    what += detail;
    what += ")";
  }
  return Error(code, std::move(what));
}

}  // namespace kmra::ossl
