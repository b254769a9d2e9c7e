// Scale-out with real parts (docs/server.md "Scale-out"): scripts/scale-out starts PostgreSQL 15 (a
// primary and a synchronous streaming standby, Unix sockets), a SoftHSM2 token shared by every
// replica, three `kmra server` replicas on the one database and HAProxy in TCP mode with TLS
// passthrough (deploy/scale-out/haproxy.cfg). 64 clients release through HAProxy with the KMRA API
// 0.2 and /v1, each unwrapping the key and checking it against the certificate. Then, each while
// the load runs: a replica is SIGKILLed and restarted, the HSM goes away and comes back, PostgreSQL
// restarts, and the primary stops and the standby is promoted. Nothing here waits a fixed time:
// every wait has a deadline and the assertions are on outcomes and counts.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "base/hex.h"
#include "enclave/factory.h"
#include "integration/harness.h"
#include "scaleout/load.h"

namespace kmra::scaleout {
namespace {

using integration::EnvOr;
using integration::ReadFile;
using integration::RunCmd;
using Json = nlohmann::json;
using std::chrono::seconds;

constexpr int kClients = 64;
constexpr char kKey[] = "web";

std::string Kmra() { return EnvOr("KMRA_BIN", "kmra"); }

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// The running deployment under a temporary directory (scripts/scale-out up/down).
class Stack {
 public:
  ~Stack() {
    if (up_) (void)Script({"down"});
  }
  integration::RunResult Script(std::vector<std::string> args, int timeout_s = 240) {
    args.insert(args.begin(), KMRA_SOURCE_DIR "/scripts/scale-out");
    args.insert(args.begin() + 2, dir_.path());
    return RunCmd(args, {{"KMRA_BIN", Kmra()}}, timeout_s);
  }
  ::testing::AssertionResult Up() {
    auto up = Script({"up"});
    up_ = true;
    if (up.exit_code != 0) return ::testing::AssertionFailure() << up.output << Logs();
    return ::testing::AssertionSuccess();
  }
  ::testing::AssertionResult Do(const std::string& cmd, const std::string& arg = "") {
    auto r = arg.empty() ? Script({cmd}) : Script({cmd, arg});
    if (r.exit_code != 0) return ::testing::AssertionFailure() << cmd << ": " << r.output;
    return ::testing::AssertionSuccess();
  }
  std::string Pki() const { return dir_ / "pki"; }
  std::string Url() const { return "https://127.0.0.1:" + Trim(ReadFile(dir_ / "haproxy.port")); }
  std::string ReplicaUrl(int n) const {
    return "https://127.0.0.1:" + Trim(ReadFile(dir_ / ("r" + std::to_string(n) + "/port")));
  }
  std::string ReplicaConfig(int n) const {
    return dir_ / ("r" + std::to_string(n) + "/kmra-server.toml");
  }
  std::string Logs() const {
    std::string s;
    for (const char* f : {"r1/server.log", "r2/server.log", "r3/server.log", "haproxy.log",
                          "pg/primary/server.log", "pg/standby/server.log"}) {
      std::string text = ReadFile(dir_ / f);
      if (text.size() > 3000) text = text.substr(text.size() - 3000);
      s += "\n--- " + std::string(f) + " (tail)\n" + text;
    }
    return s;
  }

