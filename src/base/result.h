// Result<T> = tl::expected<T, Error>, Status = Result<void>, and the early-return macros.
//
//   Result<Quote> ParseQuote(std::span<const uint8_t> bytes);
//   KMRA_ASSIGN_OR_RETURN(auto quote, ParseQuote(bytes));
//   KMRA_TRY(CheckSomething());
//   return kmra::InvalidArgument("quote is 12 bytes, a header needs 48");
#pragma once

#include <tl/expected.hpp>
#include <utility>

#include "base/error.h"

namespace kmra {

template <class T>
using Result = tl::expected<T, Error>;
using Status = Result<void>;

inline Status OkStatus() { return {}; }

inline tl::unexpected<Error> MakeError(Code code, std::string message) {
  return tl::unexpected<Error>(Error(code, std::move(message)));
}
inline tl::unexpected<Error> InvalidArgument(std::string m) { return MakeError(Code::kInvalidArgument, std::move(m)); }
inline tl::unexpected<Error> Unauthenticated(std::string m) { return MakeError(Code::kUnauthenticated, std::move(m)); }
inline tl::unexpected<Error> PermissionDenied(std::string m) { return MakeError(Code::kPermissionDenied, std::move(m)); }
inline tl::unexpected<Error> NotFound(std::string m) { return MakeError(Code::kNotFound, std::move(m)); }
inline tl::unexpected<Error> AlreadyExists(std::string m) { return MakeError(Code::kAlreadyExists, std::move(m)); }
inline tl::unexpected<Error> FailedPrecondition(std::string m) { return MakeError(Code::kFailedPrecondition, std::move(m)); }
inline tl::unexpected<Error> ResourceExhausted(std::string m) { return MakeError(Code::kResourceExhausted, std::move(m)); }
inline tl::unexpected<Error> Unavailable(std::string m) { return MakeError(Code::kUnavailable, std::move(m)); }
inline tl::unexpected<Error> DeadlineExceeded(std::string m) { return MakeError(Code::kDeadlineExceeded, std::move(m)); }
inline tl::unexpected<Error> DataLoss(std::string m) { return MakeError(Code::kDataLoss, std::move(m)); }
inline tl::unexpected<Error> Unimplemented(std::string m) { return MakeError(Code::kUnimplemented, std::move(m)); }
inline tl::unexpected<Error> Internal(std::string m) { return MakeError(Code::kInternal, std::move(m)); }

}  // namespace kmra

#define KMRA_CONCAT_INNER_(a, b) a##b
#define KMRA_CONCAT_(a, b) KMRA_CONCAT_INNER_(a, b)

// Evaluates a Status/Result expression and returns its error from the enclosing function on failure.
#define KMRA_TRY(expr)                                                    \
  do {                                                                    \
    auto&& kmra_try_result_ = (expr);                                     \
    if (!kmra_try_result_) {                                              \
      return ::tl::unexpected<::kmra::Error>(std::move(kmra_try_result_).error()); \
    }                                                                     \
  } while (0)

// tmp is the declared name and lhs may be a declaration (`auto x`): neither takes parentheses.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define KMRA_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr)                   \
  auto tmp = (expr);                                                  \
  if (!tmp) return ::tl::unexpected<::kmra::Error>(std::move(tmp).error()); \
  lhs = std::move(*tmp)
// NOLINTEND(bugprone-macro-parentheses)

// Evaluates a Result<T> expression; on success moves the value into lhs (which may declare a variable,
// e.g. `auto x`), on failure returns the error from the enclosing function.
#define KMRA_ASSIGN_OR_RETURN(lhs, expr) \
  KMRA_ASSIGN_OR_RETURN_IMPL_(KMRA_CONCAT_(kmra_result_, __LINE__), lhs, expr)
