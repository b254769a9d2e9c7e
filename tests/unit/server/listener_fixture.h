// A listener on a throwaway PKI (test_util.h) for the listener tests: by default it echoes each
// request as JSON; Start() serves another handler.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "server/json.h"
#include "server/listener.h"
#include "test_util.h"

namespace kmra::server {

class ListenerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    ASSERT_TRUE(testing::MakeTestPki(dir_->path(), "compute-1", &pki_));
  }
  static void TearDownTestSuite() { delete dir_; }

  void SetUp() override {
    Start(
        [](Request& req) {
          Json echo;
          echo["method"] = req.method;
          echo["path"] = req.path;
          echo["query_x"] = req.QueryParam("x");
          echo["body"] = req.body;
          echo["presented"] = req.client.presented;
          echo["verified"] = req.client.verified;
          echo["verify_error"] = req.client.verify_error;
          echo["ou"] = req.client.organizational_unit;
          echo["cn"] = req.client.common_name;
          return JsonResponse(200, echo);
        },
        2);
  }

  // (Re)starts listener_ with `handler` on `threads` I/O threads.
  void Start(Handler handler, int threads) {
    listener_.reset();
    ListenerOptions options;
    options.cert_file = pki_.server_cert();
    options.key_file = pki_.server_key();
    options.client_ca_file = pki_.ca();
    options.body_limit = 4096;
    options.header_limit = 2048;
    options.threads = threads;
    auto listener = Listener::Start(options, std::move(handler));
    ASSERT_TRUE(listener.has_value()) << listener.error().ToString();
    listener_ = std::move(*listener);
  }

  testing::HttpCall Call(const std::string& path, const std::string& who = "client") {
    testing::HttpCall call;
    call.url = "https://127.0.0.1:" + std::to_string(listener_->port()) + path;
    call.ca_file = pki_.ca();
    if (!who.empty()) {
      call.cert_file = pki_.cert(who);
      call.key_file = pki_.key(who);
    }
    return call;
  }

  static inline testing::TempDir* dir_ = nullptr;
  static inline testing::TestPki pki_;
  std::unique_ptr<Listener> listener_;
};

}  // namespace kmra::server
