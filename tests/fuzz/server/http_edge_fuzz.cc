// The key server's network edge after the TLS layer: raw bytes into HttpExchange (Beast's request
// parser with our header, trailer and body limits, our serialiser), the router and the real
// handlers of Service (authentication, KMRA and /v1 JSON bodies, admin routes, PCCS paths,
// /metrics), exactly as the listener drives them after a handshake.
//
// No network and no HSM: the store is SQLite in a temporary directory, the HSM pool points at a
// module that does not exist (HSM-backed routes answer 503), no collateral source is configured.
//
// Input: byte 0 chooses the client identity (none, client "fuzz", administrator, expired, foreign
// CA); byte 1 where the rest is cut in two, so requests also arrive split across reads.
#include <spdlog/spdlog.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "base/clock.h"
#include "p11/session_pool.h"
#include "server/attestor.h"
#include "server/collateral_chain.h"
#include "server/http_exchange.h"
#include "server/service.h"
#include "store/store.h"

namespace {

using namespace kmra;
using namespace kmra::server;

struct Env {
  std::string dir;
  std::unique_ptr<store::Store> store;
  std::unique_ptr<p11::SessionPool> hsm;
  CollateralSetup collateral;
  std::unique_ptr<Attestor> attestor;
  std::unique_ptr<Service> service;
  Handler handler;
};

Env* MakeEnv() {
  spdlog::set_level(spdlog::level::off);  // an audit line per input would dominate the run
  auto* env = new Env();
  const char* tmp = getenv("TMPDIR");
  std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/kmra-fuzz-http.XXXXXX";
  if (!mkdtemp(tmpl.data())) abort();
  env->dir = tmpl;
  const Clock& clock = SystemClock::Get();
  ServerConfig config;
  config.store_path = env->dir + "/state.db";
  auto store = store::OpenSqliteStore(config.store_path);
  if (!store) abort();
  env->store = std::move(*store);
  p11::PoolConfig pool;
  pool.module_path = env->dir + "/no-such-module.so";
  pool.token_label = "fuzz";
  pool.pin = SecretBytes::FromString("0000");
  env->hsm = p11::SessionPool::Create(std::move(pool));
  auto collateral = BuildCollateral(config, *env->store, clock);
  if (!collateral) abort();
  env->collateral = std::move(*collateral);
  auto attestor = Attestor::Create({}, *env->collateral.collateral);
  if (!attestor) abort();
  env->attestor = std::move(*attestor);
  ServiceDeps deps;
  deps.config = config;
  deps.store = env->store.get();
  deps.hsm = env->hsm.get();
  deps.attestor = env->attestor.get();
  deps.clock = &clock;
  env->service = std::make_unique<Service>(std::move(deps));
  env->handler = [service = env->service.get()](Request& r) { return service->Handle(r); };
  return env;
}

Env& GetEnv() {
  static Env* env = MakeEnv();  // lives for the whole run; its directory goes at exit
  static const int registered = std::atexit([] {
    std::error_code ec;
    std::filesystem::remove_all(env->dir, ec);
  });
  (void)registered;
  return *env;
}

ClientIdentity IdentityFor(std::uint8_t choice) {
  ClientIdentity id;
  switch (choice % 5) {
    case 0:
      break;  // no certificate
    case 1:
    case 2:
      id.presented = id.verified = true;
      id.organizational_unit = choice % 5 == 1 ? "fuzz" : "kmra_admin";
      id.common_name = id.organizational_unit;
      id.subject = "CN=" + id.common_name + ",OU=" + id.organizational_unit;
      break;
    case 3:
    case 4:
      id.presented = true;
      id.problem =
          choice % 5 == 3 ? ClientIdentity::Problem::kExpired : ClientIdentity::Problem::kUntrusted;
      id.verify_error = choice % 5 == 3 ? "certificate has expired" : "unable to get issuer";
      id.organizational_unit = "fuzz";
      id.subject = "CN=fuzz,OU=fuzz";
      break;
  }
  return id;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  Env& env = GetEnv();
  // Small limits so the limit paths (431, 413, the trailer cut) are reached with small inputs.
  ExchangeLimits limits{4096, 1024};
  HttpExchange exchange(limits, &env.handler, "127.0.0.1:40000", IdentityFor(data[0]));
  std::string_view rest(reinterpret_cast<const char*>(data + 2), size - 2);
  const std::size_t cut = std::min<std::size_t>(rest.size(), data[1]);
  for (std::string_view piece : {rest.substr(0, cut), rest.substr(cut)}) {
    ExchangeOutput out = exchange.Feed(piece);
    // Every response starts with a status line, and an error always closes.
    if (!out.bytes.empty() && out.bytes.rfind("HTTP/1.", 0) != 0) abort();
    if (!out.error.empty() && !out.close) abort();
    if (out.close) break;
  }
  return 0;
}
