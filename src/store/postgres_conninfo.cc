// Checking and describing libpq connection strings without connecting (PQconninfoParse).
#include <libpq-fe.h>

#include <memory>
#include <string>

#include "store/postgres_store.h"

namespace kmra::store {
namespace {

struct OptionsFree {
  void operator()(PQconninfoOption* o) const { PQconninfoFree(o); }
};
using Options = std::unique_ptr<PQconninfoOption, OptionsFree>;

// The parsed options, or the parser's message.
Result<Options> Parse(const std::string& conninfo) {
  char* error = nullptr;
  Options options(PQconninfoParse(conninfo.c_str(), &error));
  if (!options) {
    std::string why = error ? error : "out of memory";
    PQfreemem(error);
    while (!why.empty() && why.back() == '\n') why.pop_back();
    return InvalidArgument("not a libpq connection string or URI: " + why);
  }
  return options;
}

}  // namespace

Status CheckPostgresConninfo(const std::string& conninfo, bool allow_password) {
  if (conninfo.empty()) return InvalidArgument("the PostgreSQL connection string is empty");
  KMRA_ASSIGN_OR_RETURN(Options options, Parse(conninfo));
  for (const PQconninfoOption* o = options.get(); o->keyword != nullptr; ++o) {
    if (o->val == nullptr || *o->val == '\0') continue;
    const std::string key = o->keyword;
    if (key == "password" && !allow_password) {
      return InvalidArgument(
          "it holds a password; a URL is logged, shown by ps and copied into tickets: put the "
          "password in [store] password_file (mode 0600), PGPASSWORD or a PGPASSFILE, or set "
          "allow_password_in_url = true");
    }
    if (key == "sslmode") {
      const std::string mode = o->val;
      if (mode != "disable" && mode != "allow" && mode != "prefer" && mode != "require" &&
          mode != "verify-ca" && mode != "verify-full") {
        return InvalidArgument("sslmode \"" + mode +
                               "\" is not one of disable, allow, prefer, require, verify-ca, "
                               "verify-full");
      }
    }
  }
  return OkStatus();
}

std::string DescribePostgresTarget(const std::string& conninfo) {
  auto options = Parse(conninfo);
  if (!options) return "(a connection string libpq cannot parse)";
  std::string out;
  for (const char* key :
       {"host", "hostaddr", "port", "dbname", "user", "sslmode", "target_session_attrs"}) {
    for (const PQconninfoOption* o = options->get(); o->keyword != nullptr; ++o) {
      if (o->val != nullptr && *o->val != '\0' && std::string(o->keyword) == key) {
        out += (out.empty() ? "" : " ") + std::string(key) + "=" + o->val;
      }
    }
  }
  return out.empty() ? "(libpq defaults)" : out;
}

}  // namespace kmra::store
