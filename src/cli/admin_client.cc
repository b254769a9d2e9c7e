#include "cli/admin_client.h"

#include <curl/curl.h>

namespace kmra::cli {
namespace {

size_t Collect(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

}  // namespace

Result<HttpReply> AdminRequest(const AdminEndpoint& endpoint, const std::string& method,
                               const std::string& path, const std::string& body) {
  if (endpoint.url.empty()) {
    return InvalidArgument(
        "no server URL: pass --server https://HOST:PORT (or --dir DIR of "
        "`kmra server --dev`)");
  }
  CURL* curl = curl_easy_init();
  if (!curl) return Internal("curl_easy_init failed");
  HttpReply reply;
  std::string url = endpoint.url + path;
  char error[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  if (method != "GET" && method != "DELETE") {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  if (!endpoint.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, endpoint.ca_file.c_str());
  if (!endpoint.cert_file.empty()) {
    curl_easy_setopt(curl, CURLOPT_SSLCERT, endpoint.cert_file.c_str());
    curl_easy_setopt(curl, CURLOPT_SSLKEY, endpoint.key_file.c_str());
  }
  curl_easy_setopt(curl, CURLOPT_SSLVERSION, static_cast<long>(CURL_SSLVERSION_TLSv1_2));
  struct curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &reply.body);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 60L);
  CURLcode rc = curl_easy_perform(curl);
  if (rc == CURLE_OK) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply.status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  if (rc != CURLE_OK) {
    return Unavailable("cannot reach " + url + ": " + (error[0] ? error : curl_easy_strerror(rc)));
  }
  return reply;
}

}  // namespace kmra::cli
