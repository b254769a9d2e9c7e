// `kmra audit verify` and `kmra audit list`: check and read the key server's hash-chained audit log
// in its state database (docs/store.md): --db FILE (SQLite), --db "postgresql://..." or a libpq
// conninfo (password from PGPASSWORD or PGPASSFILE), or --config FILE (the server's [store]).
//
// Exit status of verify: 0 the chain is intact, 2 it is broken (the first bad record is named),
// 1 the database cannot be opened.
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/commands.h"
#include "server/config.h"
#include "server/server_store.h"
#include "store/postgres_store.h"
#include "store/store.h"

namespace kmra::cli {
namespace {

struct AuditArgs {
  std::string db;
  std::string config;
  std::string format = "text";
  int64_t after = 0;
  size_t limit = 100;
};

bool IsPostgres(const std::string& db) {
  return db.rfind("postgresql://", 0) == 0 || db.rfind("postgres://", 0) == 0 ||
         db.find('=') != std::string::npos;
}

Result<std::unique_ptr<store::Store>> OpenExisting(const std::string& path) {
  if (IsPostgres(path)) {
    KMRA_TRY(store::CheckPostgresConninfo(path, true));
    return store::OpenPostgresStore(path);
  }
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return NotFound("state database " + path + " does not exist (give the server's store path)");
  }
  return store::OpenSqliteStore(path, {.busy_timeout_ms = 5000, .create = false});
}

// --config: the store the server's config names (an existing SQLite file, or PostgreSQL with the
// config's password_file); else --db.
Result<std::unique_ptr<store::Store>> OpenFor(const AuditArgs& args) {
  if (args.config.empty() == args.db.empty()) {
    return InvalidArgument("give either --db or --config");
  }
  if (args.db.empty()) {
    KMRA_ASSIGN_OR_RETURN(auto config, server::LoadServerConfig(args.config));
    if (config.store_url.empty()) return OpenExisting(config.store_path);
    return server::OpenStateStore(config);
  }
  return OpenExisting(args.db);
}

int RunVerify(const AuditArgs& args) {
  auto db = OpenFor(args);
  if (!db) {
    Errf("kmra audit verify: %s\n", db.error().message().c_str());
    return 1;
  }
  auto verdict = (*db)->VerifyAuditChain();
  if (!verdict) {
    Errf("kmra audit verify: %s\n", verdict.error().message().c_str());
    return 1;
  }
  if (args.format == "json") {
    nlohmann::json j = {{"intact", verdict->intact}, {"records", verdict->records}};
    if (!verdict->intact) {
      j["first_bad_record"] = verdict->first_bad_seq;
      j["problem"] = verdict->problem;
    }
    Outf("%s\n", j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  } else if (verdict->intact) {
    Outf("audit log intact: %lld records verified\n", static_cast<long long>(verdict->records));
  } else {
    Outf("audit log BROKEN at record %lld: %s (%lld records before it verified)\n",
         static_cast<long long>(verdict->first_bad_seq), verdict->problem.c_str(),
         static_cast<long long>(verdict->records));
  }
  return verdict->intact ? 0 : 2;
}

int RunList(const AuditArgs& args) {
  auto db = OpenFor(args);
  if (!db) {
    Errf("kmra audit list: %s\n", db.error().message().c_str());
    return 1;
  }
  auto records = (*db)->ListAudit({.after_seq = args.after, .since_time = 0, .limit = args.limit});
  if (!records) {
    Errf("kmra audit list: %s\n", records.error().message().c_str());
    return 1;
  }
  for (const auto& r : *records) {
    if (args.format == "json") {
      nlohmann::json j = {
          {"seq", r.seq}, {"time", r.time}, {"hash", r.hash}, {"prev_hash", r.prev_hash}};
      auto record = nlohmann::json::parse(r.json, nullptr, false);
      j["record"] = record.is_discarded() ? nlohmann::json(r.json) : record;
      // Replace invalid UTF-8 (a tampered record) instead of throwing.
      Outf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    } else {
      Outf("%lld %lld %s\n", static_cast<long long>(r.seq), static_cast<long long>(r.time),
           r.json.c_str());
    }
  }
  return 0;
}

}  // namespace

void RegisterAuditCommands(CLI::App& app) {
  auto* audit = app.add_subcommand("audit", "Check and read the key server's audit log");
  audit->require_subcommand(1);
  auto args = std::make_shared<AuditArgs>();

  auto* verify = audit->add_subcommand(
      "verify",
      "Recompute the audit hash chain; exit 0 when intact, 2 naming the first bad record");
  verify->add_option("--db", args->db,
                     "The server's SQLite state database, or a PostgreSQL URL or conninfo");
  verify->add_option("--config", args->config, "The server's config file: its [store]");
  verify->add_option("--format", args->format, "text or json")
      ->check(CLI::IsMember({"text", "json"}));
  verify->callback([args] { SetExitCode(RunVerify(*args)); });

  auto* list = audit->add_subcommand("list", "Print audit records, oldest first");
  list->add_option("--db", args->db,
                   "The server's SQLite state database, or a PostgreSQL URL or conninfo");
  list->add_option("--config", args->config, "The server's config file: its [store]");
  list->add_option("--after", args->after, "Only records with a sequence number above this");
  list->add_option("--limit", args->limit, "At most this many records")
      ->check(CLI::Range(1, 100000));
  list->add_option("--format", args->format, "text or json (one object per line)")
      ->check(CLI::IsMember({"text", "json"}));
  list->callback([args] { SetExitCode(RunList(*args)); });
}

}  // namespace kmra::cli
