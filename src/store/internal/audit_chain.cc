#include "store/internal/audit_chain.h"

#include <fmt/format.h>

#include <charconv>

namespace kmra::store::internal {

Result<int64_t> ParseHeadSeq(const std::string& text) {
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < 0) {
    return DataLoss(fmt::format("the audit chain head sequence number '{}' is not a number: the state "
                                "database was edited outside kmra", text.substr(0, 32)));
  }
  return value;
}

int64_t ParseInt(std::string_view text) {
  int64_t value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

bool ChainChecker::Fail(int64_t seq, std::string problem) {
  failed_ = true;
  verdict_.intact = false;
  verdict_.first_bad_seq = seq;
  verdict_.problem = std::move(problem);
  return false;
}

bool ChainChecker::Add(const AuditRecord& r) {
  if (failed_) return false;
  if (r.seq != expected_) {
    return Fail(expected_, r.seq > expected_
                               ? fmt::format("record {} is missing (record {} follows record {})", expected_,
                                             r.seq, expected_ - 1)
                               : fmt::format("record {} appears out of order", r.seq));
  }
  if (AuditHash(r.prev_hash, r.seq, r.time, r.json) != r.hash) {
    return Fail(r.seq, fmt::format("record {} was edited: its content does not match its hash", r.seq));
  }
  if (r.prev_hash != prev_) {
    // This record is intact, so the one before it was changed (and its hash recomputed) or replaced.
    return Fail(r.seq - 1, fmt::format("record {} was edited or replaced: record {} was chained to a "
                                       "different version of it", r.seq - 1, r.seq));
  }
  prev_ = r.hash;
  ++verdict_.records;
  ++expected_;
  return true;
}

ChainVerdict ChainChecker::Finish(int64_t head_seq, const std::string& head_hash) {
  if (failed_) return verdict_;
  int64_t n = verdict_.records;
  if (head_seq > n) {
    Fail(n + 1, fmt::format("records {} to {} were removed from the end of the log", n + 1, head_seq));
  } else if (head_seq < n || head_hash != prev_) {
    Fail(head_seq < n ? head_seq + 1 : n,
         "the log's stored head does not match its last record (records were added or replaced "
         "outside kmra)");
  } else {
    verdict_.intact = true;
  }
  return verdict_;
}

}  // namespace kmra::store::internal
