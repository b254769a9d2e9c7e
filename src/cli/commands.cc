#include "cli/commands.h"

namespace kmra::cli {
namespace {
int g_exit_code = 0;
}  // namespace

int ExitCode() { return g_exit_code; }
void SetExitCode(int code) { g_exit_code = code; }

void RegisterAll(CLI::App& app) {
  (void)app;
  RegisterQuoteCommands(app);
  RegisterNginxConfig(app);
  RegisterPki(app);
  RegisterQuoteGenerate(app);  // after RegisterQuoteCommands: adds to the quote group
  RegisterAuditCommands(app);
  RegisterToken(app);
  RegisterLoadkey(app);
  RegisterServerCommands(app);
  RegisterAdminCommands(app);
  RegisterCollateral(app);
}

}  // namespace kmra::cli
