#include "server/server_check.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cstdlib>
#include <memory>

#include "base/clock.h"
#include "p11/session_pool.h"
#include "server/attestor.h"
#include "server/collateral_chain.h"
#include "server/run.h"
#include "server/server_store.h"

namespace kmra::server {
namespace {

std::string OpenSslError() {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof(buf));
  return buf;
}

// The listener's TLS set-up, without a socket: certificate chain, its key, the client CA.
CheckResult CheckTls(const ServerConfig& c) {
  CheckResult r{"tls", false, ""};
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_server_method()),
                                                        SSL_CTX_free);
  ERR_clear_error();
  if (!ctx) {
    r.detail = OpenSslError();
  } else if (SSL_CTX_use_certificate_chain_file(ctx.get(), c.tls_cert.c_str()) != 1) {
    r.detail = "[tls] certificate " + c.tls_cert + ": " + OpenSslError();
  } else if (SSL_CTX_use_PrivateKey_file(ctx.get(), c.tls_key.c_str(), SSL_FILETYPE_PEM) != 1) {
    r.detail = "[tls] key " + c.tls_key + ": " + OpenSslError();
  } else if (SSL_CTX_check_private_key(ctx.get()) != 1) {
    r.detail = "[tls] key " + c.tls_key + " does not belong to [tls] certificate " + c.tls_cert;
  } else if (SSL_CTX_load_verify_locations(ctx.get(), c.client_ca.c_str(), nullptr) != 1) {
    r.detail = "[tls] client_ca " + c.client_ca + ": " + OpenSslError();
  } else {
    r.ok = true;
    r.detail = c.tls_cert;
  }
  return r;
}

CheckResult CheckHsm(const ServerConfig& c) {
  CheckResult r{"hsm", false, ""};
  auto pin = LoadHsmPin(c);
  if (!pin) {
    r.detail = pin.error().message();
    return r;
  }
  auto pool = p11::SessionPool::Create({c.hsm_module, c.hsm_token_label, std::move(*pin), 1});
  if (auto check = pool->Check(); !check) {
    r.detail = c.hsm_module + " token '" + c.hsm_token_label + "': " + check.error().ToString();
    return r;
  }
  r.ok = true;
  r.detail = "logged in to token '" + c.hsm_token_label + "' of " + c.hsm_module;
  return r;
}

}  // namespace

std::vector<CheckResult> CheckServerConfig(const ServerConfig& config) {
  std::vector<CheckResult> results;
  if (!config.softhsm2_conf.empty()) setenv("SOFTHSM2_CONF", config.softhsm2_conf.c_str(), 1);

  CheckResult store_result{"store", false, DescribeStateStore(config)};
  auto store = OpenStateStore(config);
  if (!store) {
    store_result.detail = store.error().ToString();
  } else if (auto ping = (*store)->Ping(); !ping) {
    store_result.detail =
        DescribeStateStore(config) + " does not accept a write: " + ping.error().ToString();
  } else {
    store_result.ok = true;
  }
  results.push_back(store_result);
  results.push_back(CheckHsm(config));
  results.push_back(CheckTls(config));

  CheckResult attestation{"attestation", false, ""};
  if (!store) {
    attestation.detail = "not checked: the collateral cache needs the store";
  } else {
    const Clock& clock = SystemClock::Get();
    auto collateral = BuildCollateral(config, **store, clock);
    if (!collateral) {
      attestation.detail = collateral.error().ToString();
    } else {
      AttestorOptions options;
      options.trusted_root_file = config.trusted_root;
      options.trust_simulated_root = config.trust_simulated_root;
      auto attestor = Attestor::Create(options, *collateral->collateral);
      attestation.ok = attestor.has_value();
      attestation.detail = attestor ? "collateral from " + collateral->collateral->Describe()
                                    : attestor.error().ToString();
    }
  }
  results.push_back(attestation);
  return results;
}

}  // namespace kmra::server
