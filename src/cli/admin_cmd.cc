// `kmra keys ...` and `kmra policy ...`: the admin API of a running `kmra server`, over mutual TLS
// with the admin certificate.
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/file.h"
#include "cli/admin_client.h"
#include "cli/commands.h"
#include "server/service.h"

namespace kmra::cli {
namespace {

using Json = nlohmann::json;

struct Endpoint {
  std::string server;
  std::string dir;
  AdminEndpoint e;
};

void AddEndpointOptions(CLI::App* cmd, Endpoint* ep) {
  cmd->add_option("--server", ep->server, "Key server URL, https://HOST:PORT")
      ->envname("KMRA_SERVER");
  cmd->add_option("--ca", ep->e.ca_file, "CA certificate of the server (PEM)")->envname("KMRA_CA");
  cmd->add_option("--cert", ep->e.cert_file, "Admin client certificate (PEM)")
      ->envname("KMRA_ADMIN_CERT");
  cmd->add_option("--key", ep->e.key_file, "Admin client key (PEM)")->envname("KMRA_ADMIN_KEY");
  cmd->add_option(
         "--dir", ep->dir,
         "Directory of `kmra server --dev`: takes the URL, CA and admin certificate from it")
      ->envname("KMRA_DEV_DIR");
}

Result<AdminEndpoint> Resolve(const Endpoint& ep) {
  AdminEndpoint out = ep.e;
  out.url = ep.server;
  if (!ep.dir.empty()) {
    if (out.url.empty()) {
      auto port = ReadFileText(ep.dir + "/server.port", 64);
      if (!port) {
        return FailedPrecondition("no " + ep.dir + "/server.port: is `kmra server --dev --dir " +
                                  ep.dir + "` running?");
      }
      std::string p = *port;
      while (!p.empty() && (p.back() == '\n' || p.back() == ' ')) p.pop_back();
      out.url = "https://127.0.0.1:" + p;
    }
    if (out.ca_file.empty()) out.ca_file = ep.dir + "/tls/ca.pem";
    if (out.cert_file.empty()) out.cert_file = ep.dir + "/tls/admin.pem";
    if (out.key_file.empty()) out.key_file = ep.dir + "/tls/admin.key";
  }
  while (!out.url.empty() && out.url.back() == '/') out.url.pop_back();
  return out;
}

// Sends the request, prints the JSON answer; returns the exit status.
int Call(const Endpoint& ep, const std::string& method, const std::string& path,
         const std::string& body = {}) {
  auto endpoint = Resolve(ep);
  if (!endpoint) {
    Errf("error: %s\n", endpoint.error().message().c_str());
    return 2;
  }
  auto reply = AdminRequest(*endpoint, method, path, body);
  if (!reply) {
    Errf("error: %s\n", reply.error().message().c_str());
    return 2;
  }
  Json j = Json::parse(reply->body, nullptr, false);
  if (reply->status >= 400) {
    if (!j.is_discarded() && j.contains("error")) {
      Errf("error %ld %s: %s\n", reply->status, j["error"].value("code", "").c_str(),
           j["error"].value("message", "").c_str());
      if (j["error"].contains("details") && !j["error"]["details"].empty()) {
        Errf("%s\n", j["error"]["details"].dump(2).c_str());
      }
    } else {
      Errf("error %ld: %s\n", reply->status, reply->body.c_str());
    }
    return 1;
  }
  if (reply->body.empty()) return 0;
  Outf("%s\n", j.is_discarded() ? reply->body.c_str()
                                : j.dump(2, ' ', false, Json::error_handler_t::replace).c_str());
  return 0;
}

Result<std::string> ReadText(const std::string& path) { return ReadFileText(path, 1 << 20); }

int Fail(const Error& e) {
  Errf("error: %s\n", e.ToString().c_str());
  return 2;
}

struct KeyArgs {
  Endpoint ep;
  std::string id, type = "rsa-3072", import, cert, policy, description, subject, out;
  bool allow_any_enclave = false;
  std::vector<std::string> dns, ips;
};

void RegisterKeys(CLI::App& app) {
  auto* keys = app.add_subcommand("keys", "Manage the keys of a key server (admin API)");
  keys->require_subcommand(1);
  auto args = std::make_shared<KeyArgs>();

  auto* list = keys->add_subcommand("list", "List keys");
  AddEndpointOptions(list, &args->ep);
  list->callback([args] { SetExitCode(Call(args->ep, "GET", "/v1/keys")); });

  auto* show = keys->add_subcommand("show", "Show a key with its versions and policy");
  AddEndpointOptions(show, &args->ep);
  show->add_option("id", args->id, "Key id")->required();
  show->callback(
      [args] { SetExitCode(Call(args->ep, "GET", "/v1/keys/" + server::UrlEncode(args->id))); });

  auto* create = keys->add_subcommand("create", "Generate a key in the HSM, or import a PEM key");
  AddEndpointOptions(create, &args->ep);
  create->add_option("id", args->id, "Key id (KMRA h_unique_id)")->required();
  create->add_option("--type", args->type, "rsa-2048|rsa-3072|rsa-4096|ec-p256|ec-p384");
  create->add_option("--import", args->import, "PEM private key file to import instead");
  create->add_option("--certificate", args->cert, "PEM certificate chain of the key");
  create->add_option("--policy", args->policy,
                     "Release policy JSON file naming the enclave (mrenclave/mrsigner)");
  create->add_flag("--allow-any-enclave", args->allow_any_enclave,
                   "Instead of --policy: release to any enclave that passes the other checks "
                   "(logged at warn on every release)");
  create->add_option("--description", args->description, "Free text");
  create->callback([args] {
    Json body{{"id", args->id}, {"type", args->type}, {"description", args->description}};
    if (!args->import.empty()) {
      auto pem = ReadText(args->import);
      if (!pem) return SetExitCode(Fail(pem.error()));
      body["private_key_pem"] = *pem;
    }
    if (!args->cert.empty()) {
      auto pem = ReadText(args->cert);
      if (!pem) return SetExitCode(Fail(pem.error()));
      body["certificate_pem"] = *pem;
    }
    if (args->policy.empty() == !args->allow_any_enclave) {
      return SetExitCode(Fail(Error(
          Code::kInvalidArgument,
          "a key needs a release policy: pass --policy FILE naming the enclave, e.g. "
          "{\"mrenclave\":[\"<64 hex>\"],\"mrsigner\":[\"<64 hex>\"]}, or --allow-any-enclave "
          "(not both)")));
    }
    if (args->allow_any_enclave) body["policy"] = Json{{"allow_any_enclave", true}};
    if (!args->policy.empty()) {
      auto text = ReadText(args->policy);
      if (!text) return SetExitCode(Fail(text.error()));
      Json policy = Json::parse(*text, nullptr, false);
      if (policy.is_discarded()) {
        return SetExitCode(Fail(Error(Code::kInvalidArgument, args->policy + " is not JSON")));
      }
      body["policy"] = policy;
    }
    SetExitCode(Call(args->ep, "POST", "/v1/keys", body.dump()));
  });

  auto* del =
      keys->add_subcommand("delete", "Delete a key (every version) from the HSM and registry");
  AddEndpointOptions(del, &args->ep);
  del->add_option("id", args->id, "Key id")->required();
  del->callback(
      [args] { SetExitCode(Call(args->ep, "DELETE", "/v1/keys/" + server::UrlEncode(args->id))); });

  auto* rotate = keys->add_subcommand("rotate", "Make a new version; releases serve the newest");
  AddEndpointOptions(rotate, &args->ep);
  rotate->add_option("id", args->id, "Key id")->required();
  rotate->add_option("--import", args->import, "PEM private key file for the new version");
  rotate->add_option("--certificate", args->cert, "PEM certificate chain of the new version");
  rotate->callback([args] {
    Json body = Json::object();
    for (auto [file, field] :
         {std::pair{args->import, "private_key_pem"}, std::pair{args->cert, "certificate_pem"}}) {
      if (file.empty()) continue;
      auto pem = ReadText(file);
      if (!pem) return SetExitCode(Fail(pem.error()));
      body[field] = *pem;
    }
    SetExitCode(
        Call(args->ep, "POST", "/v1/keys/" + server::UrlEncode(args->id) + "/rotate", body.dump()));
  });

  auto* csr = keys->add_subcommand("csr", "PKCS#10 request signed inside the HSM by the key");
  AddEndpointOptions(csr, &args->ep);
  csr->add_option("id", args->id, "Key id")->required();
  csr->add_option("--subject", args->subject, "Subject, e.g. CN=www.example.com,O=Example")
      ->required();
  csr->add_option("--dns", args->dns, "subjectAltName DNS name (repeatable)");
  csr->add_option("--ip", args->ips, "subjectAltName IP address (repeatable)");
  csr->callback([args] {
    Json body{{"subject", args->subject}, {"dns_names", args->dns}, {"ip_addresses", args->ips}};
    SetExitCode(
        Call(args->ep, "POST", "/v1/keys/" + server::UrlEncode(args->id) + "/csr", body.dump()));
  });

  auto* setcert = keys->add_subcommand("set-certificate",
                                       "Attach the CA-signed chain (checked against the key)");
  AddEndpointOptions(setcert, &args->ep);
  setcert->add_option("id", args->id, "Key id")->required();
  setcert->add_option("certificate", args->cert, "PEM certificate chain, leaf first")->required();
  setcert->callback([args] {
    auto pem = ReadText(args->cert);
    if (!pem) return SetExitCode(Fail(pem.error()));
    SetExitCode(Call(args->ep, "PUT", "/v1/keys/" + server::UrlEncode(args->id) + "/certificate",
                     Json{{"certificate_pem", *pem}}.dump()));
  });
}

void RegisterPolicy(CLI::App& app) {
  auto* policy = app.add_subcommand("policy", "Show or set the release policy of a key");
  policy->require_subcommand(1);
  auto args = std::make_shared<KeyArgs>();
  auto* get = policy->add_subcommand("get", "Show the policy that applies to a key");
  AddEndpointOptions(get, &args->ep);
  get->add_option("id", args->id, "Key id")->required();
  get->callback([args] {
    SetExitCode(Call(args->ep, "GET", "/v1/keys/" + server::UrlEncode(args->id) + "/policy"));
  });
  auto* set = policy->add_subcommand("set", "Replace a key's policy (takes effect at once)");
  AddEndpointOptions(set, &args->ep);
  set->add_option("id", args->id, "Key id")->required();
  set->add_option("file", args->policy, "Policy JSON file ('-' for standard input)")->required();
  set->callback([args] {
    std::string text;
    if (args->policy == "-") {
      char buf[4096];
      size_t n;
      while ((n = std::fread(buf, 1, sizeof(buf), stdin)) > 0) text.append(buf, n);
    } else {
      auto t = ReadText(args->policy);
      if (!t) return SetExitCode(Fail(t.error()));
      text = *t;
    }
    SetExitCode(Call(args->ep, "PUT", "/v1/keys/" + server::UrlEncode(args->id) + "/policy", text));
  });
}

}  // namespace

void RegisterAdminCommands(CLI::App& app) {
  RegisterKeys(app);
  RegisterPolicy(app);
}

}  // namespace kmra::cli
