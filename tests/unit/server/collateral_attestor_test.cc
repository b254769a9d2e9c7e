// The key server's collateral chain with an injected clock: a PCCS (the python stand-in over HTTP)
// feeds the cache in a real SQLite state store; quotes from a simulated platform are verified by
// the Attestor. The clock then moves past the PCCS's death, into the refresh window, and past
// nextUpdate.
#include <gtest/gtest.h>

#include <filesystem>

#include "base/clock.h"
#include "base/file.h"
#include "collateral/source.h"
#include "enclave/factory.h"
#include "enclave/pki/pki_init.h"
#include "server/attestor.h"
#include "server/collateral_chain.h"
#include "store/store.h"
#include "unit/collateral/pccs_fixture.h"
#include "unit/dcap/resign_tcb_info.h"

namespace kmra::server {
namespace {

namespace fs = std::filesystem;

constexpr std::int64_t kPkiTime = 1768435200;  // 2026-01-15T00:00:00Z
constexpr std::int64_t kDay = 86400;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "kmra-srvcol-XXXXXX").string();
    char* made = mkdtemp(tmpl.data());
    path_ = made ? made : "";
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A PKI (made at kPkiTime), a quote from its platform 1, and the one FMSPC directory.
struct Pki {
  TempDir dir;
  std::string fmspc;
  std::vector<std::uint8_t> quote;

  explicit Pki(bool expired = false,
               enclave::pki::TcbProfile tcb = enclave::pki::TcbProfile::kUpToDate) {
    enclave::pki::PkiInitOptions o;
    o.dir = dir.path();
    // TLS certificates are checked by libcurl at the real time; SGX ones by us at the fake time.
    o.tls.now = SystemClock::Get().NowUnix();
    o.sgx.now = kPkiTime;
    o.sgx.platforms.assign(1, enclave::pki::SimPlatformSpec{tcb, false});
    o.sgx.expired_collateral = expired;
    auto s = enclave::pki::PkiInit(o);
    EXPECT_TRUE(s) << s.error().ToString();
    for (const auto& d : fs::directory_iterator(dir.path() + "/collateral")) {
      fmspc = d.path().filename().string();
    }
    enclave::PlatformConfig pc;
    pc.kind = "sim";
    pc.platform_dir = dir.path() + "/sgx/platform-1";
    auto platform = enclave::OpenPlatform(pc);
    EXPECT_TRUE(platform.has_value()) << platform.error().ToString();
    auto q = (*platform)->Quote(std::array<std::uint8_t, 64>{});
    EXPECT_TRUE(q.has_value()) << q.error().ToString();
    quote = std::move(*q);
  }
  std::string CollateralDir() const { return dir.path() + "/collateral/" + fmspc; }
  std::string Root() const { return dir.path() + "/sgx/root.pem"; }
};

// The server's pieces as run.cc assembles them, with a fake clock.
struct Server {
  FakeClock clock{kPkiTime};
  std::unique_ptr<store::Store> store;
  CollateralSetup setup;
  std::unique_ptr<Attestor> attestor;

