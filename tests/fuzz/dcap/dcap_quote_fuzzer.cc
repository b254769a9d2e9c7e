// Quote parser and its printable forms, then verification of whatever parses against fixed
// collateral-less input (exercises every per-quote path without crashing).
#include <cstddef>
#include <cstdint>
#include <span>

#include "dcap/collateral.h"
#include "dcap/quote.h"
#include "dcap/quote_format.h"
#include "dcap/verifier.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> bytes(data, size);
  auto quote = kmra::dcap::ParseQuote(bytes);
  if (quote) {
    (void)kmra::dcap::QuoteToText(*quote);
    (void)kmra::dcap::InspectQuote(bytes);
    static auto verifier = std::move(*kmra::dcap::Verifier::Create({}));
    static const kmra::dcap::Collateral empty;
    auto report = verifier->Verify(bytes, empty, 1752919277);
    (void)report.ToJson();
  }
  return 0;
}
