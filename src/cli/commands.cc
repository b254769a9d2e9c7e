#include "cli/commands.h"

#include <cstdarg>
#include <cstdio>

namespace kmra::cli {
namespace {
int g_exit_code = 0;
}  // namespace

int ExitCode() { return g_exit_code; }
void SetExitCode(int code) { g_exit_code = code; }

// NOLINTNEXTLINE(cert-dcl50-cpp): printf-style on purpose; the format attribute checks every call
void Errf(const char* format, ...) {
  va_list args;
  va_start(args, format);
  (void)std::vfprintf(stderr, format, args);  // stderr: a failed write has nowhere to be reported
  va_end(args);
}

// NOLINTNEXTLINE(cert-dcl50-cpp): printf-style on purpose; the format attribute checks every call
void Outf(const char* format, ...) {
  va_list args;
  va_start(args, format);
  // A failed write sets stdout's error flag, which FinishOutput reports.
  (void)std::vfprintf(stdout, format, args);
  va_end(args);
}

int FinishOutput(int code) {
  if (std::fflush(stdout) != 0 || std::ferror(stdout) != 0) {
    Errf("kmra: writing the output failed (full disk or closed pipe?)\n");
    return 1;
  }
  return code;
}

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
