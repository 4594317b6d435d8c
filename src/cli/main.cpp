// cli: the `ucr` program and its subcommands. The only place executables are defined.
#include "api/api.hpp"
#include "api/bulk_export.hpp"
#include "api/bulk_import.hpp"
#include "api/copy.hpp"
#include "api/request.hpp"
#include "audit/audit.hpp"
#include "auth/provider.hpp"
#include "cli/security.hpp"
#include "core/log.hpp"
#include "demo/demo.hpp"
#include "fhir/outcome.hpp"
#include "fhir/validator.hpp"
#include "fhirpath/fhirpath.hpp"
#include "http/server.hpp"
#include "http/static_files.hpp"
#include "mpi/evaluation.hpp"
#include "mpi/matcher.hpp"
#include "mpi/population.hpp"
#include "store/postgres/postgres_store.hpp"
#include "store/sqlite/sqlite_store.hpp"

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#if UCR_MIMALLOC
#include <mimalloc.h>
#endif
#include <boost/json.hpp>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <thread>

namespace {

using namespace ucr;

bool split_listen(const std::string& listen, std::string& host, std::uint16_t& port) {
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos) return false;
  host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  try {
    const int p = std::stoi(listen.substr(colon + 1));
    if (p < 0 || p > 65535) return false;
    port = static_cast<std::uint16_t>(p);
  } catch (const std::exception&) {
    return false;
  }
  return !host.empty();
}

/// Reads and parses a JSON file ('-' for standard input); on failure says why in `why`.
std::optional<boost::json::value> read_json(const std::string& file, std::string& why) {
  std::stringstream ss;
  if (file == "-") {
    ss << std::cin.rdbuf();
  } else {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
      why = "cannot read " + file;
      return std::nullopt;
    }
    ss << in.rdbuf();
  }
  boost::system::error_code ec;
  auto v = boost::json::parse(ss.str(), ec);
  if (ec) {
    why = fmt::format("{} is not valid JSON: {}", file, ec.message());
    return std::nullopt;
  }
  return v;
}

int fail(const std::string& message) {
  std::cerr << "ucr: " << message << "\n";
  return 1;
}

/// Settings of `ucr match evaluate` beyond the population's.
struct MatchEvaluateArgs {
  mpi::PopulationOptions population;
  std::string config_file;
  bool estimate = false;
  bool print_config = false;
  bool json = false;
  bool quiet = false;
  std::size_t examples = 5;
};

/// Settings of `ucr match generate`.
struct MatchGenerateArgs {
  mpi::PopulationOptions population;
  std::string records = "all";  ///< all | persons | copies
  std::string out = "-";
};

/// Writes the generated Patients as NDJSON (one Patient a line), e.g. for `ucr import` or $match queries.
int match_generate(const MatchGenerateArgs& args) {
  if (auto valid = args.population.validate(); !valid) return fail(valid.error().message());
  std::ofstream file;
  if (args.out != "-") {
    file.open(args.out, std::ios::binary | std::ios::trunc);
    if (!file) return fail("cannot write " + args.out);
  }
  std::ostream& out = args.out == "-" ? std::cout : file;
  std::size_t written = 0;
  auto persons =
      mpi::generate_patients(args.population, [&](const boost::json::object& patient, const mpi::RecordLabel& label) {
        if ((args.records == "persons" && !label.original) || (args.records == "copies" && label.original)) return;
        out << boost::json::serialize(patient) << '\n';
        ++written;
      });
  if (!persons) return fail(persons.error().message());
  out.flush();
  if (!out) return fail("writing " + args.out + " failed");
  std::cerr << fmt::format("match: {} Patients written ({} of {} persons)\n", written, args.records, persons->size());
  return 0;
}

/// Progress of a long stage on standard error: a rewritten line on a terminal, else a line per 10%.
mpi::ProgressFn stderr_progress(bool enabled) {
  if (!enabled) return {};
  const bool tty = isatty(STDERR_FILENO) != 0;
  return [tty, next = std::size_t{0}](std::string_view stage, std::size_t done, std::size_t total) mutable {
    if (done <= 1) next = 0;
    const auto percent = total == 0 ? std::size_t{100} : done * 100 / total;
    if (tty) {
      std::cerr << fmt::format("\rmatch: {} {}/{} ({}%)   ", stage, done, total, percent);
      if (done == total) std::cerr << "\n";
      std::cerr << std::flush;
    } else if (done >= next || done == total) {
      std::cerr << fmt::format("match: {} {}/{} ({}%)\n", stage, done, total, percent);
      next = done + std::max<std::size_t>(1, total / 10);
    }
  };
}

