// The one `kmra` binary. Each command group lives in its own <group>_cmd.cc and registers itself
// here.
#include <CLI/CLI.hpp>
#include <exception>
#include <string>

#include "cli/commands.h"

namespace {

int Run(int argc, char** argv) {
  CLI::App app{"OpenKMRA: attestation-gated release of TLS private keys into an enclave token",
               "kmra"};
  app.set_version_flag("--version", std::string("kmra ") + KMRA_VERSION);
  app.require_subcommand(0, 1);
  auto* help = app.add_subcommand("help", "Show the commands and their options");
  help->callback([&app]() {
    // App::help() is subcommand aware and would describe `help` itself; format the top level.
    kmra::cli::Outf(
        "%s", app.get_formatter()->make_help(&app, "kmra", CLI::AppFormatMode::Normal).c_str());
  });

  kmra::cli::RegisterAll(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 1;
  }
  if (argc == 1) {
    kmra::cli::Outf("%s", app.help().c_str());
    return kmra::cli::FinishOutput(0);
  }
  return kmra::cli::FinishOutput(kmra::cli::ExitCode());
}

}  // namespace

// Our code does not throw, but CLI11 and the standard library can (a bad_alloc, a CLI11
// construction error): the process then says so and exits 1 instead of terminating.
int main(int argc, char** argv) {
  try {
    return Run(argc, argv);
  } catch (const std::exception& e) {
    kmra::cli::Errf("kmra: internal error: %s\n", e.what());
  } catch (...) {
    kmra::cli::Errf("kmra: internal error\n");
  }
  return 1;
}
