#include "integration/harness.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace kmra::integration {
namespace {

std::vector<std::string> MergedEnv(const Env& extra) {
  std::vector<std::string> out;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv(*e);
    std::string key = kv.substr(0, kv.find('='));
    if (extra.count(key) == 0) out.push_back(kv);
  }
  for (const auto& [k, v] : extra) out.push_back(k + "=" + v);
  return out;
}

// fork + exec with stdout/stderr to `out_fd`; returns the child pid or -1.
pid_t Spawn(const std::vector<std::string>& argv, const Env& env, int out_fd) {
  std::vector<std::string> envs = MergedEnv(env);
  std::vector<char*> cargv, cenv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  for (const auto& e : envs) cenv.push_back(const_cast<char*>(e.c_str()));
  cenv.push_back(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, 0);
    dup2(out_fd, 1);
    dup2(out_fd, 2);
    execvpe(cargv[0], cargv.data(), cenv.data());
    _exit(127);
  }
  return pid;
}

}  // namespace

TempDir::TempDir() {
  std::string tmpl = EnvOr("TMPDIR", "/tmp") + "/kmra-it.XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data()) != nullptr) path_ = buf.data();
  chmod(path_.c_str(), 0700);
}

TempDir::~TempDir() {
  std::error_code ec;
  if (!path_.empty()) std::filesystem::remove_all(path_, ec);
}

RunResult RunCmd(const std::vector<std::string>& argv, const Env& env, int timeout_s) {
  RunResult r;
  char tmpl[] = "/tmp/kmra-run.XXXXXX";
  int fd = mkstemp(tmpl);
  if (fd < 0) return r;
  unlink(tmpl);
  pid_t pid = Spawn(argv, env, fd);
  if (pid < 0) {
    close(fd);
    return r;
  }
  int status = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  while (true) {
    pid_t w = waitpid(pid, &status, WNOHANG);
    if (w == pid) break;
    if (std::chrono::steady_clock::now() > deadline) {
      kill(-pid, SIGKILL);
      waitpid(pid, &status, 0);
      r.output = "(killed after " + std::to_string(timeout_s) + " s)\n";
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  lseek(fd, 0, SEEK_SET);
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) r.output.append(buf, static_cast<size_t>(n));
  close(fd);
  return r;
}

Process::Process(const std::vector<std::string>& argv, const Env& env,
                 const std::string& log_file) {
  int fd = open(log_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return;
  pid_ = Spawn(argv, env, fd);
  close(fd);
}

Process::~Process() { Stop(); }

bool Process::Running() {
  if (pid_ <= 0) return false;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) == pid_) {
    pid_ = -1;
    return false;
  }
  return true;
}

void Process::Stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  for (int i = 0; i < 100; ++i) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      kill(-pid_, SIGKILL);  // anything left in its process group (nginx workers)
      pid_ = -1;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  kill(-pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

int FreePort() {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof(a);
  int port = -1;
  if (bind(s, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
      getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  close(s);
  return port;
}

bool WriteFile(const std::string& path, const std::string& text, int mode) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << text;
  f.close();
  return f.good() && chmod(path.c_str(), static_cast<mode_t>(mode)) == 0;
}

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::vector<pid_t> Children(pid_t pid) {
  std::vector<pid_t> out;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    std::string name = entry.path().filename();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    std::string stat = ReadFile(entry.path().string() + "/stat");
    size_t close_paren = stat.rfind(')');
    if (close_paren == std::string::npos) continue;
    std::istringstream rest(stat.substr(close_paren + 2));
    char state;
    pid_t ppid = 0;
    rest >> state >> ppid;
    if (ppid == pid) out.push_back(std::stoi(name));
  }
  return out;
}

bool MemoryContains(pid_t pid, std::span<const uint8_t> needle, uint64_t* scanned) {
  *scanned = 0;
  std::ifstream maps("/proc/" + std::to_string(pid) + "/maps");
  int mem = open(("/proc/" + std::to_string(pid) + "/mem").c_str(), O_RDONLY | O_CLOEXEC);
  if (mem < 0 || needle.empty()) return false;
  // Regions are read in chunks that overlap by the needle's length less one, so a match across a
  // chunk boundary is still seen. A readable region over 1 GiB is a reservation, not data (under
  // ASan the shadow memory is terabytes of mostly unbacked pages): it is skipped.
  constexpr std::size_t kChunk = 8 << 20;
  constexpr unsigned long kMaxRegion = 1UL << 30;
  std::string line;
  std::vector<uint8_t> buf(kChunk + needle.size());
  bool found = false;
  while (!found && std::getline(maps, line)) {
    unsigned long start = 0, end = 0;
    char perms[5] = {};
    if (std::sscanf(line.c_str(), "%lx-%lx %4s", &start, &end, perms) != 3) continue;
    if (perms[0] != 'r' || line.find("[vvar]") != std::string::npos) continue;
    if (end - start > kMaxRegion) continue;
    std::size_t kept = 0;  // tail of the previous chunk, at the front of buf
    for (unsigned long at = start; at < end && !found;) {
      const std::size_t want = std::min<unsigned long>(kChunk, end - at);
      ssize_t n = pread(mem, buf.data() + kept, want, static_cast<off_t>(at));
      if (n <= 0) break;
      *scanned += static_cast<uint64_t>(n);
      const auto last =
          buf.begin() + static_cast<std::ptrdiff_t>(kept + static_cast<std::size_t>(n));
      found = std::search(buf.begin(), last, needle.begin(), needle.end()) != last;
      kept = std::min(needle.size() - 1, kept + static_cast<std::size_t>(n));
      std::copy(last - static_cast<std::ptrdiff_t>(kept), last, buf.begin());
      at += static_cast<unsigned long>(n);
    }
  }
  close(mem);
  return found;
}

std::string EnvOr(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : fallback;
}

}  // namespace kmra::integration
