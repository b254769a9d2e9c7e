// `kmra quote dump` and `kmra quote verify`: inspect a DCAP quote and verify it against collateral.
//
// Exit status of verify: 0 verified and TCB status accepted, 3 verified but status not accepted,
// 2 not verified, 1 usage or I/O error. dump: 0 parsed, 2 malformed or unsupported quote, 1 I/O error.
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "dcap/quote.h"
#include "dcap/quote_format.h"

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
    std::fprintf(stderr, "kmra quote dump: cannot read quote file %s\n", args.quote.c_str());
    return 1;
  }
  auto quote = dcap::ParseQuote(bytes);
  if (!quote) {
    std::fprintf(stderr, "kmra quote dump: %s: %s\n", args.quote.c_str(),
                 quote.error().message().c_str());
    return 2;
  }
  if (args.format == "json") {
    std::string out = dcap::QuoteToJson(*quote).dump(2);
    std::printf("%s\n", out.c_str());
  } else {
    std::fputs(dcap::QuoteToText(*quote).c_str(), stdout);
  }
  return 0;
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
}

}  // namespace kmra::cli
