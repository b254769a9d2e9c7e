// Plays Gramine-SGX's /dev/attestation for GraminePlatform tests, with a SimPlatform as the quoting
// side. `user_report_data` and `quote` are FIFOs, so the fixture sees each write and answers each
// read in order, as Gramine's pseudo-files do: it reads the 64 bytes written to user_report_data,
// asks SimPlatform for a quote over them, and serves that quote to the next reader of `quote`.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>

#include "base/file.h"
#include "enclave/sim_platform.h"

namespace kmra::enclave::testing {

class GramineFixture {
 public:
  // `dir` becomes the attestation directory; `sim` answers the quotes.
  GramineFixture(std::filesystem::path dir, std::unique_ptr<SimPlatform> sim,
                 std::string attestation_type = "dcap")
      : dir_(std::move(dir)), sim_(std::move(sim)) {
    std::filesystem::create_directories(dir_ / "keys");
    (void)WriteFileAtomic(dir_ / "attestation_type", attestation_type, 0644);
    std::vector<std::uint8_t> key(16);
    for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<std::uint8_t>(0xa0 + i);
    (void)WriteFileAtomic(dir_ / "keys" / "_sgx_mrenclave", key, 0600);
    ::mkfifo(Path("user_report_data").c_str(), 0600);
    ::mkfifo(Path("quote").c_str(), 0600);
    server_ = std::thread([this] {
      Serve();
      done_ = true;
    });
  }

  ~GramineFixture() {
    stop_ = true;
    // Wake the server from whichever blocking FIFO open it sits in.
    while (!done_) {
      int w = ::open(Path("user_report_data").c_str(), O_WRONLY | O_NONBLOCK);
      if (w >= 0) ::close(w);
      int r = ::open(Path("quote").c_str(), O_RDONLY | O_NONBLOCK);
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      if (r >= 0) ::close(r);
    }
    server_.join();
  }

  int quotes_served() const { return served_; }

 private:
  std::string Path(const char* name) const { return (dir_ / name).string(); }

  void Serve() {
    while (!stop_) {
      int in = ::open(Path("user_report_data").c_str(), O_RDONLY);
      if (in < 0 || stop_) {
        if (in >= 0) ::close(in);
        return;
      }
      std::array<std::uint8_t, 64> report_data{};
      std::size_t got = 0;
      while (got < report_data.size()) {
        ssize_t n = ::read(in, report_data.data() + got, report_data.size() - got);
        if (n <= 0) break;
        got += static_cast<std::size_t>(n);
      }
      ::close(in);
      if (stop_) return;
      auto quote = sim_->Quote(report_data);
      int out = ::open(Path("quote").c_str(), O_WRONLY);
      if (out < 0) return;
      if (quote && !stop_) {
        std::size_t done = 0;
        while (done < quote->size()) {
          ssize_t n = ::write(out, quote->data() + done, quote->size() - done);
          if (n <= 0) break;
          done += static_cast<std::size_t>(n);
        }
        ++served_;
      }
      ::close(out);
    }
  }

  std::filesystem::path dir_;
  std::unique_ptr<SimPlatform> sim_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> done_{false};
  std::atomic<int> served_{0};
  std::thread server_;
};

}  // namespace kmra::enclave::testing