int match_evaluate(const MatchEvaluateArgs& args) {
  using Clock = std::chrono::steady_clock;
  auto config = mpi::MatchConfig::defaults();
  if (!args.config_file.empty()) {
    std::string why;
    auto json = read_json(args.config_file, why);
    if (!json) return fail(why);
    auto loaded = mpi::MatchConfig::from_json(*json);
    if (!loaded) return fail(fmt::format("{}: {}", args.config_file, loaded.error().message()));
    config = std::move(*loaded);
  }
  if (auto valid = args.population.validate(); !valid) return fail(valid.error().message());
  // Progress for populations that take more than a moment.
  const bool show_progress = !args.quiet && args.population.people >= 50000;
  const auto progress = stderr_progress(show_progress);
  const auto generating = Clock::now();
  if (show_progress) std::cerr << fmt::format("match: generating {} people\n", args.population.people);
  auto population = mpi::generate_population(args.population);
  if (!population) return fail(population.error().message());
  const double generate_seconds = std::chrono::duration<double>(Clock::now() - generating).count();
  if (show_progress) {
    std::cerr << fmt::format("match: {} records of {} people generated in {:.1f} s\n", population->records.size(),
                             population->persons.size(), generate_seconds);
  }
  const auto candidates = mpi::candidate_pairs(population->records, progress);

  boost::json::object em_json;
  if (args.estimate) {
    const auto sample = mpi::compare_pairs(population->records, candidates, progress);
    auto em = mpi::estimate_weights(sample, config);
    if (!em) return fail("EM estimation failed: " + em.error().message());
    em_json = boost::json::object{{"iterations", em->iterations},
                                  {"converged", em->converged},
                                  {"log_likelihood", em->log_likelihood},
                                  {"prior", em->config.prior}};
    if (!args.json) {
      std::cerr << fmt::format("match: EM over {} candidate pairs: {} iterations, {}, estimated prior {:.4f}\n",
                               sample.size(), em->iterations, em->converged ? "converged" : "NOT converged",
                               em->config.prior);
    }
    config = std::move(em->config);
  }

  const mpi::Matcher matcher(config);
  const auto evaluation = mpi::evaluate(*population, candidates, matcher,
                                        mpi::EvaluationOptions{.max_examples = args.examples, .progress = progress});
  if (args.json) {
    boost::json::object out{{"population", args.population.to_json()},
                            {"generate_seconds", generate_seconds},
                            {"weights", args.estimate              ? "estimated"
                                        : args.config_file.empty() ? "default"
                                                                   : "file"},
                            {"evaluation", evaluation.to_json()}};
    if (args.estimate) out["em"] = std::move(em_json);
    if (args.print_config) out["config"] = config.to_json();
    std::cout << boost::json::serialize(out) << "\n";
    return 0;
  }
  const auto& o = args.population;
  const auto& r = o.rates;
  std::cout << fmt::format(
      "ucr match evaluate: {} people, seed {}, {} copies per person; look-alikes: twins {}, namesakes {}, "
      "parent-child {}\n"
      "corruption: missing NHS {}, nickname {}, given typo {}, family typo {}, married {} (maiden kept {}), "
      "transposed date {}, date typo {}, moved {} (out of date {}), phone changed {} / missing {}, e-mail missing {}, "
      "gender missing {}, middle dropped {}\n"
      "evidence: address history kept {}; GP practice missing {}, changed {}, changed on a move {}\n"
      "weights: {}; generated in {:.2f} s\n\n",
      o.people, o.seed, o.copies_per_person, o.twin_rate, o.namesake_rate, o.parent_child_rate, r.missing_nhs,
      r.nickname, r.given_typo, r.family_typo, r.married, r.maiden_kept, r.transposed_date, r.date_typo, r.moved,
      r.moved_stale, r.phone_changed, r.phone_missing, r.email_missing, r.gender_missing, r.middle_dropped,
      o.address_history, r.gp_missing, r.gp_changed, r.gp_moved,
      args.estimate              ? "estimated by EM from the candidate pairs"
      : args.config_file.empty() ? "default (data/mpi/match-config.json)"
                                 : args.config_file,
      generate_seconds);
  std::cout << evaluation.to_text();
  if (args.print_config) std::cout << "\nconfig: " << boost::json::serialize(config.to_json()) << "\n";
  return 0;
}

int load_demo(store::Store& store, const demo::Options& options, const demo::LoadOptions& load_options) {
  api::Api api(store, api::ApiOptions{});
  const bool tty = isatty(STDERR_FILENO) != 0;
  const std::size_t step = std::max<std::size_t>(1, options.people / 10);
  std::size_t next_line = step;
  const auto line = [](const demo::Progress& p) {
    return fmt::format("demo: {}/{} people, {} resources, {:.0f} resources/s", p.people_done, p.people_total,
                       p.resources_done, p.resources_per_second);
  };
  auto r = demo::load(api, options, load_options, [&](const demo::Progress& p) {
    if (tty) {
      std::cerr << "\r" << line(p) << "   " << std::flush;
    } else if (p.people_done >= next_line || p.people_done == p.people_total) {
      std::cerr << line(p) << "\n";
      next_line = p.people_done + step;
    }
  });
  if (tty) std::cerr << "\n";
  if (!r) return fail("demo data could not be loaded: " + r.error().message());
  std::cerr << fmt::format("demo: loaded {} people ({} resources) in {:.1f} s, {:.0f} resources/s\n", r->people_done,
                           r->resources_done, r->seconds, r->resources_per_second);
  return 0;
}

/// The embedded database in `data_dir`, or the PostgreSQL database `database` when given.
core::Result<std::unique_ptr<store::Store>> open_store(const std::string& data_dir, const std::string& database,
                                                       std::size_t pool_size, std::size_t writer_cache_mib = 64,
                                                       bool bulk_load = false) {
  if (database.empty()) {
    store::SqliteOptions options{data_dir};
    options.writer_cache_mib = writer_cache_mib;
    // An import's commits are large (10,000 pages for 500 Patients in a store of a million):
    // the writer leaves copying them into the database to the background for longer.
    if (bulk_load) options.writer_checkpoint_pages = 524'288;
    return store::open_sqlite_store(options);
  }
  if (!store::is_postgres_url(database)) {
    return core::Error::invalid(
        fmt::format("--database must be a PostgreSQL URL, postgresql://USER@HOST:PORT/DB; got '{}'",
                    store::redact_postgres_url(database)));
  }
  store::PostgresOptions options;
  options.url = database;
  options.pool_size = pool_size;
  return store::open_postgres_store(options);
}