  Server(const Pki& pki, ServerConfig config, const std::string& state_db) {
    auto opened = store::OpenSqliteStore(state_db);
    EXPECT_TRUE(opened.has_value()) << opened.error().ToString();
    store = std::move(*opened);
    auto built = BuildCollateral(config, *store, clock);
    EXPECT_TRUE(built.has_value()) << built.error().ToString();
    setup = std::move(*built);
    auto made = Attestor::Create({pki.Root(), true, config.clock_skew}, *setup.collateral);
    EXPECT_TRUE(made.has_value()) << made.error().ToString();
    attestor = std::move(*made);
  }
  AttestationResult Check(const std::vector<std::uint8_t>& quote) {
    auto r = attestor->Check(quote, clock.NowUnix());
    EXPECT_TRUE(r.has_value()) << r.error().ToString();
    return r ? *r : AttestationResult{};
  }
  // The entry of the simulated platform (its PCK certificate is issued by the Platform CA).
  std::shared_ptr<const PlatformEntry> Entry(const std::string& fmspc) {
    auto key = collateral::CollateralKey::Make(fmspc, "SGX", "platform");
    auto e = setup.collateral->For(*key, clock.NowUnix());
    if (!e) ADD_FAILURE() << e.error().ToString();
    return e ? *e : std::make_shared<const PlatformEntry>();
  }
};

std::string Failures(const AttestationResult& r) {
  std::string s;
  for (const auto& f : r.failures) s += f.code + ": " + f.message + "\n";
  return s;
}

TEST(CollateralAttestorTest, PccsThenCacheThenStaleWithTheReasonNamed) {
  Pki pki;
  TempDir state;
  auto pccs = std::make_unique<collateral::testing::PccsServer>(pki.CollateralDir(), "platform");
  ASSERT_NE(pccs->port(), 0) << "python3 " << KMRA_SOURCE_DIR
                             << "/tests/unit/collateral/pccs_server.py did not start";
  ServerConfig config;
  config.pccs_urls = {pccs->url()};
  config.collateral_recheck = 60;
  Server server(pki, config, state.path() + "/state.db");

  // Fresh from the PCCS.
  AttestationResult first = server.Check(pki.quote);
  EXPECT_TRUE(first.verified) << Failures(first);
  EXPECT_EQ(first.tcb_status, "UpToDate");
  auto entry = server.Entry(pki.fmspc);
  ASSERT_TRUE(entry);
  EXPECT_EQ(entry->origin, "pcs:" + pccs->url());
  const std::int64_t next_update = entry->next_update;
  EXPECT_GT(next_update, kPkiTime + 20 * kDay);

  // Within the recheck interval the same in-memory entry (and collateral object) serves: no store
  // read, no network, no copy.
  server.clock.Advance(30);
  auto again = server.Entry(pki.fmspc);
  EXPECT_EQ(again.get(), entry.get());
  EXPECT_EQ(again->collateral.get(), entry->collateral.get());

  // The PCCS goes away: releases keep verifying from the cache in the state store.
  pccs.reset();
  server.clock.Advance(120);
  AttestationResult cached = server.Check(pki.quote);
  EXPECT_TRUE(cached.verified) << Failures(cached);
  EXPECT_EQ(server.Entry(pki.fmspc)->origin, "cache");

  // Inside the refresh window the refresh fails, the still-current collateral keeps serving and the
  // failure is reported.
  server.clock.Set(next_update - 3600);
  AttestationResult window = server.Check(pki.quote);
  EXPECT_TRUE(window.verified) << Failures(window);
  auto reported = server.Entry(pki.fmspc);
  EXPECT_TRUE(reported->UsableAt(server.clock.NowUnix(), 0));
  EXPECT_NE(reported->refresh_error.find("127.0.0.1"), std::string::npos)
      << reported->refresh_error;

  // Past nextUpdate: refused with collateral.stale naming the FMSPC, the nextUpdate and the reason.
  server.clock.Set(next_update + 60);
  AttestationResult stale = server.Check(pki.quote);
  EXPECT_FALSE(stale.verified);
  ASSERT_EQ(stale.failures.size(), 1u) << Failures(stale);
  EXPECT_EQ(stale.failures[0].code, "collateral.stale");
  const std::string& msg = stale.failures[0].message;
  EXPECT_NE(msg.find(pki.fmspc), std::string::npos) << msg;
  EXPECT_NE(msg.find(FormatRfc3339(next_update)), std::string::npos) << msg;
  EXPECT_NE(msg.find("refreshing it failed"), std::string::npos) << msg;
  EXPECT_NE(msg.find("127.0.0.1"), std::string::npos) << msg;
  EXPECT_EQ(stale.fmspc, pki.fmspc);
  EXPECT_FALSE(server.Entry(pki.fmspc)->UsableAt(server.clock.NowUnix(), 0));
}

// Collateral issued (an hour before kPkiTime) after the server's clock is refused naming the
// document, unless [attestation] clock_skew allows for that much.
TEST(CollateralAttestorTest, ClockSkewAllowsCollateralIssuedAfterTheServersClock) {
  Pki pki;
  TempDir state;
  ServerConfig config;
  config.collateral_dir = pki.dir.path() + "/collateral";
  const std::int64_t behind = kPkiTime - 3600 - 1800;  // 30 minutes before the issueDate
  {
    Server strict(pki, config, state.path() + "/strict.db");
    strict.clock.Set(behind);
    AttestationResult r = strict.Check(pki.quote);
    EXPECT_FALSE(r.verified);
    EXPECT_NE(Failures(r).find("tcb_info.not_yet_valid"), std::string::npos) << Failures(r);
  }
  config.clock_skew = 3600;
  Server lenient(pki, config, state.path() + "/lenient.db");
  lenient.clock.Set(behind);
  AttestationResult r = lenient.Check(pki.quote);
  EXPECT_TRUE(r.verified) << Failures(r);
}

TEST(CollateralAttestorTest, ARestartedServerReleasesFromTheCacheWhileThePccsIsDown) {
  Pki pki;
  TempDir state;
  ServerConfig config;
  config.collateral_cache = state.path() + "/collateral.db";
  {
    collateral::testing::PccsServer pccs(pki.CollateralDir(), "platform");
    config.pccs_urls = {pccs.url()};
    Server server(pki, config, state.path() + "/state.db");
    EXPECT_TRUE(server.Check(pki.quote).verified);
  }
  // Same URL, nothing listens there now; a new process reads the cache file.
  Server restarted(pki, config, state.path() + "/state.db");
  AttestationResult r = restarted.Check(pki.quote);
  EXPECT_TRUE(r.verified) << Failures(r);
  EXPECT_EQ(restarted.Entry(pki.fmspc)->origin, "cache");
}

TEST(CollateralAttestorTest, AnHttpsPccsIsTrustedThroughPccsCaFile) {
  Pki pki;
  TempDir state;
  const std::string tls = pki.dir.path() + "/tls";
  collateral::testing::PccsServer pccs(pki.CollateralDir(), "platform",
                                       {"--tls", tls + "/server.pem", tls + "/server.key"});
  ASSERT_NE(pccs.port(), 0);
  const std::string url = "https://127.0.0.1:" + std::to_string(pccs.port());
  ServerConfig config;
  config.pccs_urls = {url};
  config.pccs_ca_file = tls + "/ca.pem";
  Server server(pki, config, state.path() + "/state.db");
  AttestationResult r = server.Check(pki.quote);
  EXPECT_TRUE(r.verified) << Failures(r);
  EXPECT_EQ(server.Entry(pki.fmspc)->origin, "pcs:" + url);

  // Without the CA the PCCS's certificate is not trusted, and the error says so.
  ServerConfig untrusted;
  untrusted.pccs_urls = {url};
  Server other(pki, untrusted, state.path() + "/other.db");
  auto refused = other.attestor->Check(pki.quote, kPkiTime);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code(), Code::kUnavailable);
  EXPECT_NE(refused.error().message().find("certificate"), std::string::npos)
      << refused.error().message();
}

