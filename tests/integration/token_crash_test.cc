// Crash safety of the sealed store: a writer process is killed with SIGKILL at random points,
// hundreds of times; after each kill the token still opens (here and in a fresh initialisation)
// with every object whose C_CreateObject had returned CKR_OK, byte for byte.
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <p11-kit/pkcs11.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <random>
#include <set>

#include "integration/harness.h"
#include "integration/token_env.h"

namespace kmra::integration {
namespace {

std::vector<uint8_t> ValueFor(int trial, int i) {
  std::vector<uint8_t> v(512);
  for (size_t k = 0; k < v.size(); ++k) v[k] = static_cast<uint8_t>(trial * 31 + i * 7 + k);
  return v;
}

std::string LabelFor(int trial, int i) { return "k" + std::to_string(trial) + "-" + std::to_string(i); }

CK_UTF8CHAR_PTR U(const char* s) { return reinterpret_cast<CK_UTF8CHAR_PTR>(const_cast<char*>(s)); }

// The writer: creates token objects until killed, reporting each committed index on `fd`.
[[noreturn]] void Writer(CK_FUNCTION_LIST_PTR f, int trial, int fd) {
  CK_SESSION_HANDLE s;
  if (f->C_Initialize(nullptr) != CKR_OK ||
      f->C_OpenSession(0, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &s) != CKR_OK ||
      f->C_Login(s, CKU_USER, U(kTokenPin), sizeof kTokenPin - 1) != CKR_OK) {
    _exit(3);
  }
  const int ready = -1;
  if (write(fd, &ready, sizeof ready) != sizeof ready) _exit(5);
  CK_OBJECT_CLASS cls = CKO_DATA;
  CK_BBOOL yes = CK_TRUE;
  for (int i = 0;; ++i) {
    std::string label = LabelFor(trial, i);
    std::vector<uint8_t> value = ValueFor(trial, i);
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_TOKEN, &yes, 1},
                        {CKA_LABEL, label.data(), label.size()}, {CKA_VALUE, value.data(), value.size()}};
    CK_OBJECT_HANDLE h;
    if (f->C_CreateObject(s, t, 4, &h) != CKR_OK) _exit(4);
    if (write(fd, &i, sizeof i) != sizeof i) _exit(5);
  }
}

TEST(TokenCrash, SigkillAtRandomPointsNeverLosesACommittedObject) {
  TempDir dir;
  TokenEnv env(dir);
  ASSERT_TRUE(env.ok()) << env.error();
  setenv("KMRA_TOKEN_CONF", env.conf().c_str(), 1);
  setenv("KMRA_TOKEN_QUIET", "1", 1);
  void* lib = dlopen(env.module().c_str(), RTLD_NOW);
  ASSERT_NE(lib, nullptr) << dlerror();
  auto get = reinterpret_cast<CK_C_GetFunctionList>(dlsym(lib, "C_GetFunctionList"));
  CK_FUNCTION_LIST_PTR f = nullptr;
  ASSERT_EQ(get(&f), CKR_OK);

  const int trials = std::atoi(EnvOr("KMRA_CRASH_TRIALS", "200").c_str());
  std::mt19937 rng(12345);
  std::map<std::string, std::vector<uint8_t>> committed;
  int kills_mid_write = 0;
  for (int trial = 0; trial < trials; ++trial) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(fds[0]);
      Writer(f, trial, fds[1]);
    }
    close(fds[1]);
    int i = 0, n = 0;
    // Kill only once the writer is writing (opening the platform takes longer than a write).
    ASSERT_EQ(read(fds[0], &i, sizeof i), static_cast<ssize_t>(sizeof i)) << "writer did not start";
    ASSERT_EQ(i, -1);
    usleep(std::uniform_int_distribution<int>(0, 100000)(rng));  // a write with its fsyncs takes ~5-50 ms
    kill(pid, SIGKILL);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) == 0))
        << "writer failed on its own with exit " << WEXITSTATUS(status);
    while (read(fds[0], &i, sizeof i) == sizeof i) {
      committed[LabelFor(trial, i)] = ValueFor(trial, i);
      ++n;
    }
    close(fds[0]);
    if (n > 0) ++kills_mid_write;

    // Every few trials: a fresh process view of the token must hold every committed object.
    if (trial % 25 == 24 || trial == trials - 1) {
      ASSERT_EQ(f->C_Initialize(nullptr), CKR_OK) << "token does not open after trial " << trial;
      CK_SESSION_HANDLE s;
      ASSERT_EQ(f->C_OpenSession(0, CKF_SERIAL_SESSION, nullptr, nullptr, &s), CKR_OK);
      CK_OBJECT_CLASS cls = CKO_DATA;
      CK_ATTRIBUTE q = {CKA_CLASS, &cls, sizeof cls};
      ASSERT_EQ(f->C_FindObjectsInit(s, &q, 1), CKR_OK);
      std::vector<CK_OBJECT_HANDLE> all(100000);
      CK_ULONG count = 0;
      ASSERT_EQ(f->C_FindObjects(s, all.data(), all.size(), &count), CKR_OK);
      ASSERT_EQ(f->C_FindObjectsFinal(s), CKR_OK);
      std::map<std::string, std::vector<uint8_t>> found;
      for (CK_ULONG k = 0; k < count; ++k) {
        std::vector<uint8_t> label(64), value(1024);
        CK_ATTRIBUTE a[] = {{CKA_LABEL, label.data(), label.size()},
                            {CKA_VALUE, value.data(), value.size()}};
        ASSERT_EQ(f->C_GetAttributeValue(s, all[k], a, 2), CKR_OK);
        found[std::string(label.begin(), label.begin() + a[0].ulValueLen)] =
            std::vector<uint8_t>(value.begin(), value.begin() + a[1].ulValueLen);
      }
      for (const auto& [label, value] : committed) {
        auto it = found.find(label);
        ASSERT_NE(it, found.end()) << "committed object " << label << " lost after trial " << trial;
        ASSERT_EQ(it->second, value) << "object " << label << " changed";
      }
      ASSERT_EQ(f->C_Finalize(nullptr), CKR_OK);
    }
  }
  // The kills really landed while the writer was writing, after commits and between them.
  EXPECT_GE(kills_mid_write, trials / 4);
  EXPECT_GE(committed.size(), static_cast<size_t>(trials / 2));
  // The module stays mapped until exit, as in every real host process.
}

}  // namespace
}  // namespace kmra::integration
