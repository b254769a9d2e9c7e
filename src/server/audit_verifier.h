// Verifies the audit chain away from the I/O threads, on a thread at nice 19, so that a verify of a
// long log never holds an I/O thread and yields the CPU to releases (nice 19 still gets a small
// share). A coordinating thread at normal priority takes the callers and answers them; the
// verification itself runs on a thread of its own at low priority that shares no lock with the I/O
// threads (it hands its verdict over by ending: join), so a preempted low-priority thread can never
// hold up a release (no priority inversion on our locks or the metrics). At most one verification
// runs at a time; callers that ask while one runs share the next one, which starts when it ends (so
// every verdict covers every record written before the caller asked, and any number of callers cost
// one verification at a time).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "server/metrics.h"
#include "store/store.h"

namespace kmra::server {

class AuditVerifier {
 public:
  // `run` is the number of the verification (1, 2, ...): callers that shared one see the same.
  using Done = std::function<void(const Result<store::ChainVerdict>& verdict, std::uint64_t run)>;

  // `store` and `metrics` must outlive the verifier. In `metrics`: kmra_audit_verify_running (1
  // while a verification runs) and kmra_audit_verify_runs_total.
  AuditVerifier(store::Store& store, Metrics& metrics);
  // Lets a running verification finish (its callers get the verdict), answers callers still
  // waiting with 'unavailable', and joins the thread.
  ~AuditVerifier();
  AuditVerifier(const AuditVerifier&) = delete;
  AuditVerifier& operator=(const AuditVerifier&) = delete;

  // Calls `done` on the verifier's thread once a verification that started after this call ends.
  void Verify(Done done);

 private:
  void Loop();

  store::Store& store_;
  Metrics& metrics_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Done> waiting_;  // callers of the next verification
  std::uint64_t runs_ = 0;
  bool stopping_ = false;
  std::thread thread_;  // last: started once everything above exists
};

}  // namespace kmra::server
