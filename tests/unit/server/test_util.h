// Helpers for server tests: temp dirs, a throwaway PKI made with the openssl command, and an HTTPS
// client (libcurl) with client certificates.
#pragma once

#include <string>
#include <vector>

namespace kmra::server::testing {

// A directory under TMPDIR removed (recursively) on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Files of a test PKI in a directory: ca.pem, server.pem/server.key (CN=localhost, SAN 127.0.0.1),
// client.pem/client.key (OU=<client_ou>), admin.pem/admin.key (OU=admin), and rogue-ca.pem with
// rogue.pem/rogue.key (same OU as client, issued by an untrusted CA).
struct TestPki {
  std::string dir;
  std::string ca() const { return dir + "/ca.pem"; }
  std::string server_cert() const { return dir + "/server.pem"; }
  std::string server_key() const { return dir + "/server.key"; }
  std::string cert(const std::string& name) const { return dir + "/" + name + ".pem"; }
  std::string key(const std::string& name) const { return dir + "/" + name + ".key"; }
};

// Creates the PKI with the openssl command line; aborts the test on failure (returns false).
bool MakeTestPki(const std::string& dir, const std::string& client_ou, TestPki* out);

struct HttpResult {
  long status = 0;        // 0 when the request did not complete
  std::string body;
  std::string curl_error;  // set when status == 0
};

struct HttpCall {
  std::string method = "GET";
  std::string url;
  std::string body;
  std::string ca_file;
  std::string cert_file;  // empty: no client certificate
  std::string key_file;
  std::vector<std::string> headers;
};

HttpResult Https(const HttpCall& call);

// Runs a shell command, returns its exit status and captures stdout+stderr into *output.
int RunCommand(const std::string& command, std::string* output = nullptr);

}  // namespace kmra::server::testing