TEST(CollateralAttestorTest, OfflineBundlePastNextUpdateIsRefusedAndSaysWhy) {
  Pki pki(/*expired=*/true);
  TempDir state;
  ServerConfig config;
  config.collateral_dir = pki.dir.path() + "/collateral";
  Server server(pki, config, state.path() + "/state.db");
  AttestationResult r = server.Check(pki.quote);
  EXPECT_FALSE(r.verified);
  ASSERT_FALSE(r.failures.empty());
  EXPECT_EQ(r.failures[0].code, "collateral.stale");
  EXPECT_NE(r.failures[0].message.find("delivered it already past its nextUpdate"),
            std::string::npos)
      << r.failures[0].message;
  // The offline directory makes the platform known (for /readyz) before any quote.
  auto known = server.setup.collateral->Known(server.clock.NowUnix());
  ASSERT_EQ(known.size(), 1u);
  EXPECT_EQ(known[0]->key.fmspc, pki.fmspc);
  EXPECT_FALSE(known[0]->UsableAt(server.clock.NowUnix(), 0));
}

// Keeps the TCB levels of the PKI's TCB info whose status is in `keep`, signed again.
void KeepTcbLevels(const Pki& pki, const std::vector<std::string>& keep) {
  EXPECT_EQ(dcap::testing::KeepTcbLevels(pki.CollateralDir(),
                                         pki.dir.path() + "/sgx/private/tcb_signing_key.pem", keep),
            "");
}

// No TCB level of the TCB info is met: Intel's QVL fails the verification (TCB_NOT_SUPPORTED), so
// the Attestor reports it unverified with that code first, which the release path answers with
// 403 tcb.level_not_supported (and the audit record's failed check).
TEST(CollateralAttestorTest, NoTcbLevelMetIsNotVerified) {
  Pki pki(/*expired=*/false, enclave::pki::TcbProfile::kOutOfDate);
  ServerConfig config;
  config.collateral_dir = pki.dir.path() + "/collateral";
  {
    // The same signing path with the platform's level kept: verified, status OutOfDate.
    KeepTcbLevels(pki, {"UpToDate", "SWHardeningNeeded", "OutOfDate", "Revoked"});
    TempDir state;
    Server server(pki, config, state.path() + "/state.db");
    AttestationResult r = server.Check(pki.quote);
    EXPECT_TRUE(r.verified) << Failures(r);
    EXPECT_EQ(r.tcb_status, "OutOfDate");
  }
  KeepTcbLevels(pki, {"UpToDate", "SWHardeningNeeded"});
  TempDir state;
  Server server(pki, config, state.path() + "/state.db");
  AttestationResult r = server.Check(pki.quote);
  EXPECT_FALSE(r.verified);
  EXPECT_EQ(r.tcb_status, "TCBLevelNotSupported");
  ASSERT_EQ(r.failures.size(), 1u) << Failures(r);
  EXPECT_EQ(r.failures[0].code, "tcb.level_not_supported");
  EXPECT_NE(r.failures[0].message.find("no TCB level"), std::string::npos) << Failures(r);
}

