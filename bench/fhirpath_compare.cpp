// Evaluations per second of ucr::fhirpath on the cases of bench/fhirpath_cases.json, measured the same way
// as bench/fhirpath-js/bench.js measures HL7's fhirpath.js (see bench/fhirpath_compare.sh): each expression
// is compiled once, evaluated on its resource for a warm-up, then in batches for ~1 s; prints
// {"name": evals_per_sec}.
//
// usage: ucr_bench_fhirpath_compare [--counts] [--seconds S] [--root DIR] CASES.json
//   --counts   evaluate each case once and print {"name": result_count} instead of timing
//   --seconds  measuring time per case (default 1)
//   --root     directory the "resource" paths are relative to (default: the parent of the cases file's
//              directory, i.e. the repository root for bench/fhirpath_cases.json)
#include "fhirpath/fhirpath.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace json = boost::json;
namespace fp = ucr::fhirpath;
using Clock = std::chrono::steady_clock;

[[noreturn]] void usage(std::string_view msg) {
  if (!msg.empty()) std::cerr << "ucr_bench_fhirpath_compare: " << msg << '\n';
  std::cerr << "usage: ucr_bench_fhirpath_compare [--counts] [--seconds S] [--root DIR] CASES.json\n";
  std::exit(2);
}

std::optional<std::string> read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return std::move(text).str();
}

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// Keeps the results alive so the evaluations cannot be optimised away.
volatile std::size_t g_sink = 0;

std::size_t run_once(const fp::Expression& expr, const json::value& resource) {
  auto r = fp::evaluate(expr, resource);
  return r ? r->size() : 0;
}

double measure(const fp::Expression& expr, const json::value& resource, double seconds) {
  std::size_t sink = 0;
  // Warm-up: at least 0.2 s (or a fifth of the measuring time) and 10 evaluations.
  const double warm_up = seconds / 5 < 0.2 ? seconds / 5 : 0.2;
  const auto warm_start = Clock::now();
  for (int n = 0; n < 10 || seconds_since(warm_start) < warm_up; ++n) sink += run_once(expr, resource);
  // Batch size: ~10 ms per batch so the clock is read rarely.
  std::int64_t batch = 1;
  for (;;) {
    const auto t0 = Clock::now();
    for (std::int64_t i = 0; i < batch; ++i) sink += run_once(expr, resource);
    if (seconds_since(t0) >= 0.01 || batch >= (std::int64_t{1} << 30)) break;
    batch *= 2;
  }
  std::int64_t iterations = 0;
  const auto start = Clock::now();
  double elapsed = 0;
  do {
    for (std::int64_t i = 0; i < batch; ++i) sink += run_once(expr, resource);
    iterations += batch;
    elapsed = seconds_since(start);
  } while (elapsed < seconds);
  g_sink = g_sink + sink;
  return static_cast<double>(iterations) / elapsed;
}

}  // namespace

int main(int argc, char** argv) {
  bool counts_only = false;
  double seconds = 1;
  std::optional<std::filesystem::path> root;
  std::optional<std::filesystem::path> cases_path;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--counts") {
      counts_only = true;
    } else if (a == "--seconds" && i + 1 < argc) {
      seconds = std::strtod(argv[++i], nullptr);
    } else if (a == "--root" && i + 1 < argc) {
      root = argv[++i];
    } else if (a.starts_with("-")) {
      usage("unknown option " + std::string(a));
    } else if (!cases_path) {
      cases_path = a;
    } else {
      usage("more than one cases file");
    }
  }
  if (!cases_path) usage("no cases file");
  if (!(seconds > 0)) usage("--seconds must be positive");
  if (!root) root = std::filesystem::absolute(*cases_path).parent_path().parent_path();

  const auto cases_text = read_file(*cases_path);
  if (!cases_text) usage("cannot read " + cases_path->string());
  boost::system::error_code ec;
  const json::value cases = json::parse(*cases_text, ec);
  if (ec || !cases.is_array()) usage("cases file is not a JSON array: " + cases_path->string());

  json::object out;
  int failures = 0;
  for (const auto& item : cases.as_array()) {
    const auto* c = item.if_object();
    const auto* name = c ? c->if_contains("name") : nullptr;
    const auto* expression = c ? c->if_contains("expression") : nullptr;
    const auto* resource_path = c ? c->if_contains("resource") : nullptr;
    if (!name || !name->is_string() || !expression || !expression->is_string() || !resource_path ||
        !resource_path->is_string()) {
      usage("each case needs string members name, expression and resource");
    }
    const std::string case_name(name->as_string());
    const auto fail = [&](std::string_view why) {
      std::cerr << "ucr_bench_fhirpath_compare: " << case_name << ": " << why << '\n';
      out[case_name] = nullptr;
      ++failures;
    };
    const auto resource_text = read_file(*root / std::string(resource_path->as_string()));
    if (!resource_text) {
      fail("cannot read " + std::string(resource_path->as_string()));
      continue;
    }
    const json::value resource = json::parse(*resource_text, ec);
    if (ec) {
      fail("invalid JSON: " + ec.message());
      continue;
    }
    auto expr = fp::compile(expression->as_string());
    if (!expr) {
      fail(expr.error().message());
      continue;
    }
    auto first = fp::evaluate(**expr, resource);
    if (!first) {
      fail(first.error().message());
      continue;
    }
    if (counts_only) {
      out[case_name] = first->size();
    } else {
      out[case_name] = static_cast<std::int64_t>(measure(**expr, resource, seconds) + 0.5);
    }
  }
  std::cout << json::serialize(out) << '\n';
  return failures == 0 ? 0 : 1;
}