 private:
  integration::TempDir dir_;
  bool up_ = false;
};

// Every audit record, read through `base` with the admin certificate (pages of 1000). Counts the
// 503s it retried in `*unavailable` when given.
std::vector<Json> AuditRecords(Https& admin, const std::string& base, int* unavailable = nullptr) {
  std::vector<Json> all;
  int64_t after = 0;
  for (;;) {
    const std::string url = base + "/v1/audit?limit=1000&after=" + std::to_string(after);
    HttpReply r = admin.Call("GET", url);
    // A 503 (a database connection the failover broke) is retried, as a client retries one.
    const auto until = std::chrono::steady_clock::now() + seconds(60);
    while ((r.status == 503 || r.status == 0) && std::chrono::steady_clock::now() < until) {
      if (unavailable != nullptr) ++*unavailable;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      r = admin.Call("GET", url);
    }
    if (r.status != 200) {
      ADD_FAILURE() << "GET /v1/audit: " << r.status << " " << r.error << r.body;
      return all;
    }
    Json page = Json::parse(r.body)["records"];
    if (page.empty()) return all;
    for (auto& rec : page) {
      after = rec["seq"].get<int64_t>();
      all.push_back(rec["record"]);
    }
  }
}

class ScaleOutTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists("/usr/lib/postgresql/15/bin/initdb")) {
      GTEST_SKIP() << "PostgreSQL 15 is not installed (Debian package postgresql-15)";
    }
    if (RunCmd({"haproxy", "-v"}).exit_code != 0) {
      GTEST_SKIP() << "HAProxy is not installed (Debian package haproxy)";
    }
    ASSERT_EQ(curl_global_init(CURL_GLOBAL_DEFAULT), CURLE_OK);
    ASSERT_TRUE(stack_.Up());
    base_ = stack_.Url();
    admin_ = std::make_unique<Https>(stack_.Pki(), "admin");
    for (int i = 0; i < kClients; ++i) {
      auto client = ReleaseClient::Create(stack_.Pki());
      ASSERT_TRUE(client.has_value()) << client.error().ToString();
      clients_.push_back(std::move(*client));
    }
    CreateKey();
  }

  std::vector<std::string> AdminArgs(const std::string& base) const {
    const std::string t = stack_.Pki() + "/tls/";
    return {"--server",      base,    "--ca",         t + "ca.pem", "--cert",
            t + "admin.pem", "--key", t + "admin.key"};
  }
  integration::RunResult Admin(std::vector<std::string> args, const std::string& base) {
    args.insert(args.begin(), Kmra());
    for (auto& a : AdminArgs(base)) args.push_back(a);
    return RunCmd(args);
  }

  // The policy naming the simulated platform's enclave; `mrenclave` overrides its MRENCLAVE.
  std::string PolicyFile(const std::string& name, const std::string& mrenclave = "") {
    enclave::PlatformConfig pc;
    pc.kind = "sim";
    pc.platform_dir = stack_.Pki() + "/sgx/platform-1";
    auto platform = enclave::OpenPlatform(pc);
    EXPECT_TRUE(platform.has_value());
    const auto id = (*platform)->Identity();
    Json policy{{"mrenclave", {mrenclave.empty() ? HexEncode(id.mrenclave) : mrenclave}},
                {"mrsigner", {HexEncode(id.mrsigner)}}};
    const std::string path = stack_.Pki() + "/" + name;
    EXPECT_TRUE(integration::WriteFile(path, policy.dump()));
    return path;
  }

  // A certificate from the PKI's CA for the key's newest version, made through `base`.
  void Certify(const std::string& base) {
    auto csr = Admin({"keys", "csr", kKey, "--subject", "CN=www.example.com"}, base);
    ASSERT_EQ(csr.exit_code, 0) << csr.output;
    ASSERT_TRUE(integration::WriteFile(
        stack_.Pki() + "/web.csr", Json::parse(csr.output.substr(csr.output.find('{')))["csr"]));
    auto cert =
        RunCmd({Kmra(), "pki", "sign", "--dir", stack_.Pki(), "--csr", stack_.Pki() + "/web.csr",
                "--days", "30", "--out", stack_.Pki() + "/web.pem"});
    ASSERT_EQ(cert.exit_code, 0) << cert.output;
    auto set = Admin({"keys", "set-certificate", kKey, stack_.Pki() + "/web.pem"}, base);
    ASSERT_EQ(set.exit_code, 0) << set.output;
  }

  void CreateKey() {
    auto created =
        Admin({"keys", "create", kKey, "--type", "rsa-2048", "--policy", PolicyFile("policy.json")},
              base_);
    ASSERT_EQ(created.exit_code, 0) << created.output << stack_.Logs();
    Certify(base_);
  }

  // Releases by every client at once through HAProxy, `rounds` each, alternating the APIs.
  void Burst(int rounds) {
    std::vector<std::thread> threads;
    for (size_t i = 0; i < clients_.size(); ++i) {
      threads.emplace_back([this, i, rounds] {
        for (int r = 0; r < rounds; ++r) {
          ReleaseWithRetry(*clients_[i], base_, (i + r) % 2 ? Api::kV1 : Api::kKmra, kKey, tally_);
        }
      });
    }
    for (auto& t : threads) t.join();
  }

  // Answers during a database outage: 503 store.unavailable, or audit.unavailable when the record
  // of a release could not be written (the nonce stays usable), or no /v1 nonce.
  int StoreUnavailable() {
    return tally_.Count("503 store.unavailable") + tally_.Count("503 audit.unavailable") +
           tally_.Count("nonce request failed");
  }

  // `cmd` (a scripts/scale-out command that takes the database away for a while) under load:
  // clients see the gap (503 store.unavailable and the like) and every release succeeds after it.
  void DatabaseOutageUnderLoad(const std::string& cmd) {
    Load load(clients_, base_, kKey, tally_);
    ASSERT_TRUE(load.WaitForReleases(64)) << tally_.Summary();
    const int gap = StoreUnavailable();
    ASSERT_TRUE(stack_.Do(cmd));
    EXPECT_TRUE(load.WaitForReleases(100)) << tally_.Summary() << stack_.Logs();
    EXPECT_GT(StoreUnavailable(), gap) << "no client saw the outage: " << tally_.Summary();
    load.Stop();
    ExpectAllReleasesCorrect();
  }

  // Every release so far was correct, and none failed for good.
  void ExpectAllReleasesCorrect() {
    EXPECT_EQ(tally_.wrong.load(), 0) << tally_.Summary();
    EXPECT_EQ(tally_.refused.load(), 0) << tally_.Summary();
    EXPECT_EQ(tally_.gave_up.load(), 0) << tally_.Summary();
  }

  // Requests that were released once, sent again to every replica directly: all refused (the nonce
  // is spent in the shared database), while a fresh request to each replica is released.
  void ExpectReplaysRefusedEverywhere() {
    auto kept = tally_.TakeKept();
    ASSERT_FALSE(kept.empty());
    if (kept.size() > 6) kept.resize(6);
    auto& client = *clients_[0];
    for (int n = 1; n <= 3; ++n) {
      const std::string replica = stack_.ReplicaUrl(n);
      for (const auto& request : kept) {
        HttpReply again = client.Send(replica, request);
        EXPECT_TRUE(again.status == 401 || again.status == 403 || again.status == 409)
            << "replica r" << n << " answered a replayed request " << again.status << " "
            << again.body.substr(0, 300);
        if (request.api == Api::kKmra) {
          EXPECT_EQ(again.Code(), "nonce.reused") << again.body.substr(0, 300);
        } else {
          EXPECT_EQ(again.Code().rfind("nonce.", 0), 0u) << again.body.substr(0, 300);
        }
      }
      EXPECT_TRUE(ReleaseWithRetry(client, replica, Api::kKmra, kKey, tally_)) << tally_.Summary();
    }
  }

  // The one chain of every replica verifies, and it holds exactly the releases the clients were
  // given (each one once, also those whose answer was lost).
  void ExpectAuditChainComplete() {
    // kmra audit verify on the database the replicas share (the [store] of a replica's config).
    auto verify = RunCmd({Kmra(), "audit", "verify", "--config", stack_.ReplicaConfig(1)});
    EXPECT_EQ(verify.exit_code, 0) << verify.output;
    EXPECT_NE(verify.output.find("intact"), std::string::npos) << verify.output;
    int allowed = 0;
    int unavailable = 0;
    for (const auto& r : AuditRecords(*admin_, base_, &unavailable)) {
      if (r.value("action", "") == "release" && r.value("verdict", "") == "allowed") ++allowed;
    }
    EXPECT_EQ(allowed, tally_.ok.load() + tally_.lost_answers.load()) << tally_.Summary();
    // The database is back: the audit reads' idle connections, which the outage ended, are
    // replaced before use, so not one read is answered 503.
    EXPECT_EQ(unavailable, 0);
  }

  Stack stack_;
  std::string base_;
  std::unique_ptr<Https> admin_;
  std::vector<std::unique_ptr<ReleaseClient>> clients_;
  Tally tally_;
};

