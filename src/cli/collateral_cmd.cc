// `kmra collateral fetch`: download the collateral of one platform kind from a PCS/PCCS into an
// offline bundle directory (the layout OfflineSource and `kmra quote verify --collateral` read).
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "base/file.h"
#include "cli/commands.h"
#include "collateral/pcs_client.h"

namespace kmra::cli {

namespace {

struct FetchArgs {
  std::vector<std::string> urls;
  int api_version = 4;
  std::string fmspc, tee = "SGX", pck_ca = "processor", out, ca_file;
  bool insecure = false;
  long timeout_ms = 10000;
};

Status RunFetch(const FetchArgs& a) {
  collateral::PcsOptions o;
  o.base_urls = a.urls;
  o.api_version = a.api_version;
  o.ca_file = a.ca_file;
  o.verify_tls = !a.insecure;
  o.timeout_ms = a.timeout_ms;
  KMRA_ASSIGN_OR_RETURN(auto client, collateral::PcsClient::Create(o));
  KMRA_ASSIGN_OR_RETURN(auto c, client->Get(a.fmspc, a.tee, a.pck_ca));
  const std::filesystem::path dir(a.out);
  KMRA_TRY(CreateDirectories(dir, 0755));
  KMRA_TRY(WriteFileAtomic(dir / "tcbInfo.json", c.tcb_info_json, 0644));
  KMRA_TRY(WriteFileAtomic(dir / "qeIdentity.json", c.qe_identity_json, 0644));
  KMRA_TRY(WriteFileAtomic(dir / "tcbSignChain.pem", c.tcb_signing_chain_pem, 0644));
  KMRA_TRY(WriteFileAtomic(dir / "rootCaCrl.der", c.root_ca_crl_der, 0644));
  KMRA_TRY(WriteFileAtomic(dir / "pckCrl.der", c.pck_crl_der, 0644));
  KMRA_TRY(WriteFileAtomic(dir / "pckCrlIssuerChain.pem", c.pck_crl_issuer_chain_pem, 0644));
  Outf("wrote collateral for %s %s (%s PCK CA) from %s to %s\n", a.tee.c_str(), a.fmspc.c_str(),
       a.pck_ca.c_str(), client->Describe().c_str(), a.out.c_str());
  return OkStatus();
}

}  // namespace

void RegisterCollateral(CLI::App& app) {
  CLI::App* group = nullptr;
  for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) {
    if (sub->get_name() == "collateral") group = sub;
  }
  if (group == nullptr) {
    group = app.add_subcommand("collateral", "Fetch and manage DCAP collateral");
    group->require_subcommand(1);
  }
  auto args = std::make_shared<FetchArgs>();
  auto* fetch = group->add_subcommand(
      "fetch", "Download one platform kind's collateral from a PCS/PCCS into a bundle directory");
  fetch
      ->add_option("--url", args->urls,
                   "PCS/PCCS base URL, e.g. https://pccs:8081 (repeatable, tried in order)")
      ->required();
  fetch->add_option("--api-version", args->api_version, "4, or 3 (SGX only)")
      ->capture_default_str();
  fetch->add_option("--fmspc", args->fmspc, "FMSPC, 12 hex digits (kmra quote dump shows it)")
      ->required();
  fetch->add_option("--tee", args->tee, "SGX or TDX")->capture_default_str();
  fetch->add_option("--pck-ca", args->pck_ca, "processor or platform")->capture_default_str();
  fetch->add_option("--out", args->out, "Bundle directory to write")->required();
  fetch->add_option("--ca-file", args->ca_file, "PEM bundle that signs the PCCS certificate");
  fetch->add_flag("--insecure", args->insecure,
                  "Do not verify the PCCS TLS certificate (lab only; collateral stays signed)");
  fetch->add_option("--timeout-ms", args->timeout_ms, "Per request")->capture_default_str();
  fetch->callback([args]() {
    Status s = RunFetch(*args);
    if (!s) Errf("error: %s\n", s.error().ToString().c_str());
    SetExitCode(s ? 0 : 1);
  });
}

}  // namespace kmra::cli
