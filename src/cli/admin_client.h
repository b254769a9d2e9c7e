// The HTTPS client of `kmra keys|policy|audit`: the admin API over mutual TLS with the admin
// certificate (libcurl).
#pragma once

#include <string>

#include "base/result.h"

namespace kmra::cli {

struct AdminEndpoint {
  std::string url;        // https://host:port
  std::string ca_file;    // CA that issued the server certificate
  std::string cert_file;  // admin client certificate (OU in the server's admin_clients)
  std::string key_file;
};

struct HttpReply {
  long status = 0;
  std::string body;
};

// One request. Unavailable when the server cannot be reached (with curl's reason).
Result<HttpReply> AdminRequest(const AdminEndpoint& endpoint, const std::string& method,
                               const std::string& path, const std::string& body = {});

}  // namespace kmra::cli
