#include "test_util.h"

#include <curl/curl.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

namespace kmra::server::testing {

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string pattern = std::string(base ? base : "/tmp") + "/kmra-test-XXXXXX";
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  char* made = mkdtemp(buf.data());
  path_ = made ? made : "";
}

TempDir::~TempDir() {
  std::error_code ec;
  if (!path_.empty()) std::filesystem::remove_all(path_, ec);
}

int RunCommand(const std::string& command, std::string* output) {
  std::string full = command + " 2>&1";
  FILE* pipe = popen(full.c_str(), "r");
  if (!pipe) return -1;
  std::array<char, 4096> buf{};
  std::string out;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) out.append(buf.data(), n);
  int status = pclose(pipe);
  if (output) *output = out;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

bool MakeTestPki(const std::string& dir, const std::string& client_ou, TestPki* out) {
  out->dir = dir;
  std::string d = "'" + dir + "'";
  std::string script =
      "set -e; cd " + d + "; "
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key "
      "-out ca.pem -days 2 -subj '/O=Test/CN=Test CA' >/dev/null 2>&1; "
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout rogue-ca.key "
      "-out rogue-ca.pem -days 2 -subj '/O=Rogue/CN=Rogue CA' >/dev/null 2>&1; "
      "issue() { openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout $1.key "
      "-out $1.csr -subj \"$2\" >/dev/null 2>&1; "
      "openssl x509 -req -in $1.csr -CA $3.pem -CAkey $3.key -CAcreateserial -days 2 -out $1.pem "
      "-extfile <(printf \"$4\") >/dev/null 2>&1; }; "
      "issue server '/O=Test/CN=localhost' ca "
      "'subjectAltName=DNS:localhost,IP:127.0.0.1\\nextendedKeyUsage=serverAuth'; "
      "issue client '/O=Test/OU=" + client_ou + "/CN=client' ca 'extendedKeyUsage=clientAuth'; "
      "issue other '/O=Test/OU=other/CN=other' ca 'extendedKeyUsage=clientAuth'; "
      "issue admin '/O=Test/OU=admin/CN=admin' ca 'extendedKeyUsage=clientAuth'; "
      "issue rogue '/O=Test/OU=" + client_ou + "/CN=client' rogue-ca 'extendedKeyUsage=clientAuth'; "
      "chmod 600 *.key";
  std::string path = dir + "/make-pki.sh";
  FILE* f = std::fopen(path.c_str(), "w");
  if (!f) return false;
  std::fputs(script.c_str(), f);
  std::fclose(f);
  std::string output;
  return RunCommand("bash '" + path + "'", &output) == 0;
}

namespace {
size_t Collect(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}
}  // namespace

HttpResult Https(const HttpCall& call) {
  HttpResult result;
  CURL* curl = curl_easy_init();
  curl_easy_setopt(curl, CURLOPT_URL, call.url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, call.method.c_str());
  if (call.method != "GET") {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, call.body.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(call.body.size()));
  }
  curl_easy_setopt(curl, CURLOPT_CAINFO, call.ca_file.c_str());
  if (!call.cert_file.empty()) {
    curl_easy_setopt(curl, CURLOPT_SSLCERT, call.cert_file.c_str());
    curl_easy_setopt(curl, CURLOPT_SSLKEY, call.key_file.c_str());
  }
  struct curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "Content-Type: application/json");
  for (const auto& h : call.headers) headers = curl_slist_append(headers, h.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &result.body);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
  char detail[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, detail);
  CURLcode rc = curl_easy_perform(curl);
  if (rc == CURLE_OK) {
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &result.status);
  } else {
    result.curl_error = std::string(curl_easy_strerror(rc)) + ": " + detail;
    // A failed exchange says why in the test's output even where an assertion prints only the status.
    std::fprintf(stderr, "https: %s %s: %s\n", call.method.c_str(), call.url.c_str(),
                 result.curl_error.c_str());
  }
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  return result;
}

}  // namespace kmra::server::testing
