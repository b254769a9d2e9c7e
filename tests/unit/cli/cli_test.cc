// The kmra binary's own surface: --version, help, what a user sees on a mistyped command, and a
// failed write of its output.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

struct Outcome {
  int status = -1;
  std::string out;  // stdout and stderr together
};

Outcome Kmra(const std::string& args) {
  const char* bin = std::getenv("KMRA_BIN");
  EXPECT_NE(bin, nullptr) << "KMRA_BIN is not set";
  Outcome r;
  if (bin == nullptr) return r;
  std::string cmd = std::string("'") + bin + "' " + args + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  EXPECT_NE(p, nullptr);
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) r.out.append(buf, n);
  int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

TEST(CliTest, VersionPrintsProjectVersion) {
  Outcome r = Kmra("--version");
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out, std::string("kmra ") + KMRA_VERSION + "\n");
}

TEST(CliTest, HelpListsCommands) {
  Outcome r = Kmra("help");
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("OpenKMRA"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Subcommands:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("help"), std::string::npos);
  // No arguments prints the same overview.
  Outcome bare = Kmra("");
  EXPECT_EQ(bare.status, 0);
  EXPECT_NE(bare.out.find("Subcommands:"), std::string::npos);
  Outcome flag = Kmra("--help");
  EXPECT_EQ(flag.status, 0);
  EXPECT_NE(flag.out.find("Subcommands:"), std::string::npos);
}

TEST(CliTest, UnknownCommandFailsAndSaysSo) {
  Outcome r = Kmra("no-such-command");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("no-such-command"), std::string::npos) << r.out;
  Outcome f = Kmra("--no-such-flag");
  EXPECT_NE(f.status, 0);
  EXPECT_NE(f.out.find("no-such-flag"), std::string::npos) << f.out;
}

TEST(CliTest, FailedWriteToStdoutFailsTheCommand) {
  // stdout on a full disk (/dev/full), stderr still to the test: the overview cannot be written,
  // and kmra says so and exits 1 instead of reporting success with the output lost.
  Outcome full = Kmra("help 2>&1 >/dev/full; exit $?");
  EXPECT_EQ(full.status, 1) << full.out;
  EXPECT_NE(full.out.find("writing the output failed"), std::string::npos) << full.out;
  // The same command with a working stdout succeeds and prints the overview.
  Outcome ok = Kmra("help");
  EXPECT_EQ(ok.status, 0);
  EXPECT_NE(ok.out.find("Subcommands:"), std::string::npos) << ok.out;
}

}  // namespace