/// `ucr admin copy`: the embedded database in `from_dir` into the PostgreSQL database `to_url`.
int copy_store(const std::string& from_dir, const std::string& to_url) {
  if (!store::is_postgres_url(to_url)) return fail("--to must be a PostgreSQL URL, postgresql://USER@HOST:PORT/DB");
  if (!std::filesystem::exists(std::filesystem::path(from_dir) / "ucr.db")) {
    return fail(fmt::format("{} holds no embedded database (no ucr.db)", from_dir));
  }
  auto from = store::open_sqlite_store(store::SqliteOptions{from_dir});
  if (!from) return fail(from.error().message());
  auto to = store::open_postgres_store(store::PostgresOptions{.url = to_url});
  if (!to) return fail(to.error().message());
  // The search parameters in force in the source (R4 plus its SearchParameter resources).
  api::ApiOptions options;
  options.link_patients = false;
  api::Api source_api(**from, options);
  const auto registry = source_api.search_parameters();
  const bool tty = isatty(STDERR_FILENO) != 0;
  std::string last_stage;
  std::size_t next = 0;
  auto report =
      api::copy_store(**from, **to, *registry, [&](std::string_view stage, std::size_t done, std::size_t total) {
        if (stage != last_stage) {
          if (tty && !last_stage.empty()) std::cerr << "\n";
          last_stage = stage;
          next = 0;
        }
        const std::size_t percent = total == 0 ? 100 : done * 100 / total;
        if (tty) {
          std::cerr << fmt::format("\rcopy: {} {}/{} ({}%)   ", stage, done, total, percent) << std::flush;
        } else if (done >= next || done == total) {
          std::cerr << fmt::format("copy: {} {}/{} ({}%)\n", stage, done, total, percent);
          next = done + std::max<std::size_t>(1, total / 10);
        }
      });
  if (tty) std::cerr << "\n";
  if (!report) return fail("copy failed: " + report.error().message());
  const auto line = [](const char* what, std::size_t a, std::size_t b) {
    return fmt::format("  {:<20} {:>12} {:>12}  {}\n", what, a, b, a == b ? "ok" : "DIFFERENT");
  };
  std::cout << fmt::format("  {:<20} {:>12} {:>12}\n", "", "source", "target")
            << line("versions", report->source.versions, report->target.versions)
            << line("resources", report->source.resources, report->target.resources)
            << line("audit entries", report->source.audit_entries, report->target.audit_entries)
            << line("bookkeeping values", report->source.meta_entries, report->target.meta_entries);
  if (!report->verified()) return fail("the counts differ: the copy is not complete");
  std::cout << "copy verified\n";
  return 0;
}

/// Where the data lives, for log lines (a URL without its password).
std::string data_location(const std::string& data_dir, const std::string& database) {
  return database.empty() ? data_dir : store::redact_postgres_url(database);
}

/// Arguments of `ucr import`.
struct ImportArgs {
  std::vector<std::string> paths;
  std::size_t batch = 500;
  std::size_t threads = 2;
  bool link = true;
  bool audit = true;
  std::size_t cache_mib = 1024;
};

/// Arguments of `ucr export`.
struct ExportArgs {
  std::string to;
  std::vector<std::string> types;
  std::string since;
  std::vector<std::string> type_filters;
  std::string group;
  bool patients = false;
  std::vector<std::string> elements;
  std::vector<std::string> associated;
  std::vector<std::string> only_patients;
};

std::string thousands(std::uint64_t n) {
  std::string s = std::to_string(n);
  for (auto i = static_cast<std::ptrdiff_t>(s.size()) - 3; i > 0; i -= 3) s.insert(static_cast<std::size_t>(i), ",");
  return s;
}

/// Reports long-running work on standard error: a rewritten line on a terminal, else a line every
/// few seconds.
class ProgressLine {
 public:
  explicit ProgressLine(std::string prefix) : prefix_(std::move(prefix)), tty_(isatty(STDERR_FILENO) != 0) {}
  void show(const std::string& text, bool last = false) {
    const auto now = std::chrono::steady_clock::now();
    if (tty_) {
      if (!last && now - shown_ < std::chrono::milliseconds(100)) return;
      std::cerr << "\r" << prefix_ << text << "\x1b[K" << (last ? "\n" : "") << std::flush;
    } else {
      if (!last && now - shown_ < std::chrono::seconds(5)) return;
      std::cerr << prefix_ << text << "\n";
    }
    shown_ = now;
  }

 private:
  std::string prefix_;
  bool tty_;
  std::chrono::steady_clock::time_point shown_{};
};

std::string bar(std::uint64_t done, std::uint64_t total) {
  constexpr int kWidth = 24;
  const int filled = total == 0 ? kWidth : static_cast<int>(done * kWidth / std::max<std::uint64_t>(total, 1));
  return "[" + std::string(static_cast<std::size_t>(std::min(filled, kWidth)), '#') +
         std::string(static_cast<std::size_t>(kWidth - std::min(filled, kWidth)), '.') + "]";
}

int run_import(store::Store& store, const ImportArgs& args) {
  using Clock = std::chrono::steady_clock;
  std::vector<std::filesystem::path> files;
  for (const auto& p : args.paths) {
    auto listed = api::Importer::list_files(p);
    if (!listed) return fail(listed.error().message());
    files.insert(files.end(), listed->begin(), listed->end());
  }
  if (files.empty())
    return fail("no .json or .ndjson files found in " + fmt::format("{}", fmt::join(args.paths, ", ")));
  const auto started = Clock::now();
  ProgressLine line("import: ");
  api::ImportOptions options;
  options.batch = args.batch;
  options.threads = args.threads;
  options.progress = [&](const api::ImportProgress& p) {
    const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
    const double rate = seconds > 0 ? static_cast<double>(p.resources) / seconds : 0.0;
    const auto percent = p.bytes_total == 0 ? 100 : p.bytes_done * 100 / p.bytes_total;
    line.show(fmt::format("{} {:3}% {}/{} files, {} resources, {:.0f}/s, {} rejected", bar(p.bytes_done, p.bytes_total),
                          percent, p.files_done, p.files_total, thousands(p.resources), rate, p.rejected));
  };
  api::ApiOptions api_options;
  api_options.link_patients = args.link;
  std::optional<audit::Recorder> recorder;
  if (args.audit) recorder.emplace(store);
  api::Importer importer(store, api_options, options);
  auto summary = importer.run(files);
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  if (!summary) return fail("import stopped (run it again to resume): " + summary.error().message());
  if (recorder) {
    audit::Event e;
    e.recorded = core::now_micros();
    e.subtype = "import";
    e.action = 'C';
    e.outcome = summary->rejected == 0 && summary->rejections.empty() ? 0 : 4;
    const char* user = std::getenv("USER");
    e.user = user != nullptr ? user : "operator";
    e.role = "operator";
    e.client_id = "ucr import";
    e.query = fmt::format("{}", fmt::join(args.paths, " "));
    e.outcome_text =
        fmt::format("{} created, {} updated, {} rejected", summary->created, summary->updated, summary->rejected);
    recorder->record(e);
    recorder->flush();
  }
  const std::size_t written = summary->created + summary->updated;
  line.show(fmt::format("{} 100% done", bar(1, 1)), true);
  std::cout << fmt::format(
      "import: {} files read, {} skipped (done before); {} created, {} updated, {} rejected in {:.1f} s "
      "({:.0f} resources/s)\n",
      summary->files, summary->files_skipped, thousands(summary->created), thousands(summary->updated),
      thousands(summary->rejected), seconds, seconds > 0 ? static_cast<double>(written) / seconds : 0.0);
  if (summary->deleted > 0) {
    std::cout << fmt::format("import: {} resources deleted (the DELETE Bundles of an export's deleted files)\n",
                             thousands(summary->deleted));
  }
  for (const auto& r : summary->rejections) std::cout << "rejected: " << r.where << ": " << r.reason << "\n";
  return summary->rejections.empty() ? 0 : 1;
}

