#include "security/edge/edge_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace kmra::edge {
namespace {

std::string Kmra() { return integration::EnvOr("KMRA_BIN", "kmra"); }

int Socket(const std::string& source) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in from{};
  from.sin_family = AF_INET;
  inet_pton(AF_INET, source.c_str(), &from.sin_addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof(from)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

sockaddr_in ServerAddress(int port) {
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
  return to;
}

}  // namespace

int OpenSilent(int port, const std::string& source) {
  int fd = Socket(source);
  if (fd < 0) return -1;
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  sockaddr_in to = ServerAddress(port);
  if (connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof(to)) != 0 && errno != EINPROGRESS) {
    close(fd);
    return -1;
  }
  return fd;
}

TlsClient::~TlsClient() { Close(); }

void TlsClient::Close() {
  if (ssl_) SSL_free(ssl_);
  if (ctx_) SSL_CTX_free(ctx_);
  if (fd_ >= 0) close(fd_);
  ssl_ = nullptr;
  ctx_ = nullptr;
  fd_ = -1;
  pending_.clear();
}

bool TlsClient::Connect(int port, const std::string& source, const std::string& cert,
                        const std::string& key, int timeout_ms, const std::string& before_tls) {
  Close();
  signal(SIGPIPE, SIG_IGN);  // OpenSSL writes with write(2); a peer that closed must not kill us
  fd_ = Socket(source);
  if (fd_ < 0) return false;
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  sockaddr_in to = ServerAddress(port);
  if (connect(fd_, reinterpret_cast<sockaddr*>(&to), sizeof(to)) != 0) return false;
  if (!before_tls.empty() && send(fd_, before_tls.data(), before_tls.size(), MSG_NOSIGNAL) !=
                                 static_cast<ssize_t>(before_tls.size())) {
    return false;
  }
  ctx_ = SSL_CTX_new(TLS_client_method());
  if (!ctx_) return false;
  SSL_CTX_set_verify(ctx_, SSL_VERIFY_NONE, nullptr);  // the server is not what is tested here
  if (!cert.empty() && (SSL_CTX_use_certificate_chain_file(ctx_, cert.c_str()) != 1 ||
                        SSL_CTX_use_PrivateKey_file(ctx_, key.c_str(), SSL_FILETYPE_PEM) != 1)) {
    return false;
  }
  ssl_ = SSL_new(ctx_);
  SSL_set_fd(ssl_, fd_);
  const bool ok = SSL_connect(ssl_) == 1;
  ERR_clear_error();
  return ok;
}

bool TlsClient::Send(const std::string& bytes) {
  if (!ssl_) return false;
  size_t done = 0;
  while (done < bytes.size()) {
    int n = SSL_write(ssl_, bytes.data() + done,
                      static_cast<int>(std::min<size_t>(bytes.size() - done, 1 << 14)));
    if (n <= 0) {
      ERR_clear_error();
      return false;
    }
    done += static_cast<size_t>(n);
  }
  return true;
}

HttpReply TlsClient::Read() {
  HttpReply reply;
  if (!ssl_) return reply;
  char buf[16384];
  for (;;) {
    size_t end = pending_.find("\r\n\r\n");
    if (end != std::string::npos) {
      size_t length = 0;
      std::istringstream head(pending_.substr(0, end));
      std::string line;
      while (std::getline(head, line)) {
        if (line.rfind("Content-Length:", 0) == 0 || line.rfind("content-length:", 0) == 0) {
          length = std::stoul(line.substr(15));
        }
      }
      if (pending_.size() >= end + 4 + length) {
        reply.status = std::atoi(pending_.substr(9, 3).c_str());
        reply.body = pending_.substr(end + 4, length);
        pending_.erase(0, end + 4 + length);
        return reply;
      }
    }
    int n = SSL_read(ssl_, buf, sizeof(buf));
    if (n <= 0) {
      ERR_clear_error();
      return reply;
    }
    pending_.append(buf, static_cast<size_t>(n));
  }
}

HttpReply Request(int port, const std::string& method, const std::string& path,
                  const std::string& cert, const std::string& key, const std::string& source,
                  int timeout_ms) {
  TlsClient c;
  if (!c.Connect(port, source, cert, key, timeout_ms)) return {};
  if (!c.Send(method + " " + path + " HTTP/1.1\r\nHost: kmra\r\nConnection: close\r\n\r\n")) {
    return {};
  }
  return c.Read();
}

DevServer::DevServer(const std::string& listen_settings, int open_files) {
  // The first start makes the PKI, the SoftHSM2 token and the config; settings go into the config
  // for the second start.
  if (!listen_settings.empty()) {
    if (!Start(0)) return;
    process_.reset();
    port_ = 0;
    std::filesystem::remove(dir_ / "server.port");
    std::string config = integration::ReadFile(dir_ / "kmra-server.toml");
    size_t at = config.find("[listen]\n");
    if (at == std::string::npos) return;
    config.insert(at + 9, listen_settings + "\n");
    integration::WriteFile(dir_ / "kmra-server.toml", config);
  }
  Start(open_files);
}

bool DevServer::Start(int open_files) {
  std::vector<std::string> argv = {Kmra(),      "server",   "--dev",      "--dir",
                                   dir_.path(), "--listen", "127.0.0.1:0"};
  if (open_files > 0) {
    std::string limit = "--nofile=" + std::to_string(open_files) + ":" + std::to_string(open_files);
    argv.insert(argv.begin(), {"prlimit", limit, "--"});
  }
  process_ = std::make_unique<integration::Process>(argv, integration::Env{}, dir_ / "server.log");
  for (int i = 0; i < 600 && !std::filesystem::exists(dir_ / "server.port"); ++i) {
    if (!process_->Running()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::string text = integration::ReadFile(dir_ / "server.port");
  port_ = text.empty() ? 0 : std::stoi(text);
  return port_ > 0;
}

DevServer::~DevServer() { process_.reset(); }

std::string DevServer::Log() const { return integration::ReadFile(dir_ / "server.log"); }

HttpReply DevServer::Admin(const std::string& path) {
  return Request(port_, "GET", path, Cert("admin"), Key("admin"));
}

double DevServer::Metric(const std::string& series) {
  HttpReply metrics = Admin("/metrics");
  std::istringstream in(metrics.body);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return 0;
}

double CpuSeconds(pid_t pid) {
  std::string stat = integration::ReadFile("/proc/" + std::to_string(pid) + "/stat");
  size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return -1;
  std::istringstream in(stat.substr(paren + 2));
  std::string field;
  long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && in >> field; ++i) {
    if (i == 14) utime = std::stol(field);
    if (i == 15) stime = std::stol(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

}  // namespace kmra::edge
