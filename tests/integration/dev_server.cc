#include "integration/dev_server.h"

#include <sqlite3.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "crypto/hash.h"

namespace kmra::integration {

DevServer::DevServer(std::string dir) : dir_(std::move(dir)) {
  process_ = std::make_unique<Process>(
      std::vector<std::string>{EnvOr("KMRA_BIN", "kmra"), "server", "--dev", "--dir", dir_,
                               "--listen", "127.0.0.1:0"},
      Env{}, dir_ + "/server.log");
  const std::string port_file = dir_ + "/server.port";
  for (int i = 0; i < 600 && process_->Running(); ++i) {
    std::string port = ReadFile(port_file);
    if (!port.empty() && port.back() == '\n') {
      url_ = "https://127.0.0.1:" + port.substr(0, port.size() - 1);
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  error_ = "kmra server --dev did not start: " + ReadFile(dir_ + "/server.log");
}

void DevServer::Stop() {
  process_.reset();
  std::error_code ec;
  std::filesystem::remove(dir_ + "/server.port", ec);
  url_.clear();
}

std::string RunStateSql(const std::string& dir, const std::string& sql) {
  sqlite3* db = nullptr;
  if (sqlite3_open((dir + "/state.db").c_str(), &db) != SQLITE_OK) {
    std::string why = db != nullptr ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return "cannot open " + dir + "/state.db: " + why;
  }
  sqlite3_busy_timeout(db, 5000);
  char* err = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  std::string why = rc == SQLITE_OK  ? ""
                    : err != nullptr ? err
                                     : "SQLite error " + std::to_string(rc);
  sqlite3_free(err);
  sqlite3_close(db);
  return why;
}

std::array<std::uint8_t, 64> ReleaseReportData(const std::vector<std::uint8_t>& exponent,
                                               const std::vector<std::uint8_t>& modulus,
                                               const std::vector<std::uint8_t>& nonce) {
  std::vector<std::uint8_t> bound = exponent;
  bound.insert(bound.end(), modulus.begin(), modulus.end());
  bound.insert(bound.end(), nonce.begin(), nonce.end());
  const auto digest = crypto::Sha256(bound);
  std::array<std::uint8_t, 64> report_data{};
  std::copy(digest.begin(), digest.end(), report_data.begin());
  return report_data;
}

}  // namespace kmra::integration
