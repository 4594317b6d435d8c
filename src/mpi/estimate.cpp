// EM estimation of Fellegi-Sunter m/u probabilities (declared in mpi/matcher.hpp).
#include "mpi/matcher.hpp"

#include <algorithm>
#include <cmath>
#include <map>

namespace ucr::mpi {
namespace {

/// Distinct comparison vectors with their counts: EM then costs per pattern, not per pair.
std::vector<std::pair<ComparisonVector, double>> patterns_of(std::span<const ComparisonVector> sample) {
  std::map<ComparisonVector, double> counts;
  for (const auto& v : sample) counts[v] += 1.0;
  return {counts.begin(), counts.end()};
}

}  // namespace

core::Result<EmResult> estimate_weights(std::span<const ComparisonVector> sample, const MatchConfig& start,
                                        const EmOptions& options) {
  if (sample.empty()) return core::Error::invalid("estimate_weights: the sample is empty");
  const auto patterns = patterns_of(sample);
  const double floor = std::clamp(options.floor, 1e-12, 0.01);
  const auto clamp = [floor](double p) { return std::clamp(p, floor, 1.0 - floor); };

  EmResult result;
  result.config = start;
  auto& c = result.config;
  for (std::size_t f = 0; f < kFieldCount; ++f) {
    c.levels[f].resize(level_names(static_cast<Field>(f)).size());
  }
  std::vector<double> g(patterns.size());

  for (int iter = 1; iter <= options.max_iterations; ++iter) {
    result.iterations = iter;
    // E step: posterior probability that each pattern is a match.
    double log_likelihood = 0;
    for (std::size_t k = 0; k < patterns.size(); ++k) {
      double log_m = std::log(clamp(c.prior));
      double log_u = std::log(clamp(1.0 - c.prior));
      for (std::size_t f = 0; f < kFieldCount; ++f) {
        const int level = patterns[k].first[f];
        if (level < 0) continue;
        const auto& w = c.levels[f][static_cast<std::size_t>(level)];
        log_m += std::log(w.m);
        log_u += std::log(w.u);
      }
      const double hi = std::max(log_m, log_u);
      const double total = hi + std::log(std::exp(log_m - hi) + std::exp(log_u - hi));
      g[k] = std::exp(log_m - total);
      log_likelihood += patterns[k].second * total;
    }
    result.log_likelihood = log_likelihood;

    // M step: expected level frequencies among matches and non-matches, over pairs holding the field.
    double moved = 0;
    double matches = 0;
    double n = 0;
    for (std::size_t k = 0; k < patterns.size(); ++k) {
      matches += patterns[k].second * g[k];
      n += patterns[k].second;
    }
    if (options.estimate_prior) {
      const double prior = clamp(matches / n);
      moved = std::max(moved, std::abs(prior - c.prior));
      c.prior = prior;
    }
    for (std::size_t f = 0; f < kFieldCount; ++f) {
      auto& levels = c.levels[f];
      std::vector<double> m_count(levels.size(), 0.0);
      std::vector<double> u_count(levels.size(), 0.0);
      for (std::size_t k = 0; k < patterns.size(); ++k) {
        const int level = patterns[k].first[f];
        if (level < 0) continue;
        m_count[static_cast<std::size_t>(level)] += patterns[k].second * g[k];
        u_count[static_cast<std::size_t>(level)] += patterns[k].second * (1.0 - g[k]);
      }
      double m_total = 0;
      double u_total = 0;
      for (std::size_t l = 0; l < levels.size(); ++l) {
        m_total += m_count[l];
        u_total += u_count[l];
      }
      for (std::size_t l = 0; l < levels.size(); ++l) {
        // A field never observed keeps its start values: the data say nothing about it.
        if (m_total > 0) {
          const double m = clamp(m_count[l] / m_total);
          moved = std::max(moved, std::abs(m - levels[l].m));
          levels[l].m = m;
        }
        if (u_total > 0) {
          const double u = clamp(u_count[l] / u_total);
          moved = std::max(moved, std::abs(u - levels[l].u));
          levels[l].u = u;
        }
      }
    }
    if (moved < options.tolerance) {
      result.converged = true;
      break;
    }
  }
  return result;
}

core::Result<EmResult> estimate_weights(std::span<const std::pair<PatientRecord, PatientRecord>> pairs,
                                        const MatchConfig& start, const EmOptions& options) {
  std::vector<ComparisonVector> sample;
  sample.reserve(pairs.size());
  for (const auto& [a, b] : pairs) sample.push_back(compare(a, b));
  return estimate_weights(sample, start, options);
}

}  // namespace ucr::mpi
