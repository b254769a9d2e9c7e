// Concurrent release clients for the scale-out test, each retrying as a real client does until its
// release succeeds (or a deadline passes), with a tally of every outcome.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "scaleout/release_client.h"

namespace kmra::scaleout {

// Every outcome of every release the test makes. Thread-safe.
struct Tally {
  std::atomic<int> ok{0};       // 200, unwrapped, and the key matches its certificate
  std::atomic<int> wrong{0};    // 200 but the key does not unwrap or match: never allowed
  std::atomic<int> refused{0};  // a refusal no retry can fix (4xx other than a lost answer's)
  std::atomic<int> gave_up{0};  // no success before the client's deadline
  // A retry refused as nonce.reused/nonce.invalid after an earlier attempt got no answer or a 503:
  // that attempt was released and audited, its answer lost (a replica killed after its commit, a
  // commit whose acknowledgement the database connection lost).
  std::atomic<int> lost_answers{0};

  void Note(const std::string& what);  // counts one failed attempt by kind ("503 hsm.unavailable")
  int Count(const std::string& what);
  std::string Summary();
  void Keep(const ReleaseRequest& request);  // a released request, for replay checks
  std::vector<ReleaseRequest> TakeKept();
  void Problem(const std::string& message);  // the first few unexpected outcomes, for the log

 private:
  std::mutex mu_;
  std::map<std::string, int> attempts_;
  std::vector<ReleaseRequest> kept_;
  std::vector<std::string> problems_;
};

// One release as a client makes it: prepare, send, and on no answer or a 503 send the same request
// again (the nonce stays usable), for up to `deadline`. Returns true when the key was released and
// checked.
bool ReleaseWithRetry(ReleaseClient& client, const std::string& base, Api api,
                      const std::string& key_id, Tally& tally,
                      std::chrono::seconds deadline = std::chrono::seconds(90));

// `clients` threads releasing `key_id` through `base` in a loop (alternating API 0.2 and /v1) until
// Stop().
class Load {
 public:
  Load(std::vector<std::unique_ptr<ReleaseClient>>& clients, std::string base, std::string key_id,
       Tally& tally);
  ~Load();
  void Stop();
  // Waits until `more` further releases succeeded (true), or `deadline` passed (false).
  bool WaitForReleases(int more, std::chrono::seconds deadline = std::chrono::seconds(120));

 private:
  Tally& tally_;
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};

}  // namespace kmra::scaleout
