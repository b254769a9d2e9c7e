#include "server/audit_verifier.h"

#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace kmra::server {
namespace {

// The calling thread gets nice 19 (set on its own TID: nice is per thread on Linux), so any thread
// at the default priority that wants a CPU gets it first; it still gets a small share under full
// load, so a verification ends however busy the server is (SCHED_IDLE, which can starve it, was
// measured against this in bench/RESULTS.md).
void LowerThisThread() {
  const auto tid = static_cast<id_t>(syscall(SYS_gettid));
  if (setpriority(PRIO_PROCESS, tid, 19) != 0) {
    spdlog::warn("audit verifier: cannot lower its priority (nice 19): {}", std::strerror(errno));
  }
}

}  // namespace

AuditVerifier::AuditVerifier(store::Store& store, Metrics& metrics)
    : store_(store), metrics_(metrics) {
  metrics_.Describe("kmra_audit_verify_running", Metrics::Type::kGauge,
                    "1 while an audit chain verification (GET /v1/audit/verify) runs");
  metrics_.Describe("kmra_audit_verify_runs_total", Metrics::Type::kCounter,
                    "Audit chain verifications run (callers that asked meanwhile share one)");
  metrics_.Set("kmra_audit_verify_running", {}, 0);
  metrics_.Add("kmra_audit_verify_runs_total", {}, 0);
  thread_ = std::thread([this] { Loop(); });
}

AuditVerifier::~AuditVerifier() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void AuditVerifier::Verify(Done done) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stopping_) {
      waiting_.push_back(std::move(done));
      cv_.notify_one();
      return;
    }
  }
  done(Unavailable("the server is stopping"), 0);
}

void AuditVerifier::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stopping_ || !waiting_.empty(); });
    if (stopping_) break;
    std::vector<Done> callers;
    callers.swap(waiting_);
    const std::uint64_t run = ++runs_;
    lock.unlock();
    metrics_.Set("kmra_audit_verify_running", {}, 1);
    // Its own connection and snapshot (store.h): no store lock is held meanwhile.
    Result<store::ChainVerdict> verdict = Internal("the audit verification did not run");
    std::thread low([this, &verdict] {
      LowerThisThread();
      verdict = store_.VerifyAuditChain();
    });
    low.join();
    metrics_.Add("kmra_audit_verify_runs_total", {});
    metrics_.Set("kmra_audit_verify_running", {}, 0);
    for (auto& done : callers) done(verdict, run);
    lock.lock();
  }
  std::vector<Done> callers;
  callers.swap(waiting_);
  lock.unlock();
  for (auto& done : callers) done(Unavailable("the server is stopping"), 0);
}

}  // namespace kmra::server
