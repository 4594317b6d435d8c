// Runs the HL7 FHIRPath R4 test suite (tests/data/fhirpath, from HL7/fhirpath.js) as one test per case.
// Cases disabled in the source are skipped with their outcome in the skip message.
#include "fhirpath/fhirpath.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <atomic>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <map>
#include <ostream>
#include <sstream>

namespace ucr::fhirpath {
namespace {

namespace json = boost::json;

const std::string kDataDir = std::string(UCR_TEST_DATA_DIR) + "/fhirpath";

struct Case {
  std::size_t index = 0;
  std::string group, name, expression, inputfile;
  json::array expected;
  bool error = false;
  bool disabled = false;
};

/// Readable test parameter in gtest/ctest output.
void PrintTo(const Case& c, std::ostream* os) { *os << c.name << ": " << c.expression; }

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<Case> load_cases() {
  std::vector<Case> cases;
  boost::system::error_code ec;
  json::value root = json::parse(read_file(kDataDir + "/tests-fhir-r4.json"), ec);
  if (ec || !root.is_array()) return cases;
  for (const json::value& c : root.get_array()) {
    const json::object& o = c.get_object();
    Case k;
    k.index = cases.size();
    k.group = json::value_to<std::string>(o.at("group"));
    k.name = json::value_to<std::string>(o.at("name"));
    k.expression = json::value_to<std::string>(o.at("expression"));
    if (o.at("inputfile").is_string()) k.inputfile = json::value_to<std::string>(o.at("inputfile"));
    k.expected = o.at("expected").as_array();
    k.error = o.at("error").as_bool();
    k.disabled = o.at("disabled_in_source").as_bool();
    cases.push_back(std::move(k));
  }
  return cases;
}

const json::value* resource(const std::string& file) {
  static std::map<std::string, json::value> cache;
  auto it = cache.find(file);
  if (it == cache.end()) {
    boost::system::error_code ec;
    json::value v = json::parse(read_file(kDataDir + "/resources/" + file), ec);
    if (ec) return nullptr;
    it = cache.emplace(file, std::move(v)).first;
  }
  return &it->second;
}

bool item_matches(const json::value& expected, const Value& actual) {
  Value v = to_system(actual);
  if (expected.is_bool()) return v.kind == ValueKind::kBoolean && v.as_bool() == expected.get_bool();
  if (expected.is_number()) {
    if (v.kind != ValueKind::kInteger && v.kind != ValueKind::kDecimal) return false;
    Decimal a = v.kind == ValueKind::kInteger ? Decimal::from_int(v.as_integer()) : v.as_decimal();
    std::optional<Decimal> e;
    if (expected.is_int64()) {
      e = Decimal::from_int(expected.get_int64());
    } else {
      char buf[64];
      auto r = std::to_chars(buf, buf + sizeof buf, expected.to_number<double>());
      e = Decimal::parse(std::string_view(buf, static_cast<std::size_t>(r.ptr - buf)));
    }
    return e && Decimal::compare(a, *e) == 0;
  }
  if (expected.is_string()) {
    auto s = to_string(actual);
    if (!s) return false;
    std::string_view want = expected.get_string();
    if (want.starts_with("@T")) {
      want.remove_prefix(2);
    } else if (want.starts_with('@')) {
      want.remove_prefix(1);
    }
    return *s == want;
  }
  return false;
}

/// Empty when the case passes, else why not.
std::string run_case(const Case& c) {
  Collection input;
  if (!c.inputfile.empty()) {
    const json::value* r = resource(c.inputfile);
    if (r == nullptr) return "cannot read input " + c.inputfile;
    input.push_back(Value::of_node(*r));
  }
  auto compiled = compile(c.expression);
  if (!compiled) return c.error ? std::string() : "compile error: " + compiled.error().message();
  Context ctx;
  if (!input.empty()) ctx.resource = input.front().node;
  auto result = evaluate(**compiled, input, ctx);
  if (!result) return c.error ? std::string() : "evaluation error: " + result.error().message();
  if (c.error) return "expected an error, got " + json::serialize(to_json(*result));
  bool ok = result->size() == c.expected.size();
  for (std::size_t i = 0; ok && i < result->size(); ++i) ok = item_matches(c.expected[i], (*result)[i]);
  if (ok) return {};
  return "expected " + json::serialize(c.expected) + ", got " + json::serialize(to_json(*result));
}

std::atomic<int> g_passed{0}, g_failed{0}, g_disabled{0}, g_disabled_passing{0};

class Summary : public ::testing::Environment {
 public:
  void TearDown() override {
    int run = g_passed + g_failed;
    if (run + g_disabled == 0) return;
    std::printf(
        "[fhirpath conformance] %d/%d enabled cases passed; %d disabled in source skipped (%d of them "
        "would pass)\n",
        g_passed.load(), run, g_disabled.load(), g_disabled_passing.load());
  }
};
const auto* const kSummary = ::testing::AddGlobalTestEnvironment(new Summary);

class FhirPathConformance : public ::testing::TestWithParam<Case> {};

TEST_P(FhirPathConformance, Case) {
  const Case& c = GetParam();
  std::string failure = run_case(c);
  if (c.disabled) {
    ++g_disabled;
    if (failure.empty()) ++g_disabled_passing;
    GTEST_SKIP() << "disabled in source (" << c.group << "): " << c.expression << " -> "
                 << (failure.empty() ? std::string("would pass") : failure);
  }
  (failure.empty() ? g_passed : g_failed)++;
  EXPECT_TRUE(failure.empty()) << c.name << " [" << c.group << "]: " << c.expression << "\n" << failure;
}

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  std::string out = "c" + std::to_string(info.param.index) + "_";
  for (char ch : info.param.name) {
    if (std::isalnum(static_cast<unsigned char>(ch)) != 0) out.push_back(ch);
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(R4, FhirPathConformance, ::testing::ValuesIn(load_cases()), case_name);

TEST(FhirPathConformanceData, SuiteIsPresent) { EXPECT_GT(load_cases().size(), 900u); }

}  // namespace
}  // namespace ucr::fhirpath
