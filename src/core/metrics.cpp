#include "core/metrics.hpp"

#include <fmt/format.h>

namespace ucr::core {

void Histogram::observe_micros(std::int64_t micros) {
  const double secs = static_cast<double>(micros) / 1e6;
  for (std::size_t i = 0; i < kBounds.size(); ++i) {
    if (secs <= kBounds.at(i)) {
      buckets_.at(i).fetch_add(1, std::memory_order_relaxed);
      break;
    }
  }
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_micros_.fetch_add(static_cast<std::uint64_t>(micros < 0 ? 0 : micros), std::memory_order_relaxed);
}

void Histogram::render(std::string& out, std::string_view name, std::string_view labels) const {
  const std::string sep = labels.empty() ? "" : ",";
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < kBounds.size(); ++i) {
    cumulative += buckets_.at(i).load(std::memory_order_relaxed);
    out += fmt::format("{}_bucket{{{}{}le=\"{}\"}} {}\n", name, labels, sep, kBounds.at(i), cumulative);
  }
  const auto total = count_.load(std::memory_order_relaxed);
  out += fmt::format("{}_bucket{{{}{}le=\"+Inf\"}} {}\n", name, labels, sep, total);
  const std::string braces = labels.empty() ? "" : fmt::format("{{{}}}", labels);
  out += fmt::format("{}_sum{} {}\n", name, braces,
                     static_cast<double>(sum_micros_.load(std::memory_order_relaxed)) / 1e6);
  out += fmt::format("{}_count{} {}\n", name, braces, total);
}

}  // namespace ucr::core
