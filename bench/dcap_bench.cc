// DCAP verification speed on the dcap-qvl SGX case: cold (nothing cached: every certificate, CRL
// and JSON parsed and every signature checked) and warm (collateral and PCK chain cached: the
// per-quote checks and the quote signature), beside the machine's ECDSA P-256 verification rate
// measured in the same run. Prints the ratios at the end.
//
//   build/release/bench/dcap_bench [--benchmark_min_time=2]
//
// On a shared machine the ratios move with whatever else runs; interleaved repetitions compare
// medians taken over the same stretch of time:
//
//   build/release/bench/dcap_bench --benchmark_filter='BM_(Ecdsa|Verify)' \
//     --benchmark_repetitions=7 --benchmark_enable_random_interleaving=true
#include <benchmark/benchmark.h>
#include <openssl/evp.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <map>
#include <string>

#include "crypto/crl.h"
#include "crypto/ec.h"
#include "crypto/ecdsa.h"
#include "crypto/x509.h"
#include "dcap/collateral.h"
#include "dcap/quote.h"
#include "dcap/tcb_info.h"
#include "dcap/verifier.h"

namespace {

using kmra::dcap::Collateral;
using kmra::dcap::Verifier;

constexpr int64_t kAt = 1752919277;

const std::string& CaseDir() {
  static const std::string dir = std::string(KMRA_TEST_DATA) + "/dcap/dcap-qvl_sgx";
  return dir;
}

const std::vector<uint8_t>& QuoteBytes() {
  static const std::vector<uint8_t> q = [] {
    std::ifstream in(CaseDir() + "/quote.bin", std::ios::binary);
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
  }();
  return q;
}

const Collateral& TheCollateral() {
  static const Collateral c = *kmra::dcap::LoadCollateralDir(CaseDir());
  return c;
}

std::unique_ptr<Verifier> Make(bool cache) {
  kmra::dcap::VerifierOptions o;
  o.enable_cache = cache;
  return std::move(*Verifier::Create(o));
}

// One ECDSA P-256 / SHA-256 verification of the quote's own signature with a prepared key: the
// floor of any DCAP verifier that checks the quote signature.
void BM_EcdsaP256Verify(benchmark::State& state) {
  auto quote = *kmra::dcap::ParseQuote(QuoteBytes());
  auto key =
      *kmra::crypto::EcPublicKeyFromPoint(kmra::crypto::EcCurve::kP256, quote.attestation_key);
  for (auto _ : state) {
    bool ok = kmra::crypto::EcdsaVerifyRaw(key, kmra::crypto::HashAlg::kSha256, quote.signed_bytes,
                                           quote.signature)
                  .has_value();
    if (!ok) state.SkipWithError("signature did not verify");
    benchmark::DoNotOptimize(ok);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_VerifyCold(benchmark::State& state) {
  auto verifier = Make(false);
  for (auto _ : state) {
    auto r = verifier->Verify(QuoteBytes(), TheCollateral(), kAt);
    if (!r.verified) state.SkipWithError("quote did not verify");
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_VerifyWarm(benchmark::State& state) {
  auto verifier = Make(true);
  if (!verifier->Verify(QuoteBytes(), TheCollateral(), kAt).verified) {
    state.SkipWithError("quote did not verify");
  }
  for (auto _ : state) {
    auto r = verifier->Verify(QuoteBytes(), TheCollateral(), kAt);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}

// Warm verifications from 1 and 2 threads sharing one verifier (and its caches), as a key server's
// I/O threads do; items_per_second is the total over the threads (real time).
void BM_VerifyWarmShared(benchmark::State& state) {
  static Verifier* shared = Make(true).release();
  if (state.thread_index() == 0 && !shared->Verify(QuoteBytes(), TheCollateral(), kAt).verified) {
    state.SkipWithError("quote did not verify");
  }
  for (auto _ : state) {
    auto r = shared->Verify(QuoteBytes(), TheCollateral(), kAt);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}

// Parts of a cold verification, to see where its time goes.
void BM_PartParsePckChain(benchmark::State& state) {
  auto quote = *kmra::dcap::ParseQuote(QuoteBytes());
  for (auto _ : state) {
    auto chain = kmra::crypto::ParsePemChain(quote.cert_data.pck_chain_pem, "chain");
    benchmark::DoNotOptimize(chain);
  }
}
// One P-256 key object from a point, as each certificate's parse builds it.
void BM_PartEcKeyFromPoint(benchmark::State& state) {
  auto quote = *kmra::dcap::ParseQuote(QuoteBytes());
  for (auto _ : state) {
    auto key =
        kmra::crypto::EcPublicKeyFromPoint(kmra::crypto::EcCurve::kP256, quote.attestation_key);
    benchmark::DoNotOptimize(key);
  }
}
// Both CRLs of the collateral through d2i_X509_CRL (a CRL carries no public key to decode).
void BM_PartParseCrls(benchmark::State& state) {
  for (auto _ : state) {
    auto root = kmra::crypto::ParseCrl(TheCollateral().root_ca_crl_der, "root CRL");
    auto pck = kmra::crypto::ParseCrl(TheCollateral().pck_crl_der, "PCK CRL");
    benchmark::DoNotOptimize(root);
    benchmark::DoNotOptimize(pck);
  }
}
void BM_PartParseTcbInfo(benchmark::State& state) {
  for (auto _ : state) {
    auto info = kmra::dcap::ParseTcbInfo(TheCollateral().tcb_info_json);
    benchmark::DoNotOptimize(info);
  }
}
void BM_PartParseQuote(benchmark::State& state) {
  for (auto _ : state) {
    auto q = kmra::dcap::ParseQuote(QuoteBytes());
    benchmark::DoNotOptimize(q);
  }
}
BENCHMARK(BM_PartParsePckChain);
BENCHMARK(BM_PartEcKeyFromPoint);
BENCHMARK(BM_PartParseCrls);
BENCHMARK(BM_PartParseTcbInfo);
BENCHMARK(BM_PartParseQuote);

BENCHMARK(BM_EcdsaP256Verify);
BENCHMARK(BM_VerifyCold);
BENCHMARK(BM_VerifyWarm);
BENCHMARK(BM_VerifyWarmShared)->Threads(1)->Threads(2)->UseRealTime();

// Console output plus the ratios to the ECDSA floor.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const auto& run : runs) {
      auto it = run.counters.find("items_per_second");
      if (it == run.counters.end()) continue;
      // With --benchmark_repetitions the median is the figure (it comes after the repetitions).
      if (run.run_type == Run::RT_Aggregate) {
        if (run.aggregate_name == "median") rates_[run.run_name.str()] = it->second.value;
      } else {
        rates_[run.benchmark_name()] = it->second.value;
      }
    }
  }
  void Finalize() override {
    ConsoleReporter::Finalize();
    const double ecdsa = rates_["BM_EcdsaP256Verify"];
    const double cold = rates_["BM_VerifyCold"];
    const double warm = rates_["BM_VerifyWarm"];
    if (ecdsa <= 0 || cold <= 0 || warm <= 0) return;
    std::printf("\nECDSA P-256 verify: %.0f/s (%.1f us)\n", ecdsa, 1e6 / ecdsa);
    std::printf("cold verification:  %.0f/s (%.3f ms per quote; goal <= 0.8 ms) = %.3f x ECDSA\n",
                cold, 1e3 / cold, cold / ecdsa);
    std::printf("warm verification:  %.0f/s = %.3f x ECDSA (goal >= 0.9)\n", warm, warm / ecdsa);
    const double one = rates_["BM_VerifyWarmShared/real_time/threads:1"];
    const double two = rates_["BM_VerifyWarmShared/real_time/threads:2"];
    if (one > 0 && two > 0) {
      std::printf(
          "warm, shared verifier: 1 thread %.0f/s, 2 threads %.0f/s = %.2fx (goal >= 1.9)\n", one,
          two, two / one);
    }
  }

 private:
  std::map<std::string, double> rates_;
};

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
