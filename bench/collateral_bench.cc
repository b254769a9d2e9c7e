// The key server's collateral lookup per release, with the baseline measured in the same run: the
// in-memory entry of server::PlatformCollateral (what a release now does when the collateral is
// fresh) against the cache read from SQLite (collateral::CachedSource::Lookup), re-reading the
// offline bundle, copying a dcap::Collateral by value (what a release did before), and one warm
// quote verification for scale. Collateral and quote come from `kmra pki init`'s library.
//
//   build/release/bench/collateral_bench [--benchmark_min_time=1]
#include <benchmark/benchmark.h>

#include <filesystem>

#include "base/clock.h"
#include "collateral/cache.h"
#include "collateral/offline_source.h"
#include "dcap/verifier.h"
#include "enclave/factory.h"
#include "enclave/pki/pki_init.h"
#include "server/attestor.h"
#include "server/platform_collateral.h"
#include "store/store.h"

namespace {

namespace fs = std::filesystem;
using namespace kmra;

constexpr int64_t kPkiTime = 1768435200;  // 2026-01-15T00:00:00Z

struct World {
  std::string dir;
  FakeClock clock{kPkiTime};
  std::unique_ptr<store::Store> store;
  collateral::CollateralKey key;
  std::vector<uint8_t> quote;
  std::unique_ptr<server::PlatformCollateral> memo;  // cache(offline) behind the memo
  std::unique_ptr<collateral::CachedSource> cache;   // the same cache, asked directly
  std::unique_ptr<collateral::OfflineSource> offline;
  std::unique_ptr<dcap::Verifier> verifier;

