// core/metrics: lock-free counters and latency histograms rendered in Prometheus text format.
// All members are safe to update from any thread.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

namespace ucr::core {

/// A cumulative latency histogram with fixed bucket bounds in seconds.
class Histogram {
 public:
  static constexpr std::array<double, 14> kBounds = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                     0.025,  0.05,    0.1,    0.25,  0.5,    1.0,   2.5};

  /// Records one observation of `micros` microseconds.
  void observe_micros(std::int64_t micros);

  /// Appends the `_bucket`, `_sum` and `_count` lines for `name` with the given label text (may be empty).
  void render(std::string& out, std::string_view name, std::string_view labels) const;

  [[nodiscard]] std::uint64_t count() const { return count_.load(std::memory_order_relaxed); }

 private:
  std::array<std::atomic<std::uint64_t>, kBounds.size()> buckets_{};
  std::atomic<std::uint64_t> count_{0};
  std::atomic<std::uint64_t> sum_micros_{0};
};

}  // namespace ucr::core
