#include "base/file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

namespace kmra {
namespace {

namespace fs = std::filesystem;

class FileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "kmra-file-test-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

mode_t ModeOf(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0);
  return st.st_mode & 07777;
}

TEST_F(FileTest, WriteThenReadBack) {
  fs::path p = dir_ / "a.bin";
  std::vector<uint8_t> data = {0, 1, 2, 255, 0};
  ASSERT_TRUE(WriteFileAtomic(p, data));
  EXPECT_EQ(*ReadFileBytes(p), data);
  EXPECT_EQ(ModeOf(p), 0600u);
  ASSERT_TRUE(WriteFileAtomic(p, std::string_view("hello\n"), 0644));
  EXPECT_EQ(*ReadFileText(p), "hello\n");
  EXPECT_EQ(ModeOf(p), 0644u);
  EXPECT_EQ(ReadFileSecret(p)->RevealAsString(), "hello\n");
  // No temporary files are left behind.
  int entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir_)) ++entries;
  EXPECT_EQ(entries, 1);
}

TEST_F(FileTest, ReadsEmptyAndLargeFiles) {
  ASSERT_TRUE(WriteFileAtomic(dir_ / "empty", std::string_view()));
  EXPECT_TRUE(ReadFileBytes(dir_ / "empty")->empty());
  std::string big(300000, 'x');
  ASSERT_TRUE(WriteFileAtomic(dir_ / "big", big));
  EXPECT_EQ(*ReadFileText(dir_ / "big"), big);
  auto r = ReadFileText(dir_ / "big", 1000);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Code::kResourceExhausted);
  EXPECT_NE(r.error().message().find("limit of 1000"), std::string::npos);
}

TEST_F(FileTest, MissingFileIsNotFoundNamingThePath) {
  auto r = ReadFileBytes(dir_ / "nope.pem");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Code::kNotFound);
  EXPECT_NE(r.error().message().find("nope.pem"), std::string::npos);
  EXPECT_NE(r.error().message().find("No such file"), std::string::npos);
}

TEST_F(FileTest, DirectoryIsNotAFile) {
  auto r = ReadFileBytes(dir_);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Code::kInvalidArgument);
  EXPECT_NE(r.error().message().find("is a directory"), std::string::npos);
}

TEST_F(FileTest, WriteIntoMissingDirectoryFails) {
  auto s = WriteFileAtomic(dir_ / "no" / "such" / "f", std::string_view("x"));
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), Code::kNotFound);
}

TEST_F(FileTest, ReadsNonRegularFiles) {
  // /proc files report size 0 but have content.
  auto r = ReadFileText("/proc/self/status");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_NE(r->find("Name:"), std::string::npos);
}

TEST_F(FileTest, CreateDirectoriesMakesPrivateTree) {
  fs::path d = dir_ / "x" / "y" / "z";
  ASSERT_TRUE(CreateDirectories(d));
  EXPECT_TRUE(fs::is_directory(d));
  EXPECT_EQ(ModeOf(dir_ / "x"), 0700u);
  EXPECT_EQ(ModeOf(d), 0700u);
  EXPECT_TRUE(CreateDirectories(d));  // idempotent
  ASSERT_TRUE(WriteFileAtomic(dir_ / "file", std::string_view("x")));
  auto s = CreateDirectories(dir_ / "file" / "sub");
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message().find("not a directory"), std::string::npos);
}

}  // namespace
}  // namespace kmra
