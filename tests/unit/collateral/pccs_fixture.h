// Runs tests/unit/collateral/pccs_server.py (python3) on a free port for the duration of a test.
#pragma once

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

namespace kmra::collateral::testing {

class PccsServer {
 public:
  PccsServer(const std::string& case_dir, const std::string& pck_ca,
             const std::vector<std::string>& flags = {}) {
    int fds[2];
    if (::pipe(fds) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(fds[1], 1);
      ::close(fds[0]);
      ::close(fds[1]);
      const std::string script = std::string(KMRA_SOURCE_DIR) + "/tests/unit/collateral/pccs_server.py";
      std::vector<const char*> argv = {"python3", script.c_str(), case_dir.c_str(), pck_ca.c_str()};
      for (const auto& f : flags) argv.push_back(f.c_str());
      argv.push_back(nullptr);
      ::execvp("python3", const_cast<char* const*>(argv.data()));
      ::_exit(127);
    }
    ::close(fds[1]);
    std::FILE* out = ::fdopen(fds[0], "r");
    if (out != nullptr) {
      if (std::fscanf(out, "%d", &port_) != 1) port_ = 0;
      std::fclose(out);
    }
  }
  ~PccsServer() { Stop(); }
  PccsServer(const PccsServer&) = delete;
  PccsServer& operator=(const PccsServer&) = delete;

  // 0 when the server did not start.
  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  void Stop() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      ::waitpid(pid_, &status, 0);
      pid_ = -1;
    }
  }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
};

// A URL where nothing listens: a port the kernel handed out and that was closed again.
inline std::string DeadUrl() {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  ::getsockname(s, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(s);
  return "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
}

}  // namespace kmra::collateral::testing
