// `kmra pki init|sign` and `kmra quote generate`: the simulated PKI and quotes from a platform.
#include <charconv>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/file.h"
#include "base/hex.h"
#include "cli/commands.h"
#include "enclave/factory.h"
#include "enclave/pki/pki_init.h"

namespace kmra::cli {

namespace {

namespace pki = ::kmra::enclave::pki;

int Report(const Status& s) {
  if (s) return 0;
  Errf("error: %s\n", s.error().ToString().c_str());
  return 1;
}

Result<int64_t> TimeOrNow(const std::string& text) {
  if (text.empty()) return SystemClock::Get().NowUnix();
  return ParseTime(text);
}

struct InitArgs {
  std::string dir;
  int platforms = 1;
  bool force = false;
  std::vector<std::string> sans;
  std::string client_id = pki::kDefaultClientId;
  std::vector<std::string> tcb;  // N=STATUS
  std::vector<int> revoke_pck;   // platform numbers
  bool expired_collateral = false;
  std::string time;
};

Status RunInit(const InitArgs& a) {
  if (a.platforms < 1 || a.platforms > 64) {
    return InvalidArgument("--platforms must be between 1 and 64");
  }
  pki::PkiInitOptions o;
  o.dir = a.dir;
  o.force = a.force;
  KMRA_ASSIGN_OR_RETURN(int64_t now, TimeOrNow(a.time));
  o.tls.now = now;
  o.tls.extra_sans = a.sans;
  o.tls.client_id = a.client_id;
  o.sgx.now = now;
  o.sgx.expired_collateral = a.expired_collateral;
  o.sgx.platforms.assign(static_cast<std::size_t>(a.platforms), pki::SimPlatformSpec{});
  for (const auto& t : a.tcb) {
    const auto eq = t.find('=');
    int n = 0;
    const char* n_end = t.data() + (eq == std::string::npos ? 0 : eq);
    if (eq == std::string::npos || std::from_chars(t.data(), n_end, n).ptr != n_end || n < 1 ||
        n > a.platforms) {
      return InvalidArgument("--tcb \"" + t +
                             "\" must be N=STATUS with N a platform number in 1.." +
                             std::to_string(a.platforms));
    }
    KMRA_ASSIGN_OR_RETURN(o.sgx.platforms[static_cast<std::size_t>(n - 1)].tcb,
                          pki::ParseTcbProfile(t.substr(eq + 1)));
  }
  for (int n : a.revoke_pck) {
    if (n < 1 || n > a.platforms) {
      return InvalidArgument("--revoke-pck " + std::to_string(n) +
                             " is not a platform number in 1.." + std::to_string(a.platforms));
    }
    o.sgx.platforms[static_cast<std::size_t>(n - 1)].revoked_pck = true;
  }
  KMRA_TRY(pki::PkiInit(o));
  Outf("wrote %s/tls, %s/sgx (platform-1..%d) and %s/collateral/%s\n", a.dir.c_str(), a.dir.c_str(),
       a.platforms, a.dir.c_str(), pki::kSimFmspc);
  return OkStatus();
}

struct SignArgs {
  std::string dir, csr, out, time;
  int days = 365;
};

Status RunSign(const SignArgs& a) {
  KMRA_ASSIGN_OR_RETURN(auto csr, ReadFileText(a.csr));
  KMRA_ASSIGN_OR_RETURN(int64_t now, TimeOrNow(a.time));
  auto cert = pki::SignCsr(a.dir, csr, a.days, now);
  if (!cert) return tl::unexpected(cert.error().WithContext(a.csr));
  if (a.out.empty()) {
    Outf("%s", cert->c_str());
    return OkStatus();
  }
  return WriteFileAtomic(a.out, *cert, 0644);
}

struct GenerateArgs {
  enclave::PlatformConfig config;
  std::string report_data;
  std::string out;
};

Status RunGenerate(const GenerateArgs& a) {
  KMRA_ASSIGN_OR_RETURN(auto data, HexDecode(a.report_data));
  if (data.size() > 64) {
    return InvalidArgument("--report-data is " + std::to_string(data.size()) +
                           " bytes; report data holds at most 64 (shorter is zero padded)");
  }
  std::array<std::uint8_t, 64> report_data{};
  std::copy(data.begin(), data.end(), report_data.begin());
  if (a.config.kind == "sim" && a.config.platform_dir.empty()) {
    return InvalidArgument("--platform-dir is required with --platform sim");
  }
  KMRA_ASSIGN_OR_RETURN(auto platform, enclave::OpenPlatform(a.config));
  KMRA_ASSIGN_OR_RETURN(auto quote, platform->Quote(report_data));
  KMRA_TRY(WriteFileAtomic(a.out, quote, 0644));
  const auto id = platform->Identity();
  Outf("wrote %zu-byte DCAP v3 quote to %s (mrenclave %s, mrsigner %s)\n", quote.size(),
       a.out.c_str(), HexEncode(id.mrenclave).c_str(), HexEncode(id.mrsigner).c_str());
  return OkStatus();
}

}  // namespace

void RegisterPki(CLI::App& app) {
  auto* pki_cmd = app.add_subcommand("pki", "Make the TLS PKI and the simulated SGX PKI");
  pki_cmd->require_subcommand(1);

  auto init_args = std::make_shared<InitArgs>();
  auto* init = pki_cmd->add_subcommand(
      "init", "Write DIR/tls, DIR/sgx (simulated SGX platforms) and DIR/collateral/<fmspc>");
  init->add_option("--dir", init_args->dir, "Directory to create (0700)")->required();
  init->add_option("--platforms", init_args->platforms, "Number of simulated platforms")
      ->capture_default_str();
  init->add_flag("--force", init_args->force, "Replace an existing PKI in DIR");
  init->add_option("--san", init_args->sans,
                   "Extra host name or IP for the server certificate (repeatable)");
  init->add_option("--client-id", init_args->client_id,
                   "Client identity: subject OU of DIR/tls/client.pem")
      ->capture_default_str();
  init->add_option("--tcb", init_args->tcb,
                   "N=STATUS: platform N matches the uptodate (default), swhardening, outofdate or "
                   "revoked TCB level (repeatable)");
  init->add_option("--revoke-pck", init_args->revoke_pck,
                   "Revoke platform N's PCK certificate in the PCK CRL (repeatable)");
  init->add_flag("--expired-collateral", init_args->expired_collateral,
                 "Write TCB info and QE identity whose nextUpdate has passed");
  init->add_option("--time", init_args->time,
                   "Issue time (unix seconds or RFC 3339) instead of now");
  init->callback([init_args]() { SetExitCode(Report(RunInit(*init_args))); });

  auto sign_args = std::make_shared<SignArgs>();
  auto* sign = pki_cmd->add_subcommand("sign", "Sign a PKCS#10 request with the DIR/tls CA");
  sign->add_option("--dir", sign_args->dir, "PKI directory made by `kmra pki init`")->required();
  sign->add_option("--csr", sign_args->csr, "PEM certificate request")->required();
  sign->add_option("--days", sign_args->days, "Validity in days")->capture_default_str();
  sign->add_option("--out", sign_args->out, "Certificate file (default: standard output)");
  sign->add_option("--time", sign_args->time, "Issue time instead of now");
  sign->callback([sign_args]() { SetExitCode(Report(RunSign(*sign_args))); });
}

void RegisterQuoteGenerate(CLI::App& app) {
  // The `quote` group may already exist (quote dump/verify); add `generate` to it.
  CLI::App* quote = nullptr;
  for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) {
    if (sub->get_name() == "quote") quote = sub;
  }
  if (quote == nullptr) {
    quote = app.add_subcommand("quote", "Generate, dump and verify DCAP quotes");
    quote->require_subcommand(1);
  }
  auto args = std::make_shared<GenerateArgs>();
  args->config.kind = "sim";
  auto* gen = quote->add_subcommand(
      "generate", "Write a DCAP quote over report data from a simulated or Gramine platform");
  gen->add_option("--platform", args->config.kind, "sim or gramine")->capture_default_str();
  gen->add_option("--platform-dir", args->config.platform_dir,
                  "Simulated platform directory, DIR/sgx/platform-<n>");
  gen->add_option("--attestation-dir", args->config.attestation_dir,
                  "Gramine attestation directory (default /dev/attestation)");
  gen->add_option("--report-data", args->report_data, "Up to 64 bytes as hex, zero padded")
      ->required();
  gen->add_option("--out", args->out, "Quote file")->required();
  gen->add_option("--mrenclave-of", args->config.mrenclave_of,
                  "MRENCLAVE = SHA-256 of this file (default: the kmra binary)");
  gen->add_option("--isv-prod-id", args->config.isv_prod_id, "ISVPRODID")->capture_default_str();
  gen->add_option("--isv-svn", args->config.isv_svn, "ISVSVN")->capture_default_str();
  gen->add_flag("--debug", args->config.debug, "Set the DEBUG attribute");
  gen->callback([args]() { SetExitCode(Report(RunGenerate(*args))); });
}

}  // namespace kmra::cli
