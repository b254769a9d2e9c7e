#include "server/run.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <cstdlib>

#include "base/file.h"
#include "base/log.h"
#include "p11/session_pool.h"
#include "server/attestor.h"
#include "server/collateral_chain.h"
#include "server/listener.h"
#include "server/server_store.h"
#include "server/service.h"
#include "store/store.h"

namespace kmra::server {
namespace {

// Keys named by a KMRA apphsm.conf already live in the HSM token; register them so both APIs serve
// them. Existing registrations (also those another replica is making) are left alone.
Status RegisterStaticKeys(const ServerConfig& config, store::Store& store, std::int64_t now) {
  for (const auto& key : config.static_keys) {
    if (store.GetKey(key.id)) continue;
    std::string chain;
    if (!key.certificate_file.empty()) {
      auto text = ReadFileText(key.certificate_file, 1 << 20);
      if (!text)
        return tl::unexpected(text.error().WithContext("key '" + key.id + "' certificate"));
      chain = *text;
    }
    if (auto created = store.CreateKey({key.id, "from apphsm.conf", now}); !created) {
      // Replicas sharing a database and starting together: another one registered it first.
      if (created.error().code() == Code::kAlreadyExists) continue;
      return created;
    }
    store::KeyVersion v;
    v.hsm_label = key.key_label;
    v.origin = "imported";
    v.cert_chain_pem = chain;
    v.created_at = now;
    KMRA_TRY(store.AddKeyVersion(key.id, v));
    spdlog::info("registered key '{}' (HSM label '{}') from apphsm.conf", key.id, key.key_label);
  }
  return OkStatus();
}

// Every connection is a file descriptor; 1024 (a common soft default) is below the default
// max_connections. Raise the soft limit to the hard one and say what it is.
std::uint64_t RaiseOpenFileLimit(std::size_t max_connections) {
  struct rlimit files {};
  if (getrlimit(RLIMIT_NOFILE, &files) != 0) return 0;
  if (files.rlim_cur < files.rlim_max) {
    struct rlimit raised = {files.rlim_max, files.rlim_max};
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) files = raised;
  }
  const std::uint64_t limit = files.rlim_cur;
  if (limit < max_connections + 64) {
    spdlog::warn(
        "open files limit (RLIMIT_NOFILE) is {}, below [listen] max_connections = {} plus room for "
        "the store and the HSM: at the limit the server pauses accepting (see /readyz)",
        limit, max_connections);
  } else {
    spdlog::info("open files limit (RLIMIT_NOFILE): {}", limit);
  }
  return limit;
}

}  // namespace

Result<SecretBytes> LoadHsmPin(const ServerConfig& config) {
  if (!config.hsm_pin_file.empty()) return ReadSecretLine(config.hsm_pin_file, "[hsm] pin_file");
  if (!config.hsm_pin_env.empty()) {
    if (const char* env = std::getenv(config.hsm_pin_env.c_str()); env && *env) {
      return SecretBytes::FromString(env);
    }
  }
  if (!config.hsm_pin.empty()) return SecretBytes::FromString(config.hsm_pin);
  return FailedPrecondition(
      "no HSM PIN: set [hsm] pin_file, or the environment variable " +
      (config.hsm_pin_env.empty() ? std::string("named by [hsm] pin_env") : config.hsm_pin_env));
}

