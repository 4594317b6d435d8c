#include "core/log.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>

namespace ucr::core {
namespace {

std::atomic<bool> g_access_enabled{true};  // NOLINT: process-wide logging switch set once from main

std::shared_ptr<spdlog::logger> access_logger() {
  static const auto kLogger = [] {
    auto l = spdlog::stdout_logger_mt("access");
    l->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ access %v", spdlog::pattern_time_type::utc);
    return l;
  }();
  return kLogger;
}

}  // namespace

void set_access_log(bool enabled) {
  g_access_enabled.store(enabled);
  if (enabled) (void)access_logger();
}

void log_access(std::string_view line) {
  if (!g_access_enabled.load(std::memory_order_relaxed)) return;
  access_logger()->info("{}", line);
}

void init_logging(std::string_view level) {
  auto logger = spdlog::stderr_logger_mt("ucr");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %v", spdlog::pattern_time_type::utc);
  logger->set_level(spdlog::level::from_str(std::string(level)));
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(logger);
  // Standard output is block-buffered when redirected; flush it regularly so logs stay timely.
  spdlog::flush_every(std::chrono::seconds(1));
}

void log_info(std::string_view message) { spdlog::info("{}", message); }
void log_warn(std::string_view message) { spdlog::warn("{}", message); }
void log_error(std::string_view message) { spdlog::error("{}", message); }

}  // namespace ucr::core
