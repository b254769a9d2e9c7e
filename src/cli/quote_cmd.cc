// `kmra quote dump` and `kmra quote verify`: inspect a DCAP quote and verify it against collateral.
//
// Exit status of verify: 0 verified and TCB status accepted, 3 verified but status not accepted,
// 2 not verified (TCBLevelNotSupported included), 1 usage or I/O error. dump: 0 parsed,
// 2 malformed or unsupported quote, 1 I/O error.
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/file.h"
#include "cli/commands.h"
#include "dcap/collateral.h"
#include "dcap/quote.h"
#include "dcap/quote_format.h"
#include "dcap/tcb_info.h"
#include "dcap/verifier.h"

namespace kmra::cli {
namespace {

bool ReadFile(const std::string& path, std::vector<uint8_t>* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  out->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return !in.bad();
}

struct DumpArgs {
  std::string quote;
  std::string format = "text";
};

int RunDump(const DumpArgs& args) {
  std::vector<uint8_t> bytes;
  if (!ReadFile(args.quote, &bytes)) {
    Errf("kmra quote dump: cannot read quote file %s\n", args.quote.c_str());
    return 1;
  }
  auto quote = dcap::ParseQuote(bytes);
  if (!quote) {
    Errf("kmra quote dump: %s: %s\n", args.quote.c_str(), quote.error().message().c_str());
    return 2;
  }
  if (args.format == "json") {
    std::string out = dcap::QuoteToJson(*quote).dump(2);
    Outf("%s\n", out.c_str());
  } else {
    Outf("%s", dcap::QuoteToText(*quote).c_str());
  }
  return 0;
}

struct VerifyArgs {
  std::string quote;
  std::string collateral;
  std::string root;
  std::string pck_chain;
  std::string at;
  std::string format = "text";
  std::string accept;
  int64_t clock_skew = 0;
};

// Default accepted statuses: every status but Revoked (TCBLevelNotSupported is never verified).
std::vector<std::string> DefaultAccepted() {
  return {"UpToDate",
          "SWHardeningNeeded",
          "ConfigurationNeeded",
          "ConfigurationAndSWHardeningNeeded",
          "OutOfDate",
          "OutOfDateConfigurationNeeded"};
}

int RunVerify(const VerifyArgs& args) {
  auto fail = [](const std::string& message) {
    Errf("kmra quote verify: %s\n", message.c_str());
    return 1;
  };
  std::vector<std::string> accepted = DefaultAccepted();
  if (!args.accept.empty()) {
    accepted.clear();
    size_t start = 0;
    while (start <= args.accept.size()) {
      size_t comma = args.accept.find(',', start);
      if (comma == std::string::npos) comma = args.accept.size();
      std::string status = args.accept.substr(start, comma - start);
      if (!dcap::ParseTcbStatus(status)) {
        return fail("--accept: unknown TCB status \"" + status +
                    "\" (expected UpToDate, SWHardeningNeeded, ConfigurationNeeded, "
                    "ConfigurationAndSWHardeningNeeded, OutOfDate, OutOfDateConfigurationNeeded, "
                    "Revoked or TCBLevelNotSupported)");
      }
      accepted.push_back(status);
      start = comma + 1;
    }
  }
  int64_t at = SystemClock::Get().NowUnix();
  if (!args.at.empty()) {
    auto t = ParseTime(args.at);
    if (!t) return fail("--at: " + t.error().message());
    at = *t;
  }
  auto quote = ReadFileBytes(args.quote);
  if (!quote) return fail("cannot read the quote: " + quote.error().message());
  auto collateral = dcap::LoadCollateralDir(args.collateral);
  if (!collateral) return fail(collateral.error().message());
  dcap::VerifierOptions options;
  options.enable_cache = false;  // one quote: nothing to reuse
  options.clock_skew_seconds = args.clock_skew;
  if (!args.root.empty()) {
    auto root = ReadFileText(args.root);
    if (!root) return fail("--root: " + root.error().message());
    options.trusted_root_pem = *root;
  } else {
    options.trusted_root_pem = collateral->trusted_root_pem;  // empty: compiled-in Intel root
  }
  std::string chain;
  if (!args.pck_chain.empty()) {
    auto text = ReadFileText(args.pck_chain);
    if (!text) return fail("--pck-chain: " + text.error().message());
    chain = *text;
  }
  auto verifier = dcap::Verifier::Create(options);
  if (!verifier) return fail("trusted root: " + verifier.error().message());
  dcap::VerificationReport report = (*verifier)->Verify(*quote, *collateral, at, chain);
  if (args.format == "json") {
    Outf("%s\n", report.ToJson().c_str());
  } else {
    Outf("%s", report.ToText().c_str());
  }
  if (!report.verified) return 2;
  for (const auto& s : accepted) {
    if (s == report.tcb_status) return 0;
  }
  if (args.format != "json") {
    Errf("kmra quote verify: verified, but TCB status %s is not accepted\n",
         report.tcb_status.c_str());
  }
  return 3;
}

}  // namespace

void RegisterQuoteCommands(CLI::App& app) {
  auto* quote = app.add_subcommand("quote", "Inspect and verify Intel SGX/TDX DCAP quotes");
  quote->require_subcommand(1);

  auto dump_args = std::make_shared<DumpArgs>();
  auto* dump = quote->add_subcommand("dump", "Print every field of a quote (v3/v4/v5, SGX or TDX)");
  dump->add_option("QUOTE", dump_args->quote, "Quote file (binary)")->required();
  dump->add_option("--format", dump_args->format, "Output format")
      ->check(CLI::IsMember({"text", "json"}));
  dump->callback([dump_args]() { SetExitCode(RunDump(*dump_args)); });

  auto va = std::make_shared<VerifyArgs>();
  auto* verify = quote->add_subcommand(
      "verify",
      "Verify a quote against collateral. Exit 0: verified and TCB status accepted; 3: verified, "
      "status not accepted; 2: not verified; 1: usage or I/O error");
  verify->add_option("QUOTE", va->quote, "Quote file (binary)")->required();
  verify
      ->add_option("--collateral", va->collateral,
                   "Directory with tcbInfo.json, qeIdentity.json, tcbSignChain.pem, "
                   "rootCaCrl.der|.pem, pckCrl.der|.pem[, trustedRootCaCert.pem]")
      ->required();
  verify->add_option("--root", va->root,
                     "Trusted root CA (PEM). Default: the collateral's trustedRootCaCert.pem, "
                     "else the compiled-in Intel SGX Root CA");
  verify->add_option("--pck-chain", va->pck_chain,
                     "PCK certificate chain (PEM), for quotes without one (cert data type 1-4)");
  verify->add_option("--at", va->at, "Verification time: unix seconds or RFC 3339 (default: now)");
  verify->add_option("--format", va->format, "Output format")
      ->check(CLI::IsMember({"text", "json"}));
  verify
      ->add_option("--clock-skew", va->clock_skew,
                   "Seconds an issueDate or thisUpdate may lie after the verification time "
                   "(default 0)")
      ->check(CLI::Range(int64_t{0}, int64_t{86400}));
  verify->add_option("--accept", va->accept,
                     "Accepted TCB statuses, comma separated (default: all but Revoked; "
                     "TCBLevelNotSupported is never verified)");
  verify->callback([va]() { SetExitCode(RunVerify(*va)); });
}

}  // namespace kmra::cli