Status RunServer(const ServerConfig& config, const RunHooks& hooks) {
  if (!hooks.logging_ready) {
    LogOptions log;
    log.level = config.log_level;
    KMRA_ASSIGN_OR_RETURN(log.format, ParseLogFormat(config.log_format));
    log.file = config.log_file;
    KMRA_TRY(SetupLogging(log));
  }
  // The process holds an HSM PIN and handles wrapped keys: no core dumps, no ptrace by others.
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  struct rlimit no_core = {0, 0};
  setrlimit(RLIMIT_CORE, &no_core);

  // Block the stop signals in every thread; the main thread waits for them below.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  (void)signal(SIGPIPE, SIG_IGN);  // fails only for an invalid signal number
  const std::uint64_t open_files = RaiseOpenFileLimit(config.max_connections);

  if (!config.softhsm2_conf.empty()) setenv("SOFTHSM2_CONF", config.softhsm2_conf.c_str(), 1);

  const Clock& clock = SystemClock::Get();
  auto store = OpenStateStore(config);
  if (!store) return tl::unexpected(store.error());
  KMRA_TRY(RegisterStaticKeys(config, **store, clock.NowUnix()));

  KMRA_ASSIGN_OR_RETURN(SecretBytes pin, LoadHsmPin(config));
  p11::PoolConfig pool_config;
  pool_config.module_path = config.hsm_module;
  pool_config.token_label = config.hsm_token_label;
  pool_config.pin = std::move(pin);
  pool_config.max_sessions = static_cast<size_t>(std::max(2, config.threads * 2));
  auto hsm = p11::SessionPool::Create(std::move(pool_config));
  if (auto check = hsm->Check(); !check) {
    // Not fatal: the pool reconnects on the next request, and /readyz says what is wrong.
    spdlog::warn("HSM not ready yet ({} token '{}'): {}", config.hsm_module, config.hsm_token_label,
                 check.error().ToString());
  }

  KMRA_ASSIGN_OR_RETURN(CollateralSetup collateral, BuildCollateral(config, **store, clock));
  AttestorOptions attestor_options;
  attestor_options.trusted_root_file = config.trusted_root;
  attestor_options.trust_simulated_root = config.trust_simulated_root;
  attestor_options.clock_skew_seconds = config.clock_skew;
  KMRA_ASSIGN_OR_RETURN(auto attestor, Attestor::Create(attestor_options, *collateral.collateral));

  ServiceDeps deps;
  deps.config = config;
  deps.store = store->get();
  deps.hsm = hsm.get();
  deps.attestor = attestor.get();
  deps.clock = &clock;
  Service service(std::move(deps));

  ListenerOptions lo;
  lo.address = config.address;
  lo.port = config.port;
  lo.cert_file = config.tls_cert;
  lo.key_file = config.tls_key;
  lo.client_ca_file = config.client_ca;
  lo.body_limit = config.body_limit;
  lo.header_limit = config.header_limit;
  lo.handshake_timeout = std::chrono::milliseconds(config.handshake_timeout_ms);
  lo.request_timeout = std::chrono::milliseconds(config.request_timeout_ms);
  lo.threads = config.threads;
  lo.max_connections = config.max_connections;
  lo.max_connections_per_address = config.max_connections_per_address;
  lo.new_connections_per_second_per_address =
      static_cast<double>(config.new_connections_per_second_per_address);
  lo.first_bytes_timeout = std::chrono::milliseconds(config.first_bytes_timeout_ms);
  if (config.proxy_protocol) lo.proxy_trusted_peers = config.proxy_trusted_peers;
  lo.metrics = &service.metrics();
  service.metrics().Set("kmra_open_files_limit", {}, static_cast<double>(open_files));
  KMRA_ASSIGN_OR_RETURN(auto listener,
                        Listener::Start(lo, [&service](Request& r) { return service.Handle(r); }));
  if (!config.port_file.empty()) {
    KMRA_TRY(WriteFileAtomic(config.port_file, std::to_string(listener->port()) + "\n", 0644));
  }
  spdlog::info("kmra server (replica {}) listening on https://{}:{} (HSM token '{}', store {})",
               config.replica, config.address, listener->port(), config.hsm_token_label,
               DescribeStateStore(config));
  if (hooks.on_listening) hooks.on_listening(listener->port());

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  spdlog::info("signal {}: stopping", signal_number);
  listener->Stop();
  return OkStatus();
}

}  // namespace kmra::server