  World() {
    std::string tmpl = (fs::temp_directory_path() / "kmra-colbench-XXXXXX").string();
    dir = mkdtemp(tmpl.data());
    enclave::pki::PkiInitOptions o;
    o.dir = dir;
    o.tls.now = kPkiTime;
    o.sgx.now = kPkiTime;
    o.sgx.platforms.assign(1, enclave::pki::SimPlatformSpec{});
    if (!enclave::pki::PkiInit(o)) std::abort();
    enclave::PlatformConfig pc;
    pc.kind = "sim";
    pc.platform_dir = dir + "/sgx/platform-1";
    quote = *(*enclave::OpenPlatform(pc))->Quote(std::array<uint8_t, 64>{});
    auto platform = *dcap::InspectQuote(quote);
    key = *collateral::CollateralKey::Make(platform.fmspc, platform.tee, platform.pck_ca);
    store = std::move(*store::OpenSqliteStore(dir + "/state.db"));
    memo = std::make_unique<server::PlatformCollateral>(
        server::PlatformCollateralOptions{},
        std::make_unique<collateral::CachedSource>(
            *store, std::make_unique<collateral::OfflineSource>(dir + "/collateral"), clock),
        nullptr, nullptr, "bench");
    cache = std::make_unique<collateral::CachedSource>(
        *store, std::make_unique<collateral::OfflineSource>(dir + "/collateral"), clock);
    offline = std::make_unique<collateral::OfflineSource>(dir + "/collateral");
    dcap::VerifierOptions vo;
    vo.trusted_root_pem = ReadRoot();
    verifier = std::move(*dcap::Verifier::Create(vo));
    if (!memo->For(key, kPkiTime)) std::abort();  // fills the cache table and the memo
  }
  std::string ReadRoot() const {
    std::FILE* f = std::fopen((dir + "/sgx/root.pem").c_str(), "rb");
    std::string s(1 << 16, '\0');
    s.resize(std::fread(s.data(), 1, s.size(), f));
    std::fclose(f);
    return s;
  }
  ~World() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

World& TheWorld() {
  static World* w = new World();
  return *w;
}

// A release now: the memo's shared entry (a map lookup under a mutex, a shared_ptr copy).
void BM_MemoLookup(benchmark::State& state) {
  World& w = TheWorld();
  for (auto _ : state) {
    auto e = w.memo->For(w.key, kPkiTime + 1);
    benchmark::DoNotOptimize(e->get()->collateral.get());
  }
}
BENCHMARK(BM_MemoLookup);

// Asking the cache in the state store every time: SQLite read and JSON decode.
void BM_CacheLookupSqlite(benchmark::State& state) {
  World& w = TheWorld();
  for (auto _ : state) {
    auto c = w.cache->Lookup(w.key);
    if (!c) state.SkipWithError("cache lookup failed");
    benchmark::DoNotOptimize(c->collateral.tcb_info_json.data());
  }
}
BENCHMARK(BM_CacheLookupSqlite);

// Re-reading the offline bundle files (the old attestor's reload).
void BM_OfflineBundleRead(benchmark::State& state) {
  World& w = TheWorld();
  for (auto _ : state) {
    auto c = w.offline->Get(w.key);
    if (!c) state.SkipWithError("offline read failed");
    benchmark::DoNotOptimize(c->tcb_info_json.data());
  }
}
BENCHMARK(BM_OfflineBundleRead);

// The old per-release cost: CollateralFor returned dcap::Collateral by value.
void BM_CollateralCopy(benchmark::State& state) {
  World& w = TheWorld();
  const dcap::Collateral& c = *(*w.memo->For(w.key, kPkiTime + 1))->collateral;
  for (auto _ : state) {
    dcap::Collateral copy = c;
    benchmark::DoNotOptimize(copy.tcb_info_json.data());
  }
}
BENCHMARK(BM_CollateralCopy);

// Finding the quote's platform (FMSPC, TEE, PCK CA) before the lookup: parses the PCK certificate.
void BM_InspectQuote(benchmark::State& state) {
  World& w = TheWorld();
  for (auto _ : state) {
    auto p = dcap::InspectQuote(w.quote);
    if (!p) state.SkipWithError("inspect failed");
    benchmark::DoNotOptimize(p->fmspc.data());
  }
}
BENCHMARK(BM_InspectQuote);

// Parsing the quote structure alone (no certificate decoding).
void BM_ParseQuote(benchmark::State& state) {
  World& w = TheWorld();
  for (auto _ : state) {
    auto q = dcap::ParseQuote(w.quote);
    if (!q) state.SkipWithError("parse failed");
    benchmark::DoNotOptimize(q->cert_data.pck_chain_pem.data());
  }
}
BENCHMARK(BM_ParseQuote);

// Scale: one warm verification of the quote with that collateral (what follows the lookup).
void BM_WarmVerify(benchmark::State& state) {
  World& w = TheWorld();
  auto entry = *w.memo->For(w.key, kPkiTime + 1);
  (void)w.verifier->Verify(w.quote, *entry->collateral, kPkiTime + 1);
  for (auto _ : state) {
    auto r = w.verifier->Verify(w.quote, *entry->collateral, kPkiTime + 1);
    if (!r.verified) state.SkipWithError("quote did not verify");
    benchmark::DoNotOptimize(r.verified);
  }
}
BENCHMARK(BM_WarmVerify);

// A release's attestation now: Attestor::Check (platform remembered per PCK certificate, the memo's
// collateral by shared pointer, warm verification).
void BM_AttestorCheck(benchmark::State& state) {
  World& w = TheWorld();
  static auto attestor =
      std::move(*server::Attestor::Create({w.dir + "/sgx/root.pem", true}, *w.memo));
  for (auto _ : state) {
    auto r = attestor->Check(w.quote, kPkiTime + 1);
    if (!r || !r->verified) state.SkipWithError("check failed");
    benchmark::DoNotOptimize(r->verified);
  }
}
BENCHMARK(BM_AttestorCheck);

// The same work as the attestor did it before: InspectQuote on every release, the collateral copied
// out of its map, then the warm verification (the 60 s directory re-read amortised away).
void BM_CheckAsBefore(benchmark::State& state) {
  World& w = TheWorld();
  const dcap::Collateral& c = *(*w.memo->For(w.key, kPkiTime + 1))->collateral;
  for (auto _ : state) {
    auto p = dcap::InspectQuote(w.quote);
    dcap::Collateral copy = c;
    auto r = w.verifier->Verify(w.quote, copy, kPkiTime + 1);
    if (!p || !r.verified) state.SkipWithError("check failed");
    benchmark::DoNotOptimize(r.verified);
  }
}
BENCHMARK(BM_CheckAsBefore);

}  // namespace

BENCHMARK_MAIN();
