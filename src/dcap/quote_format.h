// Printable forms of a parsed quote, for `kmra quote dump` and for logs.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "dcap/quote.h"

namespace kmra::dcap {

// Every field of the quote as JSON (hex strings for byte fields, numbers for integers).
nlohmann::ordered_json QuoteToJson(const Quote& quote);

// The same fields as indented "name: value" lines.
std::string QuoteToText(const Quote& quote);

}  // namespace kmra::dcap
