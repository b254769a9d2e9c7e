#include "p11/session_pool.h"

#include <fmt/format.h>

namespace kmra::p11 {

std::unique_ptr<SessionPool> SessionPool::Create(PoolConfig config) {
  if (config.max_sessions == 0) config.max_sessions = 1;
  return std::unique_ptr<SessionPool>(new SessionPool(std::move(config)));
}

SessionPool::~SessionPool() {
  std::lock_guard<std::mutex> lock(mu_);
  idle_.clear();
}

SessionPool::Lease::~Lease() {
  if (pool_ != nullptr && session_) pool_->Return(std::move(session_));
}

Result<std::unique_ptr<Session>> SessionPool::OpenSession() {
  // Called with mu_ held: connecting is rare (first use, after an outage), so serialising it is fine.
  if (!module_) {
    auto module = Module::Load(config_.module_path);
    if (!module) {
      return Unavailable(fmt::format("HSM module unavailable: {}", module.error().message()));
    }
    auto slot = (*module)->FindSlotByTokenLabel(config_.token_label);
    if (!slot) return Unavailable(fmt::format("HSM token unavailable: {}", slot.error().message()));
    module_ = *module;
    slot_ = *slot;
  }
  auto session = Session::Open(module_, slot_, /*read_write=*/true);
  if (!session) {
    module_.reset();  // maybe the slot moved or the token was re-initialised: look it up again
    return Unavailable(fmt::format("cannot open an HSM session: {}", session.error().message()));
  }
  auto login = session->Login(config_.pin);
  if (!login) {
    if (session->broken()) module_.reset();
    return tl::unexpected(login.error().WithContext(fmt::format("token '{}'", config_.token_label)));
  }
  return std::make_unique<Session>(std::move(*session));
}

Result<SessionPool::Lease> SessionPool::Acquire() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return in_use_ < config_.max_sessions; });
  std::unique_ptr<Session> session;
  if (!idle_.empty()) {
    session = std::move(idle_.back());
    idle_.pop_back();
  } else {
    KMRA_ASSIGN_OR_RETURN(session, OpenSession());
  }
  ++in_use_;
  return Lease(this, std::move(session));
}

void SessionPool::Return(std::unique_ptr<Session> session) {
  std::lock_guard<std::mutex> lock(mu_);
  --in_use_;
  if (session->broken()) {
    // The device or session is gone: drop every idle session too, and reconnect on the next Acquire.
    idle_.clear();
    session.reset();
    module_.reset();
  } else if (session->module() == module_) {
    idle_.push_back(std::move(session));
  }
  cv_.notify_one();
}

Status SessionPool::Check() {
  KMRA_ASSIGN_OR_RETURN(auto lease, Acquire());
  KMRA_TRY(lease->State());
  return OkStatus();
}

void SessionPool::Reset() {
  std::lock_guard<std::mutex> lock(mu_);
  idle_.clear();
  module_.reset();
}

}  // namespace kmra::p11
