// The one `kmra` binary. Each command group lives in its own <group>_cmd.cc and registers itself here.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <string>

#include "cli/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"OpenKMRA: attestation-gated release of TLS private keys into an enclave token", "kmra"};
  app.set_version_flag("--version", std::string("kmra ") + KMRA_VERSION);
  app.require_subcommand(0, 1);
  auto* help = app.add_subcommand("help", "Show the commands and their options");
  help->callback([&app]() {
    // App::help() is subcommand aware and would describe `help` itself; format the top level.
    std::fputs(app.get_formatter()->make_help(&app, "kmra", CLI::AppFormatMode::Normal).c_str(), stdout);
  });

  kmra::cli::RegisterAll(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 1;
  }
  if (argc == 1) {
    std::fputs(app.help().c_str(), stdout);
    return 0;
  }
  return kmra::cli::ExitCode();
}
