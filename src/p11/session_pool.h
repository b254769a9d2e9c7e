// SessionPool: logged-in sessions on one token shared by concurrent requests (the key server).
//
//   KMRA_ASSIGN_OR_RETURN(auto pool, p11::SessionPool::Create({module_path, "kmra", pin, 8}));
//   KMRA_ASSIGN_OR_RETURN(auto lease, pool->Acquire());
//   KMRA_ASSIGN_OR_RETURN(auto wrapped, p11::WrapForRelease(*lease, key, cust_pub, choice));
//
// A lease gives one thread exclusive use of one read-write session; the session goes back to the pool
// when the lease is destroyed, unless it became broken (device error, closed session), in which case it
// is closed. The pool connects lazily: when the module cannot be loaded, the token is missing or the
// login fails, Acquire() returns Unavailable / Unauthenticated and the next Acquire() tries again, so a
// server recovers from an HSM outage without a restart. When every session is in use Acquire() waits
// (up to max_sessions run at once).
//
// Thread safety: all methods may be called concurrently.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/result.h"
#include "base/secret_bytes.h"
#include "p11/session.h"

namespace kmra::p11 {

struct PoolConfig {
  std::string module_path;
  std::string token_label;
  SecretBytes pin;
  size_t max_sessions = 8;
};

class SessionPool {
 public:
  class Lease {
   public:
    Lease(Lease&& other) noexcept : pool_(other.pool_), session_(std::move(other.session_)) {
      other.pool_ = nullptr;
    }
    Lease& operator=(Lease&&) = delete;
    Lease(const Lease&) = delete;
    ~Lease();
    Session& operator*() { return *session_; }
    Session* operator->() { return session_.get(); }

   private:
    friend class SessionPool;
    Lease(SessionPool* pool, std::unique_ptr<Session> session)
        : pool_(pool), session_(std::move(session)) {}
    SessionPool* pool_;
    std::unique_ptr<Session> session_;
  };

  // Does not connect; the first Acquire() does.
  static std::unique_ptr<SessionPool> Create(PoolConfig config);
  ~SessionPool();

  // A logged-in read-write session. Errors: Unavailable (module, token or device), Unauthenticated
  // (wrong PIN), FailedPrecondition (PIN locked).
  Result<Lease> Acquire();

  // Acquires a session and probes it with C_GetSessionInfo: OK when the HSM answers.
  Status Check();

  // Closes the idle sessions and drops the module; the next Acquire() reconnects.
  void Reset();

  const PoolConfig& config() const { return config_; }

 private:
  explicit SessionPool(PoolConfig config) : config_(std::move(config)) {}
  void Return(std::unique_ptr<Session> session);
  Result<std::unique_ptr<Session>> OpenSession();

  PoolConfig config_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::shared_ptr<Module> module_;
  CK_SLOT_ID slot_ = 0;
  std::vector<std::unique_ptr<Session>> idle_;
  size_t in_use_ = 0;
};

}  // namespace kmra::p11
