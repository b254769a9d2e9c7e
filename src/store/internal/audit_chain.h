// Verifies an audit hash chain record by record; shared by the SQLite and PostgreSQL stores.
//
//   ChainChecker c;
//   for (each row in seq order) if (!c.Add(row)) break;
//   ChainVerdict v = c.Finish(head_seq, head_hash);
#pragma once

#include <optional>
#include <string>

#include "store/store.h"

namespace kmra::store::internal {

// Parses the stored chain head sequence number; DataLoss when it is not a non-negative decimal number
// (someone edited the meta table).
Result<int64_t> ParseHeadSeq(const std::string& text);

// Parses a decimal integer column value; 0 when it is not one (database types guarantee it is).
int64_t ParseInt(std::string_view text);

class ChainChecker {
 public:
  // Checks the next record (rows must come in ascending seq). Returns false once the chain is broken;
  // further calls are ignored.
  bool Add(const AuditRecord& record);
  // The verdict, comparing the last record with the stored chain head.
  ChainVerdict Finish(int64_t head_seq, const std::string& head_hash);

 private:
  bool Fail(int64_t seq, std::string problem);

  ChainVerdict verdict_;
  bool failed_ = false;
  int64_t expected_ = 1;
  std::string prev_ = GenesisHash();
};

}  // namespace kmra::store::internal