int run_export(store::Store& store, const ExportArgs& args) {
  using Clock = std::chrono::steady_clock;
  api::Request request;
  request.method = "GET";
  request.path = "/fhir/$export";
  request.base_url = "file:";
  if (!args.types.empty()) request.query.emplace_back("_type", fmt::format("{}", fmt::join(args.types, ",")));
  if (!args.since.empty()) request.query.emplace_back("_since", args.since);
  for (const auto& f : args.type_filters) request.query.emplace_back("_typeFilter", f);
  if (!args.elements.empty()) request.query.emplace_back("_elements", fmt::format("{}", fmt::join(args.elements, ",")));
  if (!args.associated.empty()) {
    request.query.emplace_back("includeAssociatedData", fmt::format("{}", fmt::join(args.associated, ",")));
  }
  // `patient` is a POST kick-off's parameter (Bulk Data IG export.html#query-parameters).
  if (!args.only_patients.empty()) request.method = "POST";
  for (const auto& p : args.only_patients) request.query.emplace_back("patient", "Patient/" + p);
  const api::ExportLevel level = !args.group.empty() ? api::ExportLevel::group
                                 : args.patients     ? api::ExportLevel::patient
                                                     : api::ExportLevel::system;
  auto spec = api::parse_export_request(request, level, args.group, search::Registry::r4(), &store);
  if (!spec) return fail(spec.error().message());
  const auto started = Clock::now();
  ProgressLine line("export: ");
  api::ExportRun run;
  run.transaction_time = api::export_transaction_time();
  // Versions stamped up to the transaction time are then all written (this process has no
  // writer of its own to wait for).
  while (core::now_micros() <= run.transaction_time) std::this_thread::sleep_for(std::chrono::microseconds(200));
  run.directory = args.to;
  run.progress = [&](const api::ExportProgress& p) {
    const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
    line.show(fmt::format("{} {}/{} types, {} resources, {:.1f} MB, {:.0f} resources/s ({})",
                          bar(p.types_done, p.types_total), p.types_done, p.types_total, thousands(p.resources),
                          static_cast<double>(p.bytes) / 1e6,
                          seconds > 0 ? static_cast<double>(p.resources) / seconds : 0.0, p.type));
  };
  auto result = api::write_export(store, *spec, run);
  if (!result) return fail("export failed: " + result.error().message());
  const auto* files = &result->output;
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  std::size_t resources = 0;
  std::uint64_t bytes = 0;
  boost::json::array output;
  for (const auto& f : *files) {
    resources += f.count;
    bytes += f.bytes;
    output.emplace_back(
        boost::json::object{{"type", f.type}, {"url", f.name}, {"count", static_cast<std::int64_t>(f.count)}});
  }
  boost::json::array errors;
  for (const auto& f : result->errors) {
    errors.emplace_back(
        boost::json::object{{"type", f.type}, {"url", f.name}, {"count", static_cast<std::int64_t>(f.count)}});
  }
  boost::json::object manifest{{"transactionTime", core::format_instant(run.transaction_time)},
                               {"request", "ucr export"},
                               {"requiresAccessToken", false},
                               {"output", std::move(output)},
                               {"error", std::move(errors)}};
  if (spec->since) {
    boost::json::array deleted;
    for (const auto& f : result->deleted) {
      deleted.emplace_back(
          boost::json::object{{"type", f.type}, {"url", f.name}, {"count", static_cast<std::int64_t>(f.count)}});
    }
    manifest["deleted"] = std::move(deleted);
  }
  std::ofstream out(std::filesystem::path(args.to) / "manifest.json", std::ios::binary | std::ios::trunc);
  out << boost::json::serialize(manifest) << "\n";
  if (!out) return fail("cannot write " + (std::filesystem::path(args.to) / "manifest.json").string());
  line.show(fmt::format("{} done", bar(1, 1)), true);
  for (const auto& f : result->errors) {
    std::cout << fmt::format("export: {} problems reported in {}\n", f.count,
                             (std::filesystem::path(args.to) / f.name).string());
  }
  std::cout << fmt::format(
      "export: {} resources in {} files, {:.1f} MB, in {:.1f} s ({:.0f} resources/s, {:.1f} MB/s); manifest: {}\n",
      thousands(resources), files->size(), static_cast<double>(bytes) / 1e6, seconds,
      seconds > 0 ? static_cast<double>(resources) / seconds : 0.0,
      seconds > 0 ? static_cast<double>(bytes) / 1e6 / seconds : 0.0,
      (std::filesystem::path(args.to) / "manifest.json").string());
  return 0;
}

