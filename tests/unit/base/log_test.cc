#include "base/log.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "base/file.h"
#include "base/secret_bytes.h"

namespace kmra {
namespace {

namespace fs = std::filesystem;

class LogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::unsetenv("KMRA_LOG_LEVEL");
    std::string tmpl = (fs::temp_directory_path() / "kmra-log-test-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    ::unsetenv("KMRA_LOG_LEVEL");
    spdlog::set_default_logger(nullptr);
    fs::remove_all(dir_);
  }
  std::vector<std::string> Lines(const fs::path& p) {
    spdlog::default_logger()->flush();
    std::istringstream in(*ReadFileText(p));
    std::vector<std::string> out;
    for (std::string l; std::getline(in, l);) out.push_back(l);
    return out;
  }
  fs::path dir_;
};

TEST_F(LogTest, JsonLinesAreParseableAndEscaped) {
  fs::path f = dir_ / "kmra.log";
  LogOptions o;
  o.format = LogFormat::kJson;
  o.file = f.string();
  o.name = "server";
  ASSERT_TRUE(SetupLogging(o));
  spdlog::info("client \"{}\" said\n{}", "web-1", "hi\\");
  spdlog::debug("hidden at info level");
  spdlog::warn("pin {}", SecretBytes::FromString("123456"));
  auto lines = Lines(f);
  ASSERT_EQ(lines.size(), 2u);
  auto j = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(j["level"], "info");
  EXPECT_EQ(j["logger"], "server");
  EXPECT_EQ(j["msg"], "client \"web-1\" said\nhi\\");
  EXPECT_EQ(std::string(j["ts"]).size(), 24u);  // 2024-05-01T12:00:00.123Z
  auto j2 = nlohmann::json::parse(lines[1]);
  EXPECT_EQ(j2["level"], "warn");
  EXPECT_EQ(j2["msg"], "pin <redacted:6>");
  struct stat st {};
  ASSERT_EQ(::stat(f.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(LogTest, TextFormatAndEnvironmentOverridesLevel) {
  fs::path f = dir_ / "text.log";
  ::setenv("KMRA_LOG_LEVEL", "DEBUG", 1);
  LogOptions o;
  o.level = "error";
  o.file = f.string();
  ASSERT_TRUE(SetupLogging(o));
  spdlog::debug("visible because the environment asked for debug");
  spdlog::trace("still hidden");
  auto lines = Lines(f);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find(" debug kmra: visible because"), std::string::npos) << lines[0];
  EXPECT_EQ(lines[0][10], 'T');
}

TEST_F(LogTest, BadLevelNamesItsSource) {
  LogOptions o;
  o.level = "loud";
  auto s = SetupLogging(o);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), Code::kInvalidArgument);
  EXPECT_NE(s.error().message().find("log level: unknown log level 'loud'"), std::string::npos);
  ::setenv("KMRA_LOG_LEVEL", "chatty", 1);
  o.level = "info";
  s = SetupLogging(o);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message().find("KMRA_LOG_LEVEL: unknown log level 'chatty'"),
            std::string::npos);
}

TEST_F(LogTest, UnopenableFileIsUnavailable) {
  LogOptions o;
  o.file = (dir_ / "missing" / "x.log").string();
  auto s = SetupLogging(o);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), Code::kUnavailable);
  EXPECT_NE(s.error().message().find("x.log"), std::string::npos);
}

TEST_F(LogTest, ParsersAndEscape) {
  EXPECT_EQ(*ParseLogLevel("Warning"), LogLevel::kWarn);
  EXPECT_EQ(*ParseLogFormat("json"), LogFormat::kJson);
  EXPECT_FALSE(ParseLogFormat("xml"));
  EXPECT_EQ(JsonEscape(std::string_view("a\x01\tb", 4)), "a\\u0001\\tb");
}

}  // namespace
}  // namespace kmra