TEST(CollateralAttestorTest, MaxAgeRefusesCollateralFetchedTooLongAgo) {
  Pki pki;
  TempDir state;
  ServerConfig config;
  config.collateral_dir = pki.dir.path() + "/collateral";
  config.pccs_urls = {collateral::testing::DeadUrl()};  // never delivers: offline fallback
  config.collateral_max_age = 3600;
  config.collateral_refresh_ahead = 0;
  Server server(pki, config, state.path() + "/state.db");
  EXPECT_TRUE(server.Check(pki.quote).verified);
  EXPECT_EQ(server.Entry(pki.fmspc)->origin, "offline:" + config.collateral_dir);
  // Two hours later the cache still holds it (fresh by nextUpdate) but it is older than allowed;
  // the refresh through the fallback brings a newer fetch, so it verifies again.
  server.clock.Advance(7200);
  AttestationResult r = server.Check(pki.quote);
  EXPECT_TRUE(r.verified) << Failures(r);
  EXPECT_GE(server.Entry(pki.fmspc)->fetched_at, kPkiTime + 7200);
  // With the bundle gone too, the old entry is refused by age.
  fs::rename(pki.CollateralDir(), pki.CollateralDir() + ".away");
  server.clock.Advance(7200);
  AttestationResult old = server.Check(pki.quote);
  EXPECT_FALSE(old.verified);
  ASSERT_FALSE(old.failures.empty());
  EXPECT_EQ(old.failures[0].code, "collateral.stale");
  EXPECT_NE(old.failures[0].message.find("collateral_max_age 3600"), std::string::npos)
      << old.failures[0].message;
}

TEST(CollateralAttestorTest, NoSourceAndBadFilesAreNamed) {
  Pki pki;
  TempDir state;
  Server none(pki, ServerConfig{}, state.path() + "/state.db");
  auto r = none.attestor->Check(pki.quote, kPkiTime);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), Code::kUnavailable);
  EXPECT_NE(r.error().message().find("collateral_dir or pccs_url"), std::string::npos);

  auto store = store::OpenSqliteStore(state.path() + "/s2.db");
  ASSERT_TRUE(store.has_value());
  FakeClock clock(kPkiTime);
  ServerConfig bad;
  bad.pccs_urls = {"https://pccs.invalid:8081"};
  bad.pccs_ca_file = state.path() + "/missing-ca.pem";
  auto built = BuildCollateral(bad, **store, clock);
  ASSERT_FALSE(built.has_value());
  EXPECT_NE(built.error().message().find("pccs_ca_file"), std::string::npos);
  ServerConfig no_key;
  no_key.pccs_urls = {"https://api.trustedservices.intel.com"};
  no_key.pccs_api_key_file = state.path() + "/missing.key";
  built = BuildCollateral(no_key, **store, clock);
  ASSERT_FALSE(built.has_value());
  EXPECT_NE(built.error().message().find("pccs_api_key_file"), std::string::npos);
  ASSERT_TRUE(WriteFileAtomic(state.path() + "/empty.key", "\n", 0600));
  no_key.pccs_api_key_file = state.path() + "/empty.key";
  built = BuildCollateral(no_key, **store, clock);
  ASSERT_FALSE(built.has_value());
  EXPECT_NE(built.error().message().find("is empty"), std::string::npos);
  ServerConfig no_dir;
  no_dir.collateral_dir = state.path() + "/nope";
  built = BuildCollateral(no_dir, **store, clock);
  ASSERT_FALSE(built.has_value());
  EXPECT_NE(built.error().message().find("collateral_dir"), std::string::npos);
}

}  // namespace
}  // namespace kmra::server

namespace kmra::server {
namespace {

// Quotes whose PCK certificates claim ever new FMSPCs cannot grow the server's collateral map
// without bound: past max_entries the least recently used platform is forgotten, and the real
// platform's quotes still verify.
TEST(CollateralAttestorTest, ForgedFmspcsLeaveTheCollateralMapBounded) {
  Pki pki;
  TempDir state;
  ServerConfig config;
  config.collateral_dir = pki.dir.path() + "/collateral";
  Server server(pki, config, state.path() + "/state.db");
  ASSERT_TRUE(server.Check(pki.quote).verified);
  const std::size_t kForged = 300;  // PlatformCollateralOptions::max_entries is 256
  for (std::size_t i = 0; i < kForged; ++i) {
    char fmspc[13];
    std::snprintf(fmspc, sizeof(fmspc), "%012zX", 0xF00000000000 + i);
    auto key = collateral::CollateralKey::Make(fmspc, "SGX", "platform");
    ASSERT_TRUE(key.has_value());
    EXPECT_FALSE(server.setup.collateral->For(*key, server.clock.NowUnix()).has_value());
  }
  EXPECT_LE(server.setup.collateral->Snapshot().size(), PlatformCollateralOptions{}.max_entries);
  AttestationResult again = server.Check(pki.quote);
  EXPECT_TRUE(again.verified) << Failures(again);
}

}  // namespace
}  // namespace kmra::server
