// A real PostgreSQL server for tests: initdb and pg_ctl in a temporary directory, listening on a
// Unix socket only (no TCP port), run as the 'postgres' user when the test runs as root. Used by
// the store's tests and by the key server's tests on PostgreSQL.
//
//   PgServer pg;
//   if (!pg.Available()) GTEST_SKIP() << pg.why_not();
//   ASSERT_TRUE(pg.Init({.password = "s3cret"})) << pg.why_not();
//   OpenPostgresStore(pg.conninfo());
#pragma once

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace kmra::store::testing {

class PgServer {
 public:
  struct Options {
    std::string password;  // empty: trust authentication; else scram-sha-256 for user kmra
  };

  PgServer() : bin_(FindBin()) {
    if (bin_.empty()) why_not_ = "PostgreSQL server not installed (Debian package postgresql-15)";
  }
  ~PgServer() {
    if (started_) (void)std::system((pg_ctl_ + " -m immediate stop > /dev/null 2>&1").c_str());
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  PgServer(const PgServer&) = delete;
  PgServer& operator=(const PgServer&) = delete;

  // False when the binaries (or, as root, the 'postgres' user) are missing: skip, saying why_not().
  bool Available() {
    if (bin_.empty()) return false;
    if (::geteuid() == 0 && ::getpwnam("postgres") == nullptr) {
      why_not_ = "running as root and there is no 'postgres' user to run the server";
      return false;
    }
    return true;
  }
  const std::string& why_not() const { return why_not_; }

  // initdb and start. False with why_not() set when a step fails.
  bool Init(const Options& options = {}) {
    if (!Available()) return false;
    char tmpl[] = "/tmp/kmra-pg-test-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) return Fail("mkdtemp failed");
    dir_ = tmpl;
    std::string as;
    passwd* pw = ::geteuid() == 0 ? ::getpwnam("postgres") : nullptr;
    if (pw != nullptr) {
      if (::chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0) return Fail("chown failed");
      as = "setpriv --reuid=postgres --regid=postgres --clear-groups -- ";
    }
    std::string auth = "-A trust";
    if (!options.password.empty()) {
      const std::string pwfile = dir_ + "/initdb.pw";
      std::ofstream(pwfile) << options.password << "\n";
      if (pw != nullptr && ::chown(pwfile.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
        return Fail("chown failed");
      }
      auth = "-A scram-sha-256 --pwfile=" + pwfile;
    }
    pg_ctl_ = as + bin_ + "/pg_ctl -D " + dir_ + "/data";
    if (std::system((as + bin_ + "/initdb -D " + dir_ + "/data " + auth +
                     " -U kmra --no-sync -E UTF8 > " + dir_ + "/initdb.log 2>&1")
                        .c_str()) != 0) {
      return Fail("initdb failed; see " + dir_ + "/initdb.log");
    }
    std::filesystem::remove(dir_ + "/initdb.pw");
    if (!Start()) return Fail("pg_ctl start failed; see " + dir_ + "/server.log");
    return true;
  }

  // Starts a stopped server (waits until it accepts connections).
  bool Start() {
    started_ = std::system((pg_ctl_ + " -w -l " + dir_ + "/server.log -o \"-k " + dir_ +
                            " -c listen_addresses= -p 5432 -c fsync=off\" start > /dev/null")
                               .c_str()) == 0;
    return started_;
  }
  // Stops the server: "fast" ends sessions and shuts down cleanly, "immediate" as a crash would.
  bool Stop(const std::string& mode = "fast") {
    return std::system((pg_ctl_ + " -m " + mode + " stop > /dev/null").c_str()) == 0;
  }

  // The socket directory and the connection string of user kmra (without a password).
  const std::string& dir() const { return dir_; }
  std::string conninfo(const std::string& dbname = "postgres") const {
    return "host=" + dir_ + " port=5432 user=kmra dbname=" + dbname;
  }
  // Runs SQL with psql as user kmra (password from PGPASSWORD when needed); psql's exit status.
  int Psql(const std::string& sql, const std::string& dbname = "postgres",
           const std::string& password = "") const {
    std::string env = password.empty() ? "" : "PGPASSWORD='" + password + "' ";
    return std::system((env + "psql -q -v ON_ERROR_STOP=1 \"" + conninfo(dbname) + "\" -c \"" +
                        sql + "\" > /dev/null")
                           .c_str());
  }

 private:
  static std::string FindBin() {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (fs::exists("/usr/lib/postgresql", ec)) {
      for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql", ec)) {
        if (fs::exists(entry.path() / "bin/initdb")) return (entry.path() / "bin").string();
      }
    }
    return "";
  }
  bool Fail(std::string why) {
    why_not_ = std::move(why);
    return false;
  }

  std::string bin_;
  std::string dir_;
  std::string pg_ctl_;
  std::string why_not_;
  bool started_ = false;
};

}  // namespace kmra::store::testing
