// The stricter checks of the verifier, on the real cases wherever one shows them: documents not yet
// valid, no TCB level met, another issue of the root, signatures not checked, Intel's CRL profile,
// DER length encodings and chains given root first. Each test also shows the legitimate input
// passes.
#include <gtest/gtest.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <algorithm>

#include "base/base64.h"
#include "case.h"
#include "crypto/der.h"
#include "crypto/ossl.h"
#include "dcap/quote.h"
#include "dcap/verifier.h"
#include "test_data.h"

namespace kmra::dcap {
namespace {

using namespace kmra::dcap::testing;  // Case, Load, CaseDir, ReadBytes, ReadText

constexpr int64_t kSgxTime = 1752919277;
constexpr int64_t kTcbInfoIssued = 1750330571;     // dcap-qvl_sgx: 2025-06-19T10:56:11Z
constexpr int64_t kQeIdentityIssued = 1750327278;  // dcap-qvl_sgx: 2025-06-19T10:01:18Z

VerificationReport Verify(const Case& c, int64_t at, const std::string& root_pem = "",
                          int64_t skew = 0, const std::string& chain = "") {
  VerifierOptions o;
  o.trusted_root_pem = root_pem;
  o.clock_skew_seconds = skew;
  auto v = Verifier::Create(o);
  EXPECT_TRUE(v) << v.error().message();
  return (*v)->Verify(c.quote, c.collateral, at, chain);
}

std::vector<std::string> ErrorCodes(const VerificationReport& r) {
  std::vector<std::string> out;
  for (const auto& e : r.errors) out.push_back(e.code);
  return out;
}

std::string Detail(const VerificationReport& r, std::string_view check) {
  const CheckOutcome* c = r.FindCheck(check);
  return c == nullptr ? "(no check " + std::string(check) + ")" : c->detail;
}

bool Has(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

// The PEM blocks of a chain in reverse order.
std::string Reversed(const std::string& pem) {
  static constexpr std::string_view kBegin = "-----BEGIN CERTIFICATE-----";
  static constexpr std::string_view kEnd = "-----END CERTIFICATE-----";
  std::vector<std::string> blocks;
  for (size_t b = pem.find(kBegin); b != std::string::npos; b = pem.find(kBegin, b + 1)) {
    const size_t e = pem.find(kEnd, b);
    blocks.push_back(pem.substr(b, e + kEnd.size() - b) + "\n");
  }
  std::string out;
  for (auto it = blocks.rbegin(); it != blocks.rend(); ++it) out += *it;
  return out;
}

// The chain with the last byte of the first certificate's DER (the low byte of its signature's s)
// flipped: it still parses, but its signature no longer verifies.
std::string FirstSignatureAltered(const std::string& pem) {
  static constexpr std::string_view kBegin = "-----BEGIN CERTIFICATE-----\n";
  static constexpr std::string_view kEnd = "-----END CERTIFICATE-----";
  const size_t b = pem.find(kBegin) + kBegin.size();
  const size_t e = pem.find(kEnd, b);
  std::string b64;
  for (char ch : pem.substr(b, e - b)) {
    if (ch != '\n' && ch != '\r') b64 += ch;
  }
  auto der = *Base64Decode(b64);
  der.back() ^= 0x01;
  return pem.substr(0, b) + Base64Encode(der) + "\n" + pem.substr(e);
}

TEST(VerifierStrictTest, AlteredCertificateSignaturesAreRefused) {
  auto c = Load("dcap-qvl_sgx");
  const std::string chain = ParseQuote(c.quote)->cert_data.pck_chain_pem;
  auto pck = Verify(c, kSgxTime, "", 0, FirstSignatureAltered(chain));
  EXPECT_FALSE(pck.verified);
  EXPECT_EQ(ErrorCodes(pck), std::vector<std::string>{"pck_chain.untrusted"});
  EXPECT_EQ(Detail(pck, "pck_chain.signatures"),
            "the signature of \"Intel SGX PCK Certificate\" does not verify with the key of "
            "\"Intel SGX PCK Processor CA\"");
  auto tcb = c;
  tcb.collateral.tcb_signing_chain_pem = FirstSignatureAltered(c.collateral.tcb_signing_chain_pem);
  auto signing = Verify(tcb, kSgxTime);
  EXPECT_FALSE(signing.verified);
  EXPECT_TRUE(Has(Detail(signing, "tcb_signing_chain.signatures"),
                  "the signature of \"Intel SGX TCB Signing\" does not verify with the key of "
                  "\"Intel SGX Root CA\""))
      << signing.ToText();
  // The same chains unaltered verify.
  EXPECT_TRUE(Verify(c, kSgxTime, "", 0, chain).verified);
}

TEST(VerifierStrictTest, TcbInfoIssuedAfterTheVerificationTimeIsNotYetValid) {
  auto c = Load("dcap-qvl_sgx");
  // One second before the TCB info's issueDate every CRL and the QE identity are valid already.
  auto early = Verify(c, kTcbInfoIssued - 1);
  EXPECT_FALSE(early.verified);
  EXPECT_EQ(ErrorCodes(early), std::vector<std::string>{"tcb_info.not_yet_valid"});
  EXPECT_TRUE(Has(Detail(early, "tcb_info.validity"),
                  "the TCB info is not valid before "
                  "2025-06-19T10:56:11Z (issueDate)"))
      << Detail(early, "tcb_info.validity");
  auto issued = Verify(c, kTcbInfoIssued);
  EXPECT_TRUE(issued.verified) << issued.ToText();
  // A configured clock skew allows that much, and no more.
  EXPECT_TRUE(Verify(c, kTcbInfoIssued - 60, "", 60).verified);
  auto beyond = Verify(c, kTcbInfoIssued - 61, "", 60);
  EXPECT_EQ(ErrorCodes(beyond), std::vector<std::string>{"tcb_info.not_yet_valid"});
  EXPECT_TRUE(Has(Detail(beyond, "tcb_info.validity"), "clock skew allowance 60 s"));
}

TEST(VerifierStrictTest, QeIdentityIssuedAfterTheVerificationTimeIsNotYetValid) {
  auto c = Load("dcap-qvl_sgx");
  auto early = Verify(c, kQeIdentityIssued - 1);
  EXPECT_FALSE(early.verified);
  EXPECT_TRUE(early.HasError("qe_identity.not_yet_valid")) << early.ToText();
  EXPECT_TRUE(early.HasError("tcb_info.not_yet_valid"));
  EXPECT_TRUE(early.HasError("crl.not_yet_valid"));  // the PCK CRL too
  EXPECT_TRUE(Has(Detail(early, "qe_identity.validity"),
                  "the QE identity is not valid before "
                  "2025-06-19T10:01:18Z (issueDate)"));
  EXPECT_FALSE(Verify(c, kQeIdentityIssued).HasError("qe_identity.not_yet_valid"));
  EXPECT_TRUE(Verify(c, kSgxTime).verified);
}

TEST(VerifierStrictTest, NoTcbLevelMetIsNotVerified) {
  auto c = Load("oasis_tdx_out_of_date");
  auto r = Verify(c, 1687091776);
  EXPECT_FALSE(r.verified);
  EXPECT_EQ(r.tcb_status, "TCBLevelNotSupported");
  EXPECT_TRUE(r.HasError("tcb.level_not_supported"));
  const CheckOutcome* level = r.FindCheck("tcb.level");
  ASSERT_NE(level, nullptr);
  EXPECT_FALSE(level->ok);
  // A level met leaves `verified` to the other checks.
  auto good = Verify(Load("dcap-qvl_tdx"), 1752919234);
  EXPECT_TRUE(good.verified);
  EXPECT_TRUE(good.FindCheck("tcb.level")->ok);
}

TEST(VerifierStrictTest, AnotherRootSaysWhatDiffers) {
  // Intel's test PKI reuses the name "Intel SGX Root CA" with another key.
  auto c = Load("intel_qvl_sample_sgx");
  const std::string chain = ReadText(CaseDir("intel_qvl_sample_sgx") + "/pckChain.pem");
  auto r = Verify(c, 1700000000, "", 0, chain);
  EXPECT_FALSE(r.verified);
  const std::string d = Detail(r, "pck_chain.trusted_root");
  // Intel's production root, by the fingerprint of tests/data/dcap/README.md.
  EXPECT_TRUE(Has(d,
                  "SHA-256 44:A0:19:6B:2B:99:F8:89:B8:E1:49:E9:5B:80:7A:35:0E:74:24:96:43:99:E8:"
                  "85:A7:CB:B8:CC:FA:B6:74:D3"))
      << d;
  EXPECT_EQ(std::count(d.begin(), d.end(), '('), 2) << d;  // both described
  EXPECT_TRUE(Has(d, "valid 2018-05-21T10:45:10Z .. 2049-12-31T23:59:59Z")) << d;
  EXPECT_TRUE(Has(d, "their public keys differ")) << d;
  EXPECT_TRUE(Verify(c, 1700000000, c.collateral.trusted_root_pem, 0, chain).verified);
}

TEST(VerifierStrictTest, SignaturesBehindAnUntrustedChainAreUncheckedNotInvalid) {
  auto c = Load("intel_qvl_sample_sgx");
  const std::string chain = ReadText(CaseDir("intel_qvl_sample_sgx") + "/pckChain.pem");
  auto r = Verify(c, 1700000000, "", 0, chain);
  EXPECT_TRUE(r.HasError("tcb_info.signature_unchecked")) << r.ToText();
  EXPECT_TRUE(r.HasError("qe_identity.signature_unchecked"));
  EXPECT_FALSE(r.HasError("tcb_info.signature_invalid"));
  EXPECT_FALSE(r.HasError("qe_identity.signature_invalid"));
  EXPECT_TRUE(Has(Detail(r, "tcb_info.signature"),
                  "not checked: the TCB signing chain does not end in the trusted root"))
      << Detail(r, "tcb_info.signature");
  // A signature that is checked and bad keeps its own code.
  auto altered = Load("dcap-qvl_sgx");
  auto pos = altered.collateral.tcb_info_json.find("\"tcbEvaluationDataNumber\":17");
  ASSERT_NE(pos, std::string::npos);
  altered.collateral.tcb_info_json.replace(pos, 28, "\"tcbEvaluationDataNumber\":18");
  EXPECT_EQ(ErrorCodes(Verify(altered, kSgxTime)),
            std::vector<std::string>{"tcb_info.signature_invalid"});
  EXPECT_TRUE(Verify(c, 1700000000, c.collateral.trusted_root_pem, 0, chain).verified);
}

// The real CRL without one extension, re-encoded (its signature no longer verifies either).
std::vector<uint8_t> WithoutExtension(const std::vector<uint8_t>& der, int nid) {
  const unsigned char* p = der.data();
  ossl::Ptr<X509_CRL> crl(d2i_X509_CRL(nullptr, &p, static_cast<long>(der.size())));
  EXPECT_TRUE(crl);
  const int idx = X509_CRL_get_ext_by_NID(crl.get(), nid, -1);
  EXPECT_GE(idx, 0);
  X509_EXTENSION_free(X509_CRL_delete_ext(crl.get(), idx));
  ossl::Ptr<EVP_PKEY> key(EVP_EC_gen("P-256"));
  EXPECT_GT(X509_CRL_sign(crl.get(), key.get(), EVP_sha256()), 0);
  unsigned char* out = nullptr;
  const int len = i2d_X509_CRL(crl.get(), &out);
  std::vector<uint8_t> v(out, out + len);
  OPENSSL_free(out);
  return v;
}

TEST(VerifierStrictTest, CrlsNeedTheCrlNumberAndAuthorityKeyIdentifier) {
  // Every real CRL of the cases carries both.
  for (const char* name : {"dcap-qvl_sgx", "dcap-qvl_tdx", "mobilecoin_sgx"}) {
    auto c = Load(name);
    auto r = Verify(c, kSgxTime);
    for (const char* check : {"root_ca_crl.extensions", "pck_crl.extensions"}) {
      const CheckOutcome* o = r.FindCheck(check);
      ASSERT_NE(o, nullptr) << name << " " << check;
      EXPECT_TRUE(o->ok) << name << " " << o->detail;
    }
  }
  auto c = Load("dcap-qvl_sgx");
  c.collateral.pck_crl_der =
      WithoutExtension(c.collateral.pck_crl_der, NID_authority_key_identifier);
  auto r = Verify(c, kSgxTime);
  EXPECT_FALSE(r.verified);
  EXPECT_TRUE(r.HasError("crl.profile_invalid"));
  EXPECT_TRUE(Has(Detail(r, "pck_crl.extensions"), "has no Authority Key Identifier extension"))
      << Detail(r, "pck_crl.extensions");
  auto d = Load("dcap-qvl_sgx");
  d.collateral.root_ca_crl_der = WithoutExtension(d.collateral.root_ca_crl_der, NID_crl_number);
  auto s = Verify(d, kSgxTime);
  EXPECT_TRUE(s.HasError("crl.profile_invalid"));
  EXPECT_TRUE(Has(Detail(s, "root_ca_crl.extensions"), "has no CRL Number extension"));
  EXPECT_TRUE(Verify(Load("dcap-qvl_sgx"), kSgxTime).verified);
}

TEST(VerifierStrictTest, DerLengthsMustBeMinimal) {
  using crypto::der::ReadTlv;
  using crypto::der::Tlv;
  auto read = [](std::vector<uint8_t> bytes) {
    std::span<const uint8_t> in(bytes);
    Tlv t;
    return ReadTlv(in, &t) ? static_cast<long>(t.value.size()) : -1L;
  };
  EXPECT_EQ(read({0x04, 0x02, 0xaa, 0xbb}), 2);
  EXPECT_EQ(read({0x04, 0x81, 0x02, 0xaa, 0xbb}), -1);  // 2 fits the short form
  std::vector<uint8_t> long_ok{0x04, 0x81, 0x80};
  long_ok.resize(3 + 0x80);
  EXPECT_EQ(read(long_ok), 0x80);
  std::vector<uint8_t> zero_lead{0x04, 0x82, 0x00, 0x80};
  zero_lead.resize(4 + 0x80);
  EXPECT_EQ(read(zero_lead), -1);  // a leading zero length byte
  std::vector<uint8_t> two_bytes{0x04, 0x82, 0x00, 0xff};
  two_bytes.resize(4 + 0xff);
  EXPECT_EQ(read(two_bytes), -1);  // 255 fits one length byte
  // The real PCK certificates' SGX extensions are minimal DER.
  EXPECT_TRUE(InspectQuote(ReadBytes(CaseDir("dcap-qvl_sgx") + "/quote.bin")));
  EXPECT_TRUE(InspectQuote(ReadBytes(CaseDir("dcap-qvl_tdx") + "/quote.bin")));
}

TEST(VerifierStrictTest, ChainsGivenRootFirstAreRefusedWithTheOrderToUse) {
  auto c = Load("intel_qvl_sample_sgx");
  const std::string chain = ReadText(CaseDir("intel_qvl_sample_sgx") + "/pckChain.pem");
  const std::string root = c.collateral.trusted_root_pem;
  auto r = Verify(c, 1700000000, root, 0, Reversed(chain));
  EXPECT_FALSE(r.verified);
  EXPECT_EQ(ErrorCodes(r), std::vector<std::string>{"pck_chain.untrusted"});
  EXPECT_TRUE(Has(Detail(r, "pck_chain.parse"), "is given root first")) << r.ToText();
  EXPECT_TRUE(Has(Detail(r, "pck_chain.parse"), "give it leaf first"));
  auto inspect = InspectQuote(c.quote, Reversed(chain));
  ASSERT_FALSE(inspect);
  EXPECT_TRUE(Has(inspect.error().message(), "leaf first")) << inspect.error().message();
  // The TCB signing chain likewise.
  auto t = Load("dcap-qvl_sgx");
  t.collateral.tcb_signing_chain_pem = Reversed(t.collateral.tcb_signing_chain_pem);
  auto tr = Verify(t, kSgxTime);
  EXPECT_TRUE(tr.HasError("tcb_signing.untrusted"));
  EXPECT_TRUE(
      Has(Detail(tr, "tcb_signing_chain.parse"), "the TCB signing chain is given root first"));
  // Leaf first, both verify.
  EXPECT_TRUE(Verify(c, 1700000000, root, 0, chain).verified);
  EXPECT_TRUE(InspectQuote(c.quote, chain));
  EXPECT_TRUE(Verify(Load("dcap-qvl_sgx"), kSgxTime).verified);
}

TEST(VerifierStrictTest, UnevaluatedStatusesAreJsonNull) {
  auto c = Load("dcap-qvl_sgx");
  std::vector<uint8_t> junk(100, 0x41);
  auto j = Verify({c.collateral, junk}, kSgxTime).ToJsonValue();
  EXPECT_TRUE(j["tcb_status"].is_null()) << j.dump();
  EXPECT_TRUE(j["qe_identity_status"].is_null());
  auto ok = Verify(c, kSgxTime).ToJsonValue();
  EXPECT_EQ(ok["tcb_status"], "ConfigurationAndSWHardeningNeeded");
  EXPECT_EQ(ok["qe_identity_status"], "UpToDate");
}

}  // namespace
}  // namespace kmra::dcap
