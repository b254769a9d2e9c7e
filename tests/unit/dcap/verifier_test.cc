// Every real case of the shared DCAP data at its stated time, the derived negative cases, the
// byte-flip sweep, and cached vs uncached equivalence.
#include "dcap/verifier.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <thread>

#include "case.h"
#include "dcap/intel_root.h"
#include "test_data.h"

namespace kmra::dcap {
namespace {

using testing::Case;
using testing::CaseDir;
using testing::Load;
using testing::ReadBytes;
using testing::ReadText;

constexpr int64_t kSgxTime = 1752919277;

std::unique_ptr<Verifier> MakeVerifier(const std::string& root_pem = "", bool cache = true) {
  VerifierOptions o;
  o.trusted_root_pem = root_pem;
  o.enable_cache = cache;
  auto v = Verifier::Create(o);
  EXPECT_TRUE(v) << v.error().message();
  return std::move(*v);
}

std::vector<std::string> FailedChecks(const VerificationReport& r) {
  std::vector<std::string> out;
  for (const auto& c : r.checks) {
    if (!c.ok) out.emplace_back(c.name);
  }
  return out;
}

std::vector<std::string> ErrorCodes(const VerificationReport& r) {
  std::vector<std::string> out;
  for (const auto& e : r.errors) out.push_back(e.code);
  return out;
}

TEST(VerifierTest, CompiledInRootIsIntelsByteForByte) {
  EXPECT_EQ(std::string(IntelSgxRootCaPem()), ReadText(CaseDir("IntelSGXRootCA.pem")));
}

TEST(VerifierTest, DcapQvlSgxConfigurationAndSwHardeningNeeded) {
  auto c = Load("dcap-qvl_sgx");
  auto r = MakeVerifier()->Verify(c.quote, c.collateral, kSgxTime);
  EXPECT_TRUE(r.verified) << r.ToText();
  EXPECT_EQ(r.tcb_status, "ConfigurationAndSWHardeningNeeded");
  EXPECT_EQ(r.advisory_ids, (std::vector<std::string>{"INTEL-SA-00289", "INTEL-SA-00615"}));
  EXPECT_EQ(r.qe_identity_status, "UpToDate");
  EXPECT_TRUE(r.errors.empty());
  EXPECT_EQ(r.tee, "SGX");
  EXPECT_EQ(r.fmspc, "00A067110000");
  EXPECT_EQ(r.pce_id, "0000");
  EXPECT_EQ(r.pck_ca, "processor");
  EXPECT_EQ(r.mrenclave, "33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb");
  EXPECT_FALSE(r.debug);
  // Window of case.json: 2025-06-19T10:56:11Z .. 2025-07-19T10:01:18Z.
  EXPECT_EQ(r.collateral_not_before, 1750330571);
  EXPECT_EQ(r.collateral_not_after, 1752919278);
  EXPECT_EQ(r.collateral_expires_first, "qe_identity");
}

TEST(VerifierTest, MobilecoinReportsTheExpiredPckCrlAndTheStatus) {
  auto c = Load("mobilecoin_sgx");
  auto r = MakeVerifier()->Verify(c.quote, c.collateral, 1689194905);
  EXPECT_FALSE(r.verified);
  EXPECT_EQ(r.tcb_status, "SWHardeningNeeded");
  EXPECT_EQ(r.advisory_ids, (std::vector<std::string>{"INTEL-SA-00334", "INTEL-SA-00615"}));
  EXPECT_EQ(r.qe_identity_status, "UpToDate");
  EXPECT_EQ(FailedChecks(r), std::vector<std::string>{"pck_crl.validity"});
  EXPECT_EQ(ErrorCodes(r), std::vector<std::string>{"crl.expired"});
}

TEST(VerifierTest, DcapQvlTdxUpToDateWithTrailingBytes) {
  auto c = Load("dcap-qvl_tdx");
  auto r = MakeVerifier()->Verify(c.quote, c.collateral, 1752919234);
  EXPECT_TRUE(r.verified) << r.ToText();
  EXPECT_EQ(r.tcb_status, "UpToDate");
  EXPECT_TRUE(r.advisory_ids.empty());
  EXPECT_EQ(r.tdx_module_status, "UpToDate");
  EXPECT_EQ(r.tee, "TDX");
  EXPECT_EQ(r.pck_ca, "platform");
  EXPECT_EQ(r.quote_trailing_bytes, 70u);
  ASSERT_TRUE(r.td);
  EXPECT_EQ(r.td->mr_td.substr(0, 8), "91eb2b44");
}

TEST(VerifierTest, OasisTdxMissingCrlsAndNoTcbLevel) {
  auto c = Load("oasis_tdx_out_of_date");
  auto r = MakeVerifier()->Verify(c.quote, c.collateral, 1687091776);
  EXPECT_FALSE(r.verified);
  EXPECT_EQ(r.tcb_status, "TCBLevelNotSupported");
  EXPECT_EQ(FailedChecks(r),
            (std::vector<std::string>{"root_ca_crl.present", "pck_crl.present", "tcb.level"}));
  EXPECT_EQ(ErrorCodes(r), (std::vector<std::string>{"collateral.missing", "collateral.missing",
                                                     "tcb.level_not_supported"}));
}

TEST(VerifierTest, IntelSampleTrustsItsOwnRootOnly) {
  auto c = Load("intel_qvl_sample_sgx");
  const std::string chain = ReadText(CaseDir("intel_qvl_sample_sgx") + "/pckChain.pem");
  auto own =
      MakeVerifier(c.collateral.trusted_root_pem)->Verify(c.quote, c.collateral, 1700000000, chain);
  EXPECT_TRUE(own.verified) << own.ToText();
  EXPECT_EQ(own.tcb_status, "UpToDate");
  auto production = MakeVerifier()->Verify(c.quote, c.collateral, 1700000000, chain);
  EXPECT_FALSE(production.verified);
  EXPECT_TRUE(production.HasError("pck_chain.untrusted"));
  // Without the separate chain, type-1 certification data cannot be verified.
  auto no_chain =
      MakeVerifier(c.collateral.trusted_root_pem)->Verify(c.quote, c.collateral, 1700000000);
  EXPECT_FALSE(no_chain.verified);
  EXPECT_TRUE(no_chain.HasError("collateral.missing"));
  EXPECT_NE(no_chain.errors[0].message.find("--pck-chain"), std::string::npos);
}

// Derived negative cases of the data README, on dcap-qvl_sgx at its time.
TEST(VerifierTest, FlippedReportBodyByteBreaksTheQuoteSignature) {
  auto c = Load("dcap-qvl_sgx");
  c.quote[112] ^= 0x01;
  auto r = MakeVerifier()->Verify(c.quote, c.collateral, kSgxTime);
  EXPECT_FALSE(r.verified);
  EXPECT_EQ(ErrorCodes(r), std::vector<std::string>{"quote.signature_invalid"});
}

TEST(VerifierTest, FlippedQeReportByteBreaksTheQeReportSignature) {
  auto c = Load("dcap-qvl_sgx");
  c.quote[564 + 100] ^= 0x01;
  auto r = MakeVerifier()->Verify(c.quote, c.collateral, kSgxTime);
  EXPECT_FALSE(r.verified);
  EXPECT_TRUE(r.HasError("qe_report.signature_invalid"));
  EXPECT_EQ(FailedChecks(r)[0], "qe_report.signature");
}

TEST(VerifierTest, TdxQeIdentityOnSgxQuoteIsAMismatch) {
  auto c = Load("dcap-qvl_sgx");
  c.collateral.qe_identity_json = ReadText(CaseDir("dcap-qvl_tdx") + "/qeIdentity.json");
  auto r = MakeVerifier()->Verify(c.quote, c.collateral, kSgxTime);
  EXPECT_FALSE(r.verified);
  EXPECT_TRUE(r.HasError("qe_identity.mismatch"));
}

TEST(VerifierTest, TcbInfoOfAnotherFmspcIsAMismatch) {
  auto c = Load("dcap-qvl_sgx");
  c.collateral.tcb_info_json = ReadText(CaseDir("mobilecoin_sgx") + "/tcbInfo.json");
  auto r = MakeVerifier()->Verify(c.quote, c.collateral, kSgxTime);
  EXPECT_FALSE(r.verified);
  EXPECT_TRUE(r.HasError("tcb_info.mismatch"));
  const CheckOutcome* fmspc = r.FindCheck("tcb_info.fmspc");
  ASSERT_NE(fmspc, nullptr);
  EXPECT_NE(fmspc->detail.find("00906ED50000"), std::string::npos) << fmspc->detail;
}

TEST(VerifierTest, OneSecondPastTcbInfoNextUpdateIsExpired) {
  auto c = Load("dcap-qvl_sgx");
  auto r = MakeVerifier()->Verify(c.quote, c.collateral, 1752922572);
  EXPECT_FALSE(r.verified);
  EXPECT_TRUE(r.HasError("tcb_info.expired"));
  // At nextUpdate itself it is still valid (QVL's check is inclusive).
  auto edge = MakeVerifier()->Verify(c.quote, c.collateral, 1752922571);
  EXPECT_FALSE(edge.HasError("tcb_info.expired"));
}

TEST(VerifierTest, BeforeTheCrlThisUpdateIsNotYetValid) {
  auto c = Load("dcap-qvl_sgx");
  // PCK CRL thisUpdate is 2025-06-19T10:23:18Z.
  auto r = MakeVerifier()->Verify(c.quote, c.collateral, 1750328598 - 1);
  EXPECT_FALSE(r.verified);
  EXPECT_TRUE(r.HasError("crl.not_yet_valid"));
}

TEST(VerifierTest, AlteredTcbInfoSignatureIsRefused) {
  auto c = Load("dcap-qvl_sgx");
  auto pos = c.collateral.tcb_info_json.find("\"tcbEvaluationDataNumber\":17");
  ASSERT_NE(pos, std::string::npos);
  c.collateral.tcb_info_json.replace(pos, 28, "\"tcbEvaluationDataNumber\":18");
  auto r = MakeVerifier()->Verify(c.quote, c.collateral, kSgxTime);
  EXPECT_FALSE(r.verified);
  EXPECT_EQ(ErrorCodes(r), std::vector<std::string>{"tcb_info.signature_invalid"});
}

TEST(VerifierTest, WhitespaceInsideTheSignedBodyBreaksTheSignature) {
  // The signature covers the raw bytes; a re-serialisation-tolerant verifier would accept this.
  auto c = Load("dcap-qvl_sgx");
  auto pos = c.collateral.qe_identity_json.find("\"version\":2");
  c.collateral.qe_identity_json.replace(pos, 11, "\"version\": 2");
  auto r = MakeVerifier()->Verify(c.quote, c.collateral, kSgxTime);
  EXPECT_TRUE(r.HasError("qe_identity.signature_invalid"));
  // Whitespace outside the signed value changes nothing.
  auto d = Load("dcap-qvl_sgx");
  d.collateral.qe_identity_json = "  \n" + d.collateral.qe_identity_json + "\n";
  EXPECT_TRUE(MakeVerifier()->Verify(d.quote, d.collateral, kSgxTime).verified);
}

TEST(VerifierTest, WrongPckCrlIssuerIsReported) {
  auto c = Load("dcap-qvl_sgx");
  c.collateral.pck_crl_der = ReadBytes(CaseDir("dcap-qvl_tdx") + "/pckCrl.der");  // Platform CA
  auto r = MakeVerifier()->Verify(c.quote, c.collateral, kSgxTime);
  EXPECT_FALSE(r.verified);
  EXPECT_TRUE(r.HasError("crl.issuer_mismatch"));
}

TEST(VerifierTest, GarbageQuoteIsMalformedNotACrash) {
  auto c = Load("dcap-qvl_sgx");
  std::vector<uint8_t> junk(100, 0x41);
  auto r = MakeVerifier()->Verify(junk, c.collateral, kSgxTime);
  EXPECT_FALSE(r.verified);
  EXPECT_EQ(ErrorCodes(r), std::vector<std::string>{"quote.unsupported"});
  std::vector<uint8_t> truncated(c.quote.begin(), c.quote.begin() + 700);
  r = MakeVerifier()->Verify(truncated, c.collateral, kSgxTime);
  EXPECT_EQ(ErrorCodes(r), std::vector<std::string>{"quote.malformed"});
}

TEST(VerifierTest, ByteFlipsOfSignedRegionsNeverVerify) {
  auto c = Load("dcap-qvl_sgx");
  auto verifier = MakeVerifier();
  ASSERT_TRUE(verifier->Verify(c.quote, c.collateral, kSgxTime).verified);
  // header+body [0,432), attestation key [500,564), QE report [564,948), auth data [1014,1046).
  const std::pair<size_t, size_t> regions[] = {{0, 432}, {500, 564}, {564, 948}, {1014, 1046}};
  size_t flips = 0;
  for (auto [begin, end] : regions) {
    for (size_t i = begin; i < end; ++i) {
      auto q = c.quote;
      q[i] ^= 0xff;
      auto r = verifier->Verify(q, c.collateral, kSgxTime);
      ASSERT_FALSE(r.verified) << "flipping byte " << i << " still verified";
      ASSERT_FALSE(r.errors.empty());
      ++flips;
    }
  }
  EXPECT_EQ(flips, 912u);
}

TEST(VerifierTest, CachedAndUncachedReportsAreIdentical) {
  auto cached = MakeVerifier("", true);
  auto uncached = MakeVerifier("", false);
  struct Run {
    const char* name;
    int64_t at;
  } runs[] = {{"dcap-qvl_sgx", kSgxTime},   {"dcap-qvl_sgx", 1752922572},
              {"dcap-qvl_sgx", 1700000000}, {"mobilecoin_sgx", 1689194905},
              {"dcap-qvl_tdx", 1752919234}, {"oasis_tdx_out_of_date", 1687091776},
              {"dcap-qvl_sgx", kSgxTime}};
  for (int round = 0; round < 2; ++round) {
    for (const auto& run : runs) {
      auto c = Load(run.name);
      EXPECT_EQ(cached->Verify(c.quote, c.collateral, run.at).ToJson(),
                uncached->Verify(c.quote, c.collateral, run.at).ToJson())
          << run.name << " at " << run.at;
      auto flipped = c.quote;
      flipped[600] ^= 1;
      EXPECT_EQ(cached->Verify(flipped, c.collateral, run.at).ToJson(),
                uncached->Verify(flipped, c.collateral, run.at).ToJson());
    }
  }
  auto stats = cached->Stats();
  EXPECT_GT(stats.hits, 0u);
  EXPECT_EQ(uncached->Stats().hits, 0u);
}

// The caches hash only samples of a long key (every 61st byte and the last 32) but compare every
// byte: a collateral or a PCK chain that differs from a cached one in any single byte is its own
// entry, never the cached one's verdict. 61 neighbouring positions cover bytes the hash skips.
TEST(VerifierTest, CacheTellsApartKeysThatDifferInOneByte) {
  auto c = Load("dcap-qvl_sgx");
  auto verifier = MakeVerifier();
  ASSERT_TRUE(verifier->Verify(c.quote, c.collateral, kSgxTime).verified);
  const size_t sig = c.collateral.tcb_info_json.find("\"signature\":\"");
  ASSERT_NE(sig, std::string::npos);
  for (size_t i = sig + 13; i < sig + 13 + 61; ++i) {
    auto altered = c.collateral;
    char& ch = altered.tcb_info_json[i];
    ch = ch == '0' ? '1' : '0';
    auto r = verifier->Verify(c.quote, altered, kSgxTime);
    ASSERT_FALSE(r.verified) << "TCB info byte " << i;
    EXPECT_EQ(ErrorCodes(r), std::vector<std::string>{"tcb_info.signature_invalid"});
  }
  const std::string chain = ParseQuote(c.quote)->cert_data.pck_chain_pem;
  const size_t body = chain.find('\n', chain.find("-----BEGIN CERTIFICATE-----")) + 200;
  for (size_t i = body; i < body + 61; ++i) {
    std::string altered = chain;
    if (altered[i] == '\n') continue;
    altered[i] = altered[i] == 'A' ? 'B' : 'A';
    auto r = verifier->Verify(c.quote, c.collateral, kSgxTime, altered);
    ASSERT_FALSE(r.verified) << "PCK chain byte " << i;
  }
  EXPECT_TRUE(verifier->Verify(c.quote, c.collateral, kSgxTime).verified);
}

TEST(VerifierTest, CacheIsBoundedAndThreadSafe) {
  VerifierOptions o;
  o.cache_entries = 2;
  auto v = Verifier::Create(o);
  ASSERT_TRUE(v);
  auto sgx = Load("dcap-qvl_sgx");
  auto tdx = Load("dcap-qvl_tdx");
  auto mob = Load("mobilecoin_sgx");
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t]() {
      for (int i = 0; i < 20; ++i) {
        switch ((i + t) % 3) {
          case 0:
            wrong += !(*v)->Verify(sgx.quote, sgx.collateral, kSgxTime).verified;
            break;
          case 1:
            wrong += !(*v)->Verify(tdx.quote, tdx.collateral, 1752919234).verified;
            break;
          default:
            wrong += (*v)->Verify(mob.quote, mob.collateral, 1689194905).verified;
            break;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_LE((*v)->Stats().entries, 6u);  // 3 caches x 2 entries
}

TEST(VerifierTest, InspectQuoteGivesWhatCollateralSelectionNeeds) {
  auto sgx = InspectQuote(ReadBytes(CaseDir("dcap-qvl_sgx") + "/quote.bin"));
  ASSERT_TRUE(sgx) << sgx.error().message();
  EXPECT_EQ(sgx->tee, "SGX");
  EXPECT_EQ(sgx->fmspc, "00A067110000");
  EXPECT_EQ(sgx->pce_id, "0000");
  EXPECT_EQ(sgx->pck_ca, "processor");
  auto tdx = InspectQuote(ReadBytes(CaseDir("dcap-qvl_tdx") + "/quote.bin"));
  ASSERT_TRUE(tdx);
  EXPECT_EQ(tdx->tee, "TDX");
  EXPECT_EQ(tdx->fmspc, "B0C06F000000");
  EXPECT_EQ(tdx->pck_ca, "platform");
  auto type1 = InspectQuote(ReadBytes(CaseDir("intel_qvl_sample_sgx") + "/quote.bin"));
  ASSERT_FALSE(type1);
  EXPECT_NE(type1.error().message().find("type 1"), std::string::npos);
}

TEST(VerifierTest, BadRootIsRefusedAtCreation) {
  VerifierOptions o;
  o.trusted_root_pem = "not a certificate";
  EXPECT_FALSE(Verifier::Create(o));
}

}  // namespace
}  // namespace kmra::dcap
