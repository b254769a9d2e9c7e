#include "base/log.h"

#include <fcntl.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>

namespace kmra {
namespace {

spdlog::level::level_enum ToSpd(LogLevel l) {
  switch (l) {
    case LogLevel::kTrace: return spdlog::level::trace;
    case LogLevel::kDebug: return spdlog::level::debug;
    case LogLevel::kInfo: return spdlog::level::info;
    case LogLevel::kWarn: return spdlog::level::warn;
    case LogLevel::kError: return spdlog::level::err;
    case LogLevel::kCritical: return spdlog::level::critical;
    case LogLevel::kOff: return spdlog::level::off;
  }
  return spdlog::level::info;
}

std::string_view LevelName(spdlog::level::level_enum l) {
  switch (l) {
    case spdlog::level::trace: return "trace";
    case spdlog::level::debug: return "debug";
    case spdlog::level::info: return "info";
    case spdlog::level::warn: return "warn";
    case spdlog::level::err: return "error";
    case spdlog::level::critical: return "critical";
    default: return "off";
  }
}

// "2024-05-01T12:00:00.123Z"
void AppendTimestamp(spdlog::log_clock::time_point tp, spdlog::memory_buf_t& dest) {
  using std::chrono::duration_cast;
  auto ms = duration_cast<std::chrono::milliseconds>(tp.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  size_t n = std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  dest.append(buf, buf + n);
  n = static_cast<size_t>(std::snprintf(buf, sizeof(buf), ".%03dZ", static_cast<int>(ms % 1000)));
  dest.append(buf, buf + n);
}

void Append(spdlog::memory_buf_t& dest, std::string_view s) { dest.append(s.data(), s.data() + s.size()); }

class TextFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    AppendTimestamp(msg.time, dest);
    Append(dest, " ");
    Append(dest, LevelName(msg.level));
    Append(dest, " ");
    Append(dest, std::string_view(msg.logger_name.data(), msg.logger_name.size()));
    Append(dest, ": ");
    Append(dest, std::string_view(msg.payload.data(), msg.payload.size()));
    Append(dest, "\n");
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<TextFormatter>();
  }
};

class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    Append(dest, "{\"ts\":\"");
    AppendTimestamp(msg.time, dest);
    Append(dest, "\",\"level\":\"");
    Append(dest, LevelName(msg.level));
    Append(dest, "\",\"logger\":\"");
    Append(dest, JsonEscape(std::string_view(msg.logger_name.data(), msg.logger_name.size())));
    Append(dest, "\",\"thread\":");
    Append(dest, std::to_string(msg.thread_id));
    Append(dest, ",\"msg\":\"");
    Append(dest, JsonEscape(std::string_view(msg.payload.data(), msg.payload.size())));
    Append(dest, "\"}\n");
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

}  // namespace

Result<LogLevel> ParseLogLevel(std::string_view name) {
  std::string n;
  for (char c : name) n.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c));
  if (n == "trace") return LogLevel::kTrace;
  if (n == "debug") return LogLevel::kDebug;
  if (n == "info") return LogLevel::kInfo;
  if (n == "warn" || n == "warning") return LogLevel::kWarn;
  if (n == "error" || n == "err") return LogLevel::kError;
  if (n == "critical") return LogLevel::kCritical;
  if (n == "off") return LogLevel::kOff;
  return InvalidArgument("unknown log level '" + std::string(name) +
                         "'; expected trace, debug, info, warn, error, critical or off");
}

Result<LogFormat> ParseLogFormat(std::string_view name) {
  if (name == "text") return LogFormat::kText;
  if (name == "json") return LogFormat::kJson;
  return InvalidArgument("unknown log format '" + std::string(name) + "'; expected text or json");
}

std::string JsonEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 8);
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (u < 0x20 || u == 0x7f) {
          char buf[8];
          (void)std::snprintf(buf, sizeof(buf), "\\u%04x", u);  // 6 characters: cannot truncate
          out += buf;
        } else {
          out.push_back(c);
        }
    }
  }
  return out;
}

Status SetupLogging(const LogOptions& options) {
  std::string level_text = options.level;
  std::string level_source = "log level";
  if (const char* env = std::getenv("KMRA_LOG_LEVEL"); env != nullptr && *env != '\0') {
    level_text = env;
    level_source = "KMRA_LOG_LEVEL";
  }
  auto level = ParseLogLevel(level_text);
  if (!level) return tl::unexpected<Error>(level.error().WithContext(level_source));

  std::shared_ptr<spdlog::sinks::sink> sink;
  try {
    if (options.file.empty()) {
      sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    } else {
      // Create the file 0600 ourselves: spdlog would create it with the umask's mode.
      int fd = ::open(options.file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
      if (fd < 0) {
        return Unavailable("cannot open log file '" + options.file + "': " + std::strerror(errno));
      }
      ::close(fd);
      sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(options.file, false);
    }
    if (options.format == LogFormat::kJson) {
      sink->set_formatter(std::make_unique<JsonFormatter>());
    } else {
      sink->set_formatter(std::make_unique<TextFormatter>());
    }
    auto logger = std::make_shared<spdlog::logger>(options.name, sink);
    logger->set_level(ToSpd(*level));
    logger->flush_on(spdlog::level::warn);
    spdlog::set_default_logger(logger);
  } catch (const std::exception& e) {  // spdlog reports failures by throwing spdlog_ex
    return Unavailable(std::string("cannot set up logging: ") + e.what());
  }
  return OkStatus();
}

}  // namespace kmra
