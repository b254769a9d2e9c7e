// Process and file helpers for the end-to-end tests: temp dirs, running real programs (nginx, curl,
// softhsm2-util, p11-kit, kmra), free ports, and reading another process's memory.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

namespace kmra::integration {

// A 0700 directory under $TMPDIR, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

using Env = std::map<std::string, std::string>;

struct RunResult {
  int exit_code = -1;  // -1: did not start or was killed
  std::string output;  // stdout and stderr, interleaved
};

// Runs argv[0] (searched in PATH) with the current environment plus `env`, waits (at most
// `timeout_s`, then SIGKILL) and returns its exit code and output.
RunResult RunCmd(const std::vector<std::string>& argv, const Env& env = {}, int timeout_s = 60);

// A background process; killed (SIGTERM, then SIGKILL) and reaped on destruction.
class Process {
 public:
  Process(const std::vector<std::string>& argv, const Env& env, const std::string& log_file);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  pid_t pid() const { return pid_; }
  bool Running();
  void Stop();

 private:
  pid_t pid_ = -1;
};

// An unused local TCP port (bound to port 0 and released).
int FreePort();

// Writes `text` to `path` with `mode`. Aborts the test on failure via the return value.
bool WriteFile(const std::string& path, const std::string& text, int mode = 0600);
std::string ReadFile(const std::string& path);

// Child processes of `pid` (from /proc/*/stat), not recursive.
std::vector<pid_t> Children(pid_t pid);

// True if `needle` occurs anywhere in the readable memory of `pid` (/proc/PID/maps + /proc/PID/mem).
// Sets *scanned to the number of bytes read so a caller can check that the scan saw something.
bool MemoryContains(pid_t pid, std::span<const uint8_t> needle, uint64_t* scanned);

// The environment variable's value or `fallback`.
std::string EnvOr(const char* name, const std::string& fallback);

}  // namespace kmra::integration
