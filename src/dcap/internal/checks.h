// The checks a verification phase returns: each with its name, outcome, detail and the stable error
// code it reports when it fails. A phase builds a Checks list; the verifier appends the lists in
// Intel's order to the report (CheckOutcome per check, ReportError per failed check).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "dcap/internal/facts.h"
#include "dcap/report.h"

namespace kmra::dcap::internal {

struct Check {
  std::string_view name;  // a string literal (every check name is one)
  bool ok = false;
  std::string detail;
  std::string_view code;  // reported when !ok; a string literal (every code is one)
};

class Checks {
 public:
  // `clock_skew`: seconds a document's start may lie after the verification time (Validity).
  explicit Checks(int64_t clock_skew = 0) : skew_(clock_skew) { list_.reserve(8); }

  // Appends one check; returns `ok`.
  bool Add(std::string_view name, bool ok, std::string detail, std::string_view code);
  bool Add(std::string_view name, const Fact& f, std::string_view code) {
    return Add(name, f.ok, f.detail, code);
  }
  // A signature fact: `unchecked_code` when it could not be checked (its chain is not trusted).
  bool Signature(std::string_view name, const Fact& f, std::string_view invalid_code,
                 std::string_view unchecked_code) {
    return Add(name, f.ok, f.detail, f.checked ? invalid_code : unchecked_code);
  }
  // A document valid from `not_before` (its `start_field`, less the clock skew allowance) to
  // `not_after` inclusive, like QVL's nextUpdate check.
  bool Validity(std::string_view name, const std::string& what, const char* start_field,
                int64_t not_before, int64_t not_after, int64_t at, std::string_view early_code,
                std::string_view late_code);
  bool CrlValid(std::string_view name, const std::string& what, const Crl& crl, int64_t at);

  // True when every check so far passed.
  bool all_ok() const;
  const std::vector<Check>& list() const { return list_; }
  int64_t clock_skew() const { return skew_; }

 private:
  friend void Record(Checks checks, VerificationReport* report);
  std::vector<Check> list_;
  int64_t skew_;
};

// Appends the checks to the report (moved, not copied): each as a CheckOutcome, each failed one as
// a ReportError "<name>: <detail>" with its code.
void Record(Checks checks, VerificationReport* report);

}  // namespace kmra::dcap::internal
