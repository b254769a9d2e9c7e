// Command registration for the kmra binary. A command's callback stores its exit status with
// SetExitCode.
#pragma once

#include <CLI/CLI.hpp>

namespace kmra::cli {

// Adds every command group to the app.
void RegisterAll(CLI::App& app);

// Exit status of the command that ran (0 when none set one).
int ExitCode();
void SetExitCode(int code);

// The commands' console output, printf-style (the format attribute has the compiler check every
// call). Errf writes to stderr: a failed write there has nowhere to be reported. Outf writes to
// stdout, and FinishOutput (main, after the command ran) turns a failed write to stdout, such as a
// full disk or a closed pipe, into exit status 1 instead of a silent success with truncated output.
[[gnu::format(printf, 1, 2)]] void Errf(const char* format, ...);
[[gnu::format(printf, 1, 2)]] void Outf(const char* format, ...);
// Flushes stdout; returns code, or 1 (after saying so on stderr) when a write to stdout failed.
int FinishOutput(int code);

// One registration function per command group, defined in <group>_cmd.cc.
// Add yours here and in commands.cc.
void RegisterQuoteCommands(CLI::App& app);   // quote_cmd.cc: kmra quote dump|verify
void RegisterNginxConfig(CLI::App& app);     // nginx_config_cmd.cc
void RegisterPki(CLI::App& app);             // pki_cmd.cc
void RegisterQuoteGenerate(CLI::App& app);   // pki_cmd.cc; after the quote group
void RegisterAuditCommands(CLI::App& app);   // audit_cmd.cc: kmra audit verify|list
void RegisterToken(CLI::App& app);           // token_cmd.cc
void RegisterLoadkey(CLI::App& app);         // loadkey_cmd.cc
void RegisterServerCommands(CLI::App& app);  // server_cmd.cc: kmra server
void RegisterAdminCommands(CLI::App& app);   // admin_cmd.cc: kmra keys|policy
void RegisterCollateral(CLI::App& app);      // collateral_cmd.cc: kmra collateral fetch
}  // namespace kmra::cli
