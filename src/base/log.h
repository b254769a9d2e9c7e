// Process-wide logging on spdlog: human-readable text or JSON lines, to stderr or a file.
//
// After SetupLogging, log with spdlog directly: `spdlog::info("released key {}", key_id);`.
// Never pass key bytes or PINs; SecretBytes formats as "<redacted:N>" if passed by mistake.
#pragma once

#include <string>
#include <string_view>

#include "base/result.h"

namespace kmra {

enum class LogFormat { kText, kJson };

enum class LogLevel { kTrace, kDebug, kInfo, kWarn, kError, kCritical, kOff };

struct LogOptions {
  // trace, debug, info, warn (or warning), error, critical, off. The KMRA_LOG_LEVEL environment
  // variable, when set and not empty, overrides this value.
  std::string level = "info";
  // text: "2024-05-01T12:00:00.123Z info kmra: message"; json: one object per line with the keys
  // ts, level, logger, msg (and thread).
  LogFormat format = LogFormat::kText;
  // Empty: standard error. Otherwise a file opened for appending, created 0600.
  std::string file;
  // The logger name that appears in every line.
  std::string name = "kmra";
};

// Parses a level name (case-insensitive).
Result<LogLevel> ParseLogLevel(std::string_view name);
// "text" or "json".
Result<LogFormat> ParseLogFormat(std::string_view name);

// Replaces the default spdlog logger according to `options`. Returns InvalidArgument for an
// unknown level (from the options or from KMRA_LOG_LEVEL, naming which) and Unavailable when the
// log file cannot be opened. Not thread safe against concurrent logging; call it at start-up.
Status SetupLogging(const LogOptions& options);

// Escapes `text` as the inside of a JSON string (quotes, backslash, control characters).
std::string JsonEscape(std::string_view text);

}  // namespace kmra