TEST_F(ScaleOutTest, ThreeReplicasShareNoncesAuditAndKeysAndSurviveFailures) {
  {
    SCOPED_TRACE("64 clients through HAProxy, API 0.2 and /v1");
    Burst(2);
    ExpectAllReleasesCorrect();
    EXPECT_EQ(tally_.ok.load(), 2 * kClients);
    // HAProxy spread them: every replica served some (the audit records name the replica).
    std::set<std::string> served;
    for (const auto& r : AuditRecords(*admin_, base_)) {
      if (r.value("action", "") == "release") served.insert(r.value("replica", ""));
    }
    EXPECT_EQ(served, (std::set<std::string>{"r1", "r2", "r3"}));
  }
  {
    SCOPED_TRACE("a request replayed to another replica is refused");
    ExpectReplaysRefusedEverywhere();
  }
  {
    SCOPED_TRACE("rotation and policy changes through one replica hold on the others at once");
    auto& client = *clients_[1];
    auto v1_on = [&](int n, int* version) -> std::string {
      auto request = client.Prepare(stack_.ReplicaUrl(n), Api::kV1, kKey);
      EXPECT_TRUE(request.has_value());
      if (!request) return "";
      HttpReply reply = client.Send(stack_.ReplicaUrl(n), *request);
      auto key = client.Check(*request, reply, version);
      EXPECT_TRUE(key.has_value()) << key.error().ToString();
      if (key) ++tally_.ok;
      return key.value_or("");
    };
    int version = 0;
    const std::string before = v1_on(2, &version);
    EXPECT_EQ(version, 1);
    auto rotated = Admin({"keys", "rotate", kKey}, stack_.ReplicaUrl(1));
    ASSERT_EQ(rotated.exit_code, 0) << rotated.output;
    Certify(stack_.ReplicaUrl(1));
    for (int n : {2, 3}) {
      const std::string after = v1_on(n, &version);
      EXPECT_EQ(version, 2) << "replica r" << n;
      EXPECT_NE(after, before) << "replica r" << n << " released the old version";
    }
    // A policy naming another enclave, set through r2: r1 and r3 refuse at once; restored through
    // r3, r1 releases again.
    auto strict = Admin({"policy", "set", kKey, PolicyFile("other.json", std::string(64, 'a'))},
                        stack_.ReplicaUrl(2));
    ASSERT_EQ(strict.exit_code, 0) << strict.output;
    for (int n : {1, 3}) {
      auto request = client.Prepare(stack_.ReplicaUrl(n), Api::kKmra, kKey);
      ASSERT_TRUE(request.has_value());
      HttpReply refused = client.Send(stack_.ReplicaUrl(n), *request);
      EXPECT_EQ(refused.status, 403) << "replica r" << n << ": " << refused.body;
    }
    auto restored = Admin({"policy", "set", kKey, PolicyFile("policy.json")}, stack_.ReplicaUrl(3));
    ASSERT_EQ(restored.exit_code, 0) << restored.output;
    EXPECT_TRUE(ReleaseWithRetry(client, stack_.ReplicaUrl(1), Api::kKmra, kKey, tally_));
  }
  {
    SCOPED_TRACE("SIGKILL of a replica under load");
    Load load(clients_, base_, kKey, tally_);
    ASSERT_TRUE(load.WaitForReleases(64)) << tally_.Summary();
    ASSERT_TRUE(stack_.Do("kill-replica", "2"));
    EXPECT_TRUE(load.WaitForReleases(128)) << tally_.Summary();
    ASSERT_TRUE(stack_.Do("start-replica", "2"));
    EXPECT_TRUE(load.WaitForReleases(100)) << tally_.Summary();
    load.Stop();
    ExpectAllReleasesCorrect();
    ExpectReplaysRefusedEverywhere();
    ExpectAuditChainComplete();
  }
  {
    SCOPED_TRACE("the HSM goes away under load and comes back");
    Load load(clients_, base_, kKey, tally_);
    ASSERT_TRUE(load.WaitForReleases(64)) << tally_.Summary();
    const int unavailable = tally_.Count("503 hsm.unavailable");
    ASSERT_TRUE(stack_.Do("stop-hsm"));
    const auto until = std::chrono::steady_clock::now() + seconds(60);
    while (tally_.Count("503 hsm.unavailable") == unavailable &&
           std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    EXPECT_GT(tally_.Count("503 hsm.unavailable"), unavailable) << tally_.Summary();
    ASSERT_TRUE(stack_.Do("start-hsm"));
    EXPECT_TRUE(load.WaitForReleases(100)) << tally_.Summary() << stack_.Logs();
    load.Stop();
    ExpectAllReleasesCorrect();
  }
  {
    SCOPED_TRACE("PostgreSQL restarts under load");
    DatabaseOutageUnderLoad("restart-pg");
  }
  {
    SCOPED_TRACE("the primary stops and the standby is promoted under load");
    DatabaseOutageUnderLoad("failover");
    ExpectReplaysRefusedEverywhere();
    // Nothing a client was given is missing from the promoted database.
    ExpectAuditChainComplete();
  }
  std::printf("scale-out: %s\n", tally_.Summary().c_str());
}

}  // namespace
}  // namespace kmra::scaleout