/// The version, and the memory allocator the program was built with.
std::string version_text() {
#if UCR_MIMALLOC
  const int v = mi_version();
  return fmt::format("{} (allocator: mimalloc {}.{}.{})", UCR_VERSION, v / 100, (v / 10) % 10, v % 10);
#else
  return fmt::format("{} (allocator: the C library's)", UCR_VERSION);
#endif
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "ucr - the Universal Care Record: a FHIR R4 shared health and care record server.\n"
      "Run 'ucr <command> --help' for the options of each command."};
  app.require_subcommand(1);
  app.set_version_flag("--version", version_text());
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error or off")->capture_default_str();

  // serve
  auto* serve = app.add_subcommand("serve", "Serve the FHIR R4 API (base /fhir), /healthz and /metrics over HTTP.");
  std::string listen = "127.0.0.1:8080";
  std::string data_dir = "./ucr-data";
  http::ServerOptions sopts;
  std::size_t max_body_mib = 16;
  std::size_t demo_people = 0;
  bool no_access_log = false;
  serve->add_option("--listen", listen, "HOST:PORT to listen on (port 0 picks a free one)")->capture_default_str();
  serve
      ->add_option("--data", data_dir,
                   "Directory of the embedded database (created if missing) and of the signing keys")
      ->capture_default_str();
  std::string database;
  std::size_t pool_size = 16;
  cli::add_database_option(*serve, database);
  std::string key_file;
  cli::add_key_file_option(*serve, key_file);
  serve->add_option("--pool-size", pool_size, "Most connections to the PostgreSQL database (--database)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  serve
      ->add_option("--threads", sopts.io_threads,
                   "I/O threads (0: one per core; with --database, as many as --pool-size)")
      ->capture_default_str();
  serve->add_option("--max-body-mib", max_body_mib, "Largest request body accepted, in MiB (413 beyond)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  serve->add_option("--tls-cert", sopts.tls_cert, "PEM certificate chain; with --tls-key turns on HTTPS")
      ->check(CLI::ExistingFile);
  serve->add_option("--tls-key", sopts.tls_key, "PEM private key")->check(CLI::ExistingFile);
  serve->add_option("--public-base", sopts.public_base,
                    "External base URL used in links, e.g. https://ucr.example.org");
  serve->add_option("--web-root", sopts.web_root,
                    "Directory of the built web apps (web/dist), served at /app/; default: found beside the "
                    "executable or in the source tree");
  serve->add_option("--demo", demo_people, "Load this many synthetic people first when the database is empty");
  std::uint64_t demo_seed = demo::kDefaultSeed;
  serve->add_option("--demo-seed", demo_seed, "Seed of the synthetic population (--demo)")->capture_default_str();
  serve->add_flag("--no-access-log", no_access_log, "Do not write one line per request to standard output");
  std::string auth_mode = "on";
  std::string audit_mode = "on";
  std::string issuer;
  serve
      ->add_option("--auth", auth_mode,
                   "on: every request needs an access token from the built-in sign-in service (/oauth/...); "
                   "off: no authentication (development only, never with real data)")
      ->capture_default_str()
      ->check(CLI::IsMember({"on", "off"}));
  serve->add_option("--audit", audit_mode, "on: every access is recorded in the tamper-evident audit trail")
      ->capture_default_str()
      ->check(CLI::IsMember({"on", "off"}));
  std::vector<std::string> trusted_issuers;
  serve->add_option("--trust-issuer", trusted_issuers,
                    "Accept tokens of an external identity provider: 'ISSUER|JWKS_FILE|ROLE' (ES256 or RS256 keys; "
                    "ROLE is the ucr role of its users unless their token has a ucr_role claim); repeatable");
  std::size_t max_export_jobs = 2;
  std::int64_t export_retention_hours = 24;
  serve->add_option("--max-exports", max_export_jobs, "Bulk exports queued or running at once (429 beyond)")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  serve
      ->add_option("--export-retention-hours", export_retention_hours,
                   "Hours a finished bulk export's files stay downloadable (DATA/exports)")
      ->capture_default_str()
      ->check(CLI::Range(1, 24 * 365));
  serve->add_option("--issuer", issuer,
                    "The sign-in service's URL as clients see it (tokens' issuer); default --public-base, else "
                    "http://HOST:PORT of --listen");

  // demo
  auto* demo_cmd = app.add_subcommand(
      "demo", "Generate a synthetic Kent & Medway population (fictional people) and load it into the database.");
  demo::Options demo_options;
  demo::LoadOptions demo_load;
  demo_cmd->add_option("--data", data_dir, "Directory of the embedded database")->capture_default_str();
  cli::add_database_option(*demo_cmd, database);
  demo_cmd->add_option("--patients,--people", demo_options.people, "How many people to create")
      ->capture_default_str()
      ->check(CLI::Range(1, 10000000));
  demo_cmd->add_option("--seed", demo_options.seed, "Seed: the same seed and size give the same population")
      ->capture_default_str();
  demo_cmd->add_option("--threads", demo_load.threads, "Loading threads")
      ->capture_default_str()
      ->check(CLI::Range(1, 16));
  demo_cmd
      ->add_option("--batch", demo_load.people_per_bundle,
                   "People per transaction Bundle (about 57 resources each; a Bundle holds at most 10,000 entries)")
      ->capture_default_str()
      ->check(CLI::Range(1, 120));

  // import
  auto* import_cmd = app.add_subcommand(
      "import",
      "Load FHIR Bundles (transaction, batch, collection; Synthea output) and NDJSON files (one resource per line) "
      "through the FHIR API: validated, indexed and identity-checked as over HTTP. Each Bundle is all or nothing; "
      "NDJSON lines with an id are stored under that id. Running it again resumes where it stopped and skips "
      "finished files. Exit 1 when anything was rejected.");
  ImportArgs import_args;
  import_cmd->add_option("PATH", import_args.paths, "Files or directories (.json Bundles, .ndjson)")->required();
  import_cmd->add_option("--data", data_dir, "Directory of the embedded database")->capture_default_str();
  import_cmd->add_option("--batch", import_args.batch, "NDJSON lines per transaction")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  import_cmd
      ->add_option("--threads", import_args.threads,
                   "Files imported at once (Synthea's hospital and practitioner files go first, alone). Within a file, "
                   "one batch is prepared and matched while the one before it is written, in file order")
      ->capture_default_str()
      ->check(CLI::Range(1, 16));
  import_cmd->add_flag("!--no-link", import_args.link,
                       "Do not match arriving Patients against the stored ones (record linkage)");
  import_cmd->add_flag("!--no-audit", import_args.audit, "Do not record the import in the audit trail");
  import_cmd
      ->add_option("--cache-mib", import_args.cache_mib,
                   "The embedded database writer's page cache, in MiB: a large import into a large database "
                   "inserts into index pages all over each index, and a cache that holds them saves reading them "
                   "again (ucr serve uses 64)")
      ->capture_default_str()
      ->check(CLI::Range(16, 65536));

  // export
  auto* export_cmd = app.add_subcommand("export",
                                        "Write every resource (as it is now) as FHIR Bulk Data NDJSON files, one or "
                                        "more per type, with a manifest.json.");
  ExportArgs export_args;
  export_cmd->add_option("--to", export_args.to, "Directory for the NDJSON files (created if missing)")->required();
  export_cmd->add_option("--data", data_dir, "Directory of the embedded database")->capture_default_str();
  export_cmd->add_option("--type", export_args.types, "Only these resource types (repeatable or comma-separated)")
      ->delimiter(',');
  export_cmd->add_option(
      "--since", export_args.since,
      "Only resources changed at or after this instant; resources deleted since are listed in deleted-*.ndjson "
      "(transaction Bundles of DELETEs, the manifest's deleted), which ucr import applies");
  export_cmd->add_option("--type-filter", export_args.type_filters,
                         "Only resources matching this search, e.g. 'Observation?category=laboratory' (repeatable)");
  export_cmd->add_option("--group", export_args.group, "Only the compartments of this Group's member Patients");
  export_cmd->add_flag("--patients", export_args.patients, "Only the Patient compartments (as Patient/$export)");
  export_cmd
      ->add_option("--elements", export_args.elements,
                   "Only these elements (and the mandatory ones), e.g. Patient.name,birthDate; resources are "
                   "tagged SUBSETTED")
      ->delimiter(',');
  export_cmd
      ->add_option("--include-associated-data", export_args.associated,
                   "LatestProvenanceResources or RelevantProvenanceResources: the exported resources' Provenance")
      ->delimiter(',');
  export_cmd
      ->add_option("--patient", export_args.only_patients,
                   "With --patients or --group: only these Patient ids (repeatable or comma-separated)")
      ->delimiter(',');

  cli::SecurityArgs security;
  cli::add_security_commands(app, security, data_dir, database);
  auto* migrate = security.admin->add_subcommand(
      "migrate",
      "Create or upgrade the PostgreSQL schema to this ucr's version (ucr serve also does this when it starts); "
      "a database upgraded by a newer ucr is refused.");
  cli::add_database_option(*migrate, database)->required();
  auto* copy = security.admin->add_subcommand(
      "copy",
      "Copy an embedded database into an empty PostgreSQL database: every version, the search index, accounts "
      "and clients, and the audit trail; then count both and compare. Stop the servers of both first.");
  std::string copy_from;
  std::string copy_to;
  copy->add_option("--from", copy_from, "Directory of the embedded database to copy")
      ->required()
      ->check(CLI::ExistingDirectory);
  copy->add_option("--to", copy_to, "PostgreSQL URL of the (empty) target database")->required();

  // check
  auto* check = app.add_subcommand("check", "Check the embedded database's integrity (exit 0 when sound).");
  check->add_option("--data", data_dir, "Directory of the embedded database")->capture_default_str();
  cli::add_database_option(*check, database);

  // validate
  auto* validate = app.add_subcommand("validate", "Validate a FHIR R4 JSON resource file; prints an OperationOutcome.");
  std::string file;
  validate->add_option("FILE", file, "The JSON file to validate ('-' for standard input)")->required();

  // fhirpath
  auto* fp = app.add_subcommand("fhirpath",
                                "Evaluate a FHIRPath expression on a JSON resource; prints the result "
                                "collection as JSON with the type of each item.");
  std::string expression;
  std::string input_file;
  fp->add_option("EXPRESSION", expression, "The FHIRPath expression, e.g. \"Patient.name.given\"")->required();
  fp->add_option("--input", input_file, "The resource (JSON file, '-' for standard input); none: empty input");

  // match evaluate
  auto* match = app.add_subcommand("match", "Patient matching (record linkage) tools.");
  match->require_subcommand(1);
  auto* match_eval = match->add_subcommand(
      "evaluate",
      "Generate a labelled synthetic population (fictional people, corrupted copies from other systems, twins and "
      "namesakes), block and score every candidate pair, and report precision, recall and F1 of auto-links "
      "(grade certain) and of the review queue (probable, possible) against the truth.");
  MatchEvaluateArgs mea;
  auto& pop = mea.population;
  auto& rates = pop.rates;
  pop.people = 10000;
  const auto rate = [&](const std::string& name, double& value, const std::string& what) {
    return match_eval->add_option(name, value, what)->capture_default_str()->check(CLI::Range(0.0, 1.0));
  };
  match_eval->add_option("--people", pop.people, "People generated (look-alikes and copies come on top)")
      ->capture_default_str()
      ->check(CLI::Range(1, 2000000));
  match_eval->add_option("--seed", pop.seed, "Seed: the same seed and options give the same population")
      ->capture_default_str();
  match_eval
      ->add_option("--copies", pop.copies_per_person, "Mean corrupted copies per person held by other systems (0-20)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 20.0));
  rate("--twin-rate", pop.twin_rate, "Share of people with a twin (same surname, birth date, address, phone)");
  rate("--namesake-rate", pop.namesake_rate,
       "Share of people with a namesake born the same day (same names and gender, elsewhere)");
  rate("--parent-child-rate", pop.parent_child_rate,
       "Share of people born by 1985 with a child of the same name at the same address");
  rate("--missing-nhs-rate", rates.missing_nhs, "Share of copies without an NHS number");
  double typo_rate = -1;
  auto* typo_opt = match_eval
                       ->add_option("--typo-rate", typo_rate,
                                    "Sets both --given-typo-rate and --family-typo-rate (unless given themselves)")
                       ->check(CLI::Range(0.0, 1.0));
  auto* given_typo =
      rate("--given-typo-rate", rates.given_typo, "Share of copies with a keying error in the given name");
  auto* family_typo =
      rate("--family-typo-rate", rates.family_typo, "Share of copies with a keying error in the family name");
  rate("--nickname-rate", rates.nickname, "Share of copies giving a short form of the given name (William -> Bill)");
  rate("--middle-dropped-rate", rates.middle_dropped, "Share of copies without the middle name");
  rate("--married-rate", rates.married, "Share of copies of women born before 2000 under another (married) surname");
  rate("--maiden-kept-rate", rates.maiden_kept, "Of those, the share that keep the old surname as a maiden name");
  rate("--transposed-date-rate", rates.transposed_date,
       "Share of copies with birth day and month swapped (when the day is 12 or less)");
  rate("--date-typo-rate", rates.date_typo, "Share of copies with one digit of the birth date wrong (day or year)");
  rate("--moved-rate", rates.moved, "Share of copies at another postcode");
  rate("--moved-stale-rate", rates.moved_stale,
       "Of those, the share that are out of date: the address (and GP practice) the person moved from");
  rate("--address-history-rate", pop.address_history,
       "Share of primary records that keep the previous address (use old), as PDS does");
  rate("--gp-missing-rate", rates.gp_missing, "Share of copies without the registered GP practice");
  rate("--gp-changed-rate", rates.gp_changed, "Share of copies with another practice without a move");
  rate("--gp-moved-rate", rates.gp_moved,
       "Share of moves that change the GP practice (the others stay in the district)");
  rate("--phone-changed-rate", rates.phone_changed, "Share of copies with another phone number");
  rate("--phone-missing-rate", rates.phone_missing, "Share of copies without a phone number (when not changed)");
  rate("--email-missing-rate", rates.email_missing, "Share of copies without the e-mail address");
  rate("--gender-missing-rate", rates.gender_missing, "Share of copies without gender");
  match_eval
      ->add_option("--config", mea.config_file,
                   "Match configuration JSON (weights, prior, thresholds, rules; as data/mpi/match-config.json); "
                   "absent settings keep the defaults")
      ->check(CLI::ExistingFile);
  match_eval->add_flag("--estimate", mea.estimate,
                       "Estimate m/u weights and the prior by EM on the candidate pairs first (starting from the "
                       "configuration) and evaluate with the estimates");
  match_eval->add_flag("--print-config", mea.print_config, "Also print the configuration evaluated, as JSON");
  match_eval->add_flag("--json", mea.json, "Print the report as one JSON object instead of tables");
  match_eval->add_option("--examples", mea.examples, "Wrong auto-links shown with their explanation")
      ->capture_default_str()
      ->check(CLI::Range(0, 1000));
  match_eval->add_flag("--quiet", mea.quiet, "No progress on standard error (shown from 50,000 people)");

  auto* match_gen = match->add_subcommand(
      "generate",
      "Write the synthetic population of `match evaluate` (default rates) as NDJSON, one FHIR Patient a line "
      "(ids syn-<n>): every person's primary record, then the corrupted copies other systems hold. For loading "
      "with `ucr import` and for $match queries.");
  MatchGenerateArgs mga;
  mga.population.people = 10000;
  match_gen->add_option("--people", mga.population.people, "People generated (look-alikes and copies come on top)")
      ->capture_default_str()
      ->check(CLI::Range(1, 2000000));
  match_gen->add_option("--seed", mga.population.seed, "Seed: the same seed and options give the same population")
      ->capture_default_str();
  match_gen->add_option("--copies", mga.population.copies_per_person, "Mean corrupted copies per person (0-20)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 20.0));
  match_gen
      ->add_option("--records", mga.records,
                   "Which records: all, persons (the primary records only) or copies (the corrupted copies only)")
      ->capture_default_str()
      ->check(CLI::IsMember({"all", "persons", "copies"}));
  match_gen->add_option("--out", mga.out, "NDJSON file to write ('-': standard output)")->capture_default_str();

  CLI11_PARSE(app, argc, argv);
  core::init_logging(log_level);

  if (*fp) {
    boost::json::value input;
    if (!input_file.empty()) {
      std::string why;
      auto parsed = read_json(input_file, why);
      if (!parsed) return fail(why);
      input = std::move(*parsed);
    }
    auto compiled = fhirpath::compile(expression);
    if (!compiled) return fail(compiled.error().message());
    auto result = input.is_null() ? fhirpath::evaluate(**compiled, fhirpath::Collection{})
                                  : fhirpath::evaluate(**compiled, input);
    if (!result) return fail(result.error().message());
    std::cout << boost::json::serialize(fhirpath::to_json(*result)) << "\n";
    return 0;
  }

  if (*match_eval) {
    if (typo_opt->count() > 0) {
      if (given_typo->count() == 0) rates.given_typo = typo_rate;
      if (family_typo->count() == 0) rates.family_typo = typo_rate;
    }
    return match_evaluate(mea);
  }
  if (*match_gen) return match_generate(mga);

  if (*validate) {
    std::string why;
    auto v = read_json(file, why);
    if (!v) return fail(why);
    auto issues = fhir::validate_resource(*v);
    const bool bad = std::any_of(issues.begin(), issues.end(),
                                 [](const auto& i) { return i.severity == "error" || i.severity == "fatal"; });
    std::cout << boost::json::serialize(fhir::operation_outcome(issues)) << "\n";
    return bad ? 2 : 0;
  }

  if (*migrate) {
    if (!store::is_postgres_url(database))
      return fail("--database must be a PostgreSQL URL, postgresql://USER@HOST:PORT/DB");
    auto report = store::migrate_postgres(store::PostgresOptions{.url = database});
    if (!report) return fail(report.error().message());
    if (report->from == report->to) {
      std::cout << fmt::format("schema version {}: up to date\n", report->to);
    } else {
      std::cout << fmt::format("schema version {} -> {}\n", report->from, report->to);
    }
    return 0;
  }

  if (*copy) return copy_store(copy_from, copy_to);

  auto opened = open_store(data_dir, database, pool_size, import_cmd->parsed() ? import_args.cache_mib : 64,
                           import_cmd->parsed());
  if (!opened) return fail(opened.error().message());
  auto& store = **opened;

  if (*check) {
    auto r = store.check_integrity();
    if (!r) return fail(r.error().message());
    std::cout << "ok\n";
    return 0;
  }
  if (*demo_cmd) return load_demo(store, demo_options, demo_load);
  if (*import_cmd) return run_import(store, import_args);
  if (*export_cmd) return run_export(store, export_args);
  if (cli::security_command_chosen(security))
    return cli::run_security_command(security, store, data_dir, !database.empty());

  // serve
  if (!split_listen(listen, sopts.host, sopts.port)) return fail("--listen must be HOST:PORT, e.g. 127.0.0.1:8080");
  sopts.max_body_bytes = max_body_mib << 20U;
  if (sopts.web_root.empty()) sopts.web_root = http::find_web_root();
  core::set_access_log(!no_access_log);
  if (demo_people > 0) {
    auto existing = store.find_ids("Patient", {}, 1);
    if (existing && existing->empty()) {
      if (int rc = load_demo(store, demo::Options{.people = demo_people, .seed = demo_seed}, demo::LoadOptions{});
          rc != 0) {
        return rc;
      }
    }
  }
  std::unique_ptr<auth::Provider> provider;
  if (auth_mode == "on") {
    // Several nodes on one PostgreSQL database sign with the same keys, kept (encrypted) in it.
    auto p = cli::open_provider(store, data_dir, "http://placeholder",
                                cli::KeyRingSettings{.shared = !database.empty(), .key_file = key_file});
    if (!p) return fail(p.error().message());
    provider = std::move(*p);
  } else {
    core::log_warn(
        "authentication is OFF (--auth off): anyone who can reach this port can read and change "
        "everything; use only on loopback with synthetic data");
  }
  std::optional<audit::Recorder> recorder;
  if (audit_mode == "on") recorder.emplace(store);
  api::Api api(store, api::ApiOptions{.software_version = UCR_VERSION,
                                      .auth = provider.get(),
                                      .audit = recorder ? &*recorder : nullptr,
                                      .export_directory = (std::filesystem::path(data_dir) / "exports").string(),
                                      .max_export_jobs = max_export_jobs,
                                      .export_retention_seconds = export_retention_hours * 3600});
  if (recorder && provider) {
    provider->on_event([&recorder](const auth::AuthEvent& e) {
      audit::Event ev;
      ev.recorded = core::now_micros();
      ev.type = "110114";
      ev.subtype = e.kind;
      ev.action = 'E';
      ev.outcome = e.success ? 0 : 4;
      ev.outcome_text = e.detail;
      ev.user = e.user;
      ev.client_id = e.client_id;
      if (e.role_known) ev.role = std::string(auth::role_code(e.role));
      ev.address = e.address;
      recorder->record(ev);
    });
  }
  if (!database.empty() && sopts.io_threads == 0) {
    // Requests on PostgreSQL wait for the database over the network (a search: three round trips)
    // on their I/O thread, so one thread per core leaves the cores idle: as many threads as
    // database connections keep the pool busy.
    sopts.io_threads = std::max<std::size_t>(pool_size, std::thread::hardware_concurrency());
  }
  http::Server server(sopts, api, store);
  if (auto r = server.start(); !r) return fail(r.error().message());
  if (provider) {
    if (issuer.empty()) issuer = sopts.public_base;
    if (issuer.empty()) issuer = fmt::format("http://{}:{}", sopts.host, server.port());
    while (!issuer.empty() && issuer.back() == '/') issuer.pop_back();
    provider->set_issuer(issuer);
    if (auto w = store.write([&issuer](store::Transaction& t) { return t.set_meta("auth:issuer", issuer); }); !w) {
      return fail(w.error().message());
    }
    for (const auto& t : trusted_issuers) {
      const auto bar1 = t.find('|');
      const auto bar2 = bar1 == std::string::npos ? bar1 : t.find('|', bar1 + 1);
      if (bar2 == std::string::npos) return fail("--trust-issuer takes 'ISSUER|JWKS_FILE|ROLE'");
      const std::string iss = t.substr(0, bar1);
      const std::string file = t.substr(bar1 + 1, bar2 - bar1 - 1);
      const auto role = auth::parse_role(t.substr(bar2 + 1));
      if (!role) return fail(fmt::format("--trust-issuer: unknown role '{}'", t.substr(bar2 + 1)));
      if (auto r = provider->trust_issuer_file(iss, file, issuer + "/fhir", *role); !r) {
        return fail(fmt::format("--trust-issuer {}: {}", iss, r.error().message()));
      }
      core::log_info(fmt::format("trusting tokens from {} (role {} by default)", iss, auth::role_code(*role)));
    }
    if (demo_people > 0) {
      if (auto r = cli::seed_demo_accounts(*provider, store, issuer); !r) return fail(r.error().message());
    }
  }
  core::log_info(fmt::format("ucr serving FHIR R4 at http://{}:{}/fhir (data in {})", sopts.host, server.port(),
                             data_location(data_dir, database)));
  std::cout << fmt::format("listening on {}:{}", sopts.host, server.port()) << std::endl;
  server.run();
  if (recorder) recorder->flush();
  core::log_info("stopped");
  return 0;
}
