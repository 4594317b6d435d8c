// core/log: process-wide structured logging set-up (spdlog). Call init_logging once from main.
#pragma once

#include <string_view>

namespace ucr::core {

/// Configures the default logger: level is one of trace, debug, info, warn, error, off.
void init_logging(std::string_view level);

/// Turns the access log (one line per HTTP request, on standard output) on or off.
void set_access_log(bool enabled);

/// Writes one access-log line when the access log is on. Thread-safe.
void log_access(std::string_view line);

/// Writes one informational line. Thread-safe.
void log_info(std::string_view message);
/// Writes one warning line. Thread-safe.
void log_warn(std::string_view message);
/// Writes one error line. Thread-safe.
void log_error(std::string_view message);

}  // namespace ucr::core
