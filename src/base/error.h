// Error values for the whole project: a Code a program can branch on and a message a person can act on.
// Our code never throws; failures travel as Result<T> / Status (see result.h).
#pragma once

#include <string>
#include <string_view>

namespace kmra {

enum class Code {
  kOk = 0,
  kInvalidArgument,    // the caller's input is wrong (malformed bytes, bad flag, bad template)
  kUnauthenticated,    // no or bad credentials (client certificate, PIN)
  kPermissionDenied,   // authenticated but not allowed (policy, attestation refused)
  kNotFound,           // a named thing does not exist
  kAlreadyExists,      // creating something that exists
  kFailedPrecondition, // the system is not in the state the call needs (expired collateral, locked PIN)
  kResourceExhausted,  // a limit was hit (body size, token full)
  kUnavailable,        // a dependency is down; retrying may help (HSM, PCCS)
  kDeadlineExceeded,   // a timeout
  kDataLoss,           // stored data is corrupt or was tampered with
  kUnimplemented,      // not supported by this build or this input
  kInternal,           // a bug or an unexpected library failure
};

// Stable lower-case name of a code ("invalid_argument"), for logs and JSON.
std::string_view CodeName(Code code);

// An error: a code plus a message written for a person at 3 a.m. (what was wrong, what was expected).
// Messages never contain key bytes or PINs.
class Error {
 public:
  Error(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  Code code() const { return code_; }
  const std::string& message() const { return message_; }

  // Returns a copy whose message is "context: message", keeping the code.
  Error WithContext(std::string_view context) const;

  // "invalid_argument: message"
  std::string ToString() const;

 private:
  Code code_;
  std::string message_;
};

}  // namespace kmra
