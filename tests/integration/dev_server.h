// `kmra server --dev --dir DIR --listen 127.0.0.1:0` for the key server's end-to-end and security
// tests, and the report data a client's enclave quotes (ARCHITECTURE.md step 3).
#pragma once

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "integration/harness.h"

namespace kmra::integration {

class DevServer {
 public:
  // Starts the server on `dir` (made by `kmra pki init`) and waits for DIR/server.port. started()
  // says whether it came up; error() has its log otherwise.
  explicit DevServer(std::string dir);
  bool started() const { return !url_.empty(); }
  const std::string& error() const { return error_; }
  // https://127.0.0.1:PORT
  const std::string& url() const { return url_; }
  // The server's process id (-1 once stopped).
  pid_t pid() const { return process_ ? process_->pid() : -1; }
  // Stops the process (SIGTERM) and forgets DIR/server.port, so the server can be started again.
  void Stop();

 private:
  std::string dir_;
  std::unique_ptr<Process> process_;
  std::string url_;
  std::string error_;
};

// Runs `sql` on the dev server's SQLite state database (DIR/state.db) beside the running server, as
// an operator or a failing disk would. Empty on success, else SQLite's message.
std::string RunStateSql(const std::string& dir, const std::string& sql);

// SHA-256(exponent || modulus || nonce) || 32 zero bytes: the report data that binds a release
// request's public key and nonce to the quote.
std::array<std::uint8_t, 64> ReleaseReportData(const std::vector<std::uint8_t>& exponent,
                                               const std::vector<std::uint8_t>& modulus,
                                               const std::vector<std::uint8_t>& nonce);

// A test with its own directory: `kmra pki init` into it (InitPki), then a dev server (StartServer)
// reachable at base_.
class DevServerTest : public ::testing::Test {
 protected:
  void InitPki() {
    auto init = RunCmd({EnvOr("KMRA_BIN", "kmra"), "pki", "init", "--dir", D()});
    ASSERT_EQ(init.exit_code, 0) << init.output;
  }
  void StartServer() {
    server_ = std::make_unique<DevServer>(D());
    ASSERT_TRUE(server_->started()) << server_->error();
    base_ = server_->url();
  }
  // Has the server write its dev config (one start and stop), then adds `lines` at the top of its
  // [`table`], for the next StartServer.
  void AddToDevConfig(const std::string& table, const std::string& lines) {
    {
      DevServer first(D());
      ASSERT_TRUE(first.started()) << first.error();
      first.Stop();
    }
    std::string toml = ReadFile(D() + "/kmra-server.toml");
    const std::string anchor = "[" + table + "]\n";
    ASSERT_NE(toml.find(anchor), std::string::npos) << toml;
    toml.insert(toml.find(anchor) + anchor.size(), lines);
    ASSERT_TRUE(WriteFile(D() + "/kmra-server.toml", toml));
  }
  // Writes DIR/any.policy.json, a release policy for any enclave (`kmra keys create --policy`), and
  // returns its path.
  std::string WriteAnyEnclavePolicy() {
    std::string path = D() + "/any.policy.json";
    EXPECT_TRUE(WriteFile(path, R"({"allow_any_enclave": true})"));
    return path;
  }
  std::string D() const { return dir_.path(); }

  TempDir dir_;
  std::unique_ptr<DevServer> server_;
  std::string base_;
};

}  // namespace kmra::integration
