// Unit tests of search/query: parameter parsing into a Plan (R4 search.html), value escaping, errors.
#include "search/query.hpp"
#include "search/index.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace ucr::search {
namespace {

using Params = std::vector<std::pair<std::string, std::string>>;

core::Result<Plan> parse(std::string_view type, const Params& params, bool lenient = false,
                         std::vector<core::Issue>* warnings_out = nullptr) {
  std::vector<core::Issue> warnings;
  ParseOptions o;
  o.lenient = lenient;
  auto r = parse_search(type, params, o, warnings);
  if (warnings_out != nullptr) *warnings_out = warnings;
  return r;
}

/// The single condition of a single-filter plan (a copy: the plan is usually a temporary).
Condition only(const core::Result<Plan>& p) {
  if (!p || p->filters.size() != 1 || p->filters.front().any_of.size() != 1) {
    ADD_FAILURE() << (p ? "not a single condition" : p.error().message());
    return {};
  }
  return p->filters.front().any_of.front();
}

/// The expression the error names (the parameter).
std::string named(const core::Result<Plan>& p) {
  EXPECT_FALSE(p);
  if (p || p.error().issues.empty()) return "<none>";
  return p.error().issues.front().expression;
}

core::Micros at(std::string_view s) { return *core::parse_fhir_datetime(s); }

TEST(SplitValues, CommasAndEscapes) {
  EXPECT_EQ(split_values("a,b,c"), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(split_values("a\\,b,c"), (std::vector<std::string>{"a,b", "c"}));
  EXPECT_EQ(split_values(""), (std::vector<std::string>{""}));
  // \| and \$ stay escaped for the type-specific parsing; \\ before a comma does not escape it.
  EXPECT_EQ(split_values("x\\|y"), (std::vector<std::string>{"x\\|y"}));
  EXPECT_EQ(split_values("a\\\\,b"), (std::vector<std::string>{"a\\\\", "b"}));
}

TEST(ParseSearch, StringDefaultIsNormalised) {
  auto p = parse("Patient", {{"name", "ÉLODIE"}});
  const auto c = only(p);
  EXPECT_EQ(c.type, ParamType::kString);
  EXPECT_EQ(c.param, "name");
  EXPECT_EQ(c.text, "elodie");
  EXPECT_TRUE(c.modifier.empty());
}

TEST(ParseSearch, StringModifiers) {
  EXPECT_EQ(only(parse("Patient", {{"family:exact", "Éclair"}})).text, "Éclair");
  const auto c = only(parse("Patient", {{"family:contains", "MIT"}}));
  EXPECT_EQ(c.modifier, "contains");
  EXPECT_EQ(c.text, "mit");
  EXPECT_EQ(named(parse("Patient", {{"family:below", "x"}})), "family:below");
  EXPECT_EQ(named(parse("Patient", {{"family:missing", "maybe"}})), "family:missing");
  const auto m = only(parse("Patient", {{"family:missing", "true"}}));
  EXPECT_TRUE(m.missing);
  EXPECT_FALSE(only(parse("Patient", {{"family:missing", "false"}})).missing);
}

TEST(ParseSearch, StringEscapedComma) {
  auto p = parse("Patient", {{"family", "a\\,b,c"}});
  ASSERT_TRUE(p);
  ASSERT_EQ(p->filters.at(0).any_of.size(), 2U);
  EXPECT_EQ(p->filters[0].any_of[0].text, "a,b");
  EXPECT_EQ(p->filters[0].any_of[1].text, "c");
}

TEST(ParseSearch, TokenForms) {
  {
    const auto c = only(parse("Patient", {{"identifier", "http://x|123"}}));
    EXPECT_EQ(c.system, "http://x");
    EXPECT_EQ(c.code, "123");
  }
  {
    const auto c = only(parse("Patient", {{"identifier", "|123"}}));
    ASSERT_TRUE(c.system.has_value());
    EXPECT_EQ(*c.system, "");
    EXPECT_EQ(c.code, "123");
  }
  {
    const auto c = only(parse("Patient", {{"identifier", "http://x|"}}));
    EXPECT_EQ(c.system, "http://x");
    EXPECT_FALSE(c.code.has_value());
  }
  {
    const auto c = only(parse("Patient", {{"identifier", "123"}}));
    EXPECT_FALSE(c.system.has_value());
    EXPECT_EQ(c.code, "123");
  }
  {  // an escaped bar is part of the code
    const auto c = only(parse("Patient", {{"identifier", "a\\|b"}}));
    EXPECT_FALSE(c.system.has_value());
    EXPECT_EQ(c.code, "a|b");
  }
  {
    const auto c = only(parse("Patient", {{"identifier", "s\\|t|a\\|b"}}));
    EXPECT_EQ(c.system, "s|t");
    EXPECT_EQ(c.code, "a|b");
  }
  {
    const auto c = only(parse("Patient", {{"identifier:of-type", "http://t|MR|123"}}));
    EXPECT_EQ(c.modifier, "of-type");
    EXPECT_EQ(c.system, "http://t");
    EXPECT_EQ(c.code, "MR|123");
  }
  EXPECT_EQ(named(parse("Patient", {{"identifier:of-type", "MR|123"}})), "identifier:of-type");
  EXPECT_EQ(named(parse("Patient", {{"identifier:of-type", "http://t|MR|"}})), "identifier:of-type");
  EXPECT_EQ(only(parse("Patient", {{"gender:not", "male"}})).modifier, "not");
  const auto t = only(parse("Condition", {{"code:text", "Diabète"}}));
  EXPECT_EQ(t.modifier, "text");
  EXPECT_EQ(t.text, "diabete");
  EXPECT_EQ(named(parse("Patient", {{"gender:contains", "m"}})), "gender:contains");
}

TEST(ParseSearch, ReferenceForms) {
  {
    const auto c = only(parse("Observation", {{"subject", "Patient/123"}}));
    EXPECT_EQ(c.target_type, "Patient");
    EXPECT_EQ(c.target_id, "123");
  }
  {
    const auto c = only(parse("Observation", {{"subject", "123"}}));
    EXPECT_EQ(c.target_type, "");
    EXPECT_EQ(c.target_id, "123");
  }
  {
    const auto c = only(parse("Observation", {{"subject:Patient", "123"}}));
    EXPECT_EQ(c.target_type, "Patient");
    EXPECT_EQ(c.target_id, "123");
  }
  {
    const auto c = only(parse("Observation", {{"subject", "http://other.org/fhir/Patient/9/_history/2"}}));
    EXPECT_EQ(c.target_type, "Patient");
    EXPECT_EQ(c.target_id, "9");
  }
  {
    const auto c = only(parse("Observation", {{"subject", "urn:uuid:abc"}}));
    EXPECT_EQ(c.text, "");
    EXPECT_EQ(c.target_id, "urn:uuid:abc");
  }
  {
    const auto c = only(parse("Observation", {{"subject:identifier", "http://x|42"}}));
    EXPECT_EQ(c.modifier, "identifier");
    EXPECT_EQ(c.system, "http://x");
    EXPECT_EQ(c.code, "42");
  }
  EXPECT_EQ(named(parse("Observation", {{"subject", ""}})), "subject");
  EXPECT_EQ(named(parse("Observation", {{"subject:exact", "Patient/1"}})), "subject:exact");
}

TEST(ParseSearch, ChainsToAnyDepth) {
  auto p = parse("Observation", {{"subject:Patient.organization.name", "Acme"}});
  const auto c = only(p);
  EXPECT_EQ(c.param, "subject");
  EXPECT_EQ(c.chain_type, "Patient");
  EXPECT_FALSE(c.reverse);
  ASSERT_TRUE(c.chain);
  ASSERT_EQ(c.chain->any_of.size(), 1U);
  const auto& c2 = c.chain->any_of.front();
  EXPECT_EQ(c2.param, "organization");
  EXPECT_EQ(c2.chain_type, "Organization");  // the only target of Patient.organization
  ASSERT_TRUE(c2.chain);
  EXPECT_EQ(c2.chain->any_of.front().param, "name");
  EXPECT_EQ(c2.chain->any_of.front().text, "acme");
  // subject has several targets: the type is required.
  EXPECT_EQ(named(parse("Observation", {{"subject.name", "x"}})), "subject.name");
  EXPECT_EQ(named(parse("Observation", {{"status.name", "x"}})), "status.name");
  EXPECT_EQ(named(parse("Observation", {{"subject:Patient.nope", "x"}})), "subject:Patient.nope");
  EXPECT_EQ(named(parse("Patient", {{"_has:Observation:patient:nope", "x"}})), "_has:Observation:patient:nope");
}

TEST(ParseSearch, ReverseChaining) {
  auto p = parse("Patient", {{"_has:Observation:patient:code", "8480-6"}});
  const auto c = only(p);
  EXPECT_TRUE(c.reverse);
  EXPECT_EQ(c.chain_type, "Observation");
  EXPECT_EQ(c.param, "subject");  // patient is subject restricted to Patients: read from subject's rows
  ASSERT_TRUE(c.chain);
  EXPECT_EQ(c.chain->any_of.front().param, "code");
  EXPECT_EQ(c.chain->any_of.front().code, "8480-6");
  // Nested _has.
  auto n = parse("Patient", {{"_has:Observation:patient:_has:Provenance:target:agent", "Practitioner/1"}});
  ASSERT_TRUE(n) << n.error().message();
  EXPECT_TRUE(only(n).chain->any_of.front().reverse);
  EXPECT_EQ(named(parse("Patient", {{"_has:Observation:patient", "x"}})), "_has:Observation:patient");
  EXPECT_EQ(named(parse("Patient", {{"_has:Nope:patient:code", "x"}})), "_has:Nope:patient:code");
  EXPECT_EQ(named(parse("Patient", {{"_has:Observation:status:code", "x"}})), "_has:Observation:status:code");
}

TEST(ParseSearch, DatePrefixesAndPrecision) {
  const auto c = only(parse("Patient", {{"birthdate", "ge2020-02"}}));
  EXPECT_EQ(c.prefix, Prefix::kGe);
  EXPECT_EQ(c.low, at("2020-02-01"));
  EXPECT_EQ(c.high, at("2020-03-01") - 1);
  const std::vector<std::pair<std::string, Prefix>> all = {
      {"eq", Prefix::kEq}, {"ne", Prefix::kNe}, {"lt", Prefix::kLt}, {"gt", Prefix::kGt}, {"le", Prefix::kLe},
      {"ge", Prefix::kGe}, {"sa", Prefix::kSa}, {"eb", Prefix::kEb}, {"ap", Prefix::kAp}};
  for (const auto& [text, prefix] : all) {
    EXPECT_EQ(only(parse("Patient", {{"birthdate", text + "2001"}})).prefix, prefix) << text;
  }
  EXPECT_EQ(only(parse("Patient", {{"birthdate", "2001"}})).prefix, Prefix::kEq);
  EXPECT_EQ(named(parse("Patient", {{"birthdate", "xx2001"}})), "birthdate");
  EXPECT_EQ(named(parse("Patient", {{"birthdate", "2001-13"}})), "birthdate");
  EXPECT_EQ(named(parse("Patient", {{"birthdate", "yesterday"}})), "birthdate");
  const auto lu = only(parse("Patient", {{"_lastUpdated", "gt2024-01-01T10:00:00Z"}}));
  EXPECT_EQ(lu.type, ParamType::kDate);
  EXPECT_EQ(lu.prefix, Prefix::kGt);
}

TEST(ParseSearch, NumberAndQuantity) {
  const auto q = only(parse("Observation", {{"value-quantity", "le5.40|http://unitsofmeasure.org|mg"}}));
  EXPECT_EQ(q.prefix, Prefix::kLe);
  EXPECT_DOUBLE_EQ(q.number, 5.4);
  EXPECT_NEAR(q.number_low, 5.395, 1e-12);
  EXPECT_NEAR(q.number_high, 5.405, 1e-12);
  EXPECT_EQ(q.system, "http://unitsofmeasure.org");
  EXPECT_EQ(q.code, "mg");
  const auto u = only(parse("Observation", {{"value-quantity", "120||mm[Hg]"}}));
  EXPECT_FALSE(u.system.has_value());
  EXPECT_EQ(u.code, "mm[Hg]");
  EXPECT_NEAR(u.number_low, 119.5, 1e-12);
  const auto e = only(parse("Observation", {{"value-quantity", "1e2"}}));
  EXPECT_DOUBLE_EQ(e.number, 100);
  EXPECT_NEAR(e.number_low, 50, 1e-9);  // one significant figure
  const auto neg = only(parse("Observation", {{"value-quantity", "lt-3"}}));
  EXPECT_EQ(neg.prefix, Prefix::kLt);
  EXPECT_DOUBLE_EQ(neg.number, -3);
  EXPECT_EQ(named(parse("Observation", {{"value-quantity", "abc"}})), "value-quantity");
  EXPECT_EQ(named(parse("Observation", {{"value-quantity", "5|mg"}})), "value-quantity");
  const auto n = only(parse("RiskAssessment", {{"probability", "gt0.8"}}));
  EXPECT_EQ(n.type, ParamType::kNumber);
  EXPECT_EQ(n.prefix, Prefix::kGt);
}

TEST(ParseSearch, UriModifiers) {
  EXPECT_EQ(only(parse("ValueSet", {{"url:below", "http://hl7.org/fhir"}})).modifier, "below");
  EXPECT_EQ(only(parse("ValueSet", {{"url:above", "http://hl7.org/fhir/ValueSet/x"}})).modifier, "above");
  EXPECT_EQ(named(parse("ValueSet", {{"url:contains", "x"}})), "url:contains");
  const auto p = only(parse("Patient", {{"_profile", "http://x/sd"}}));
  EXPECT_EQ(p.type, ParamType::kUri);
}

TEST(ParseSearch, OrAndAnd) {
  auto p = parse("Patient", {{"gender", "male,female"}, {"family", "smith"}, {"family", "smi"}});
  ASSERT_TRUE(p);
  ASSERT_EQ(p->filters.size(), 3U);
  EXPECT_EQ(p->filters[0].any_of.size(), 2U);
  EXPECT_EQ(p->filters[1].any_of.size(), 1U);
}

TEST(ParseSearch, ResultParameters) {
  auto p = parse("Patient", {{"_sort", "-birthdate,family,_id"},
                             {"_count", "7"},
                             {"_offset", "14"},
                             {"_total", "accurate"},
                             {"_summary", "count"},
                             {"_elements", "name,gender"},
                             {"_include", "Patient:organization"},
                             {"_revinclude:iterate", "Observation:subject:Patient"}});
  ASSERT_TRUE(p) << p.error().message();
  ASSERT_EQ(p->sort.size(), 3U);
  EXPECT_TRUE(p->sort[0].descending);
  EXPECT_EQ(p->sort[0].type, ParamType::kDate);
  EXPECT_FALSE(p->sort[1].descending);
  EXPECT_EQ(p->sort[2].param, "_id");
  EXPECT_EQ(p->count, 7U);
  EXPECT_EQ(p->offset, 14U);
  EXPECT_EQ(p->total, TotalMode::kAccurate);
  EXPECT_EQ(p->summary, Summary::kCount);
  EXPECT_EQ(p->elements, (std::vector<std::string>{"name", "gender"}));
  ASSERT_EQ(p->includes.size(), 1U);
  EXPECT_EQ(p->includes[0].param, "organization");
  EXPECT_FALSE(p->includes[0].iterate);
  ASSERT_EQ(p->revincludes.size(), 1U);
  EXPECT_TRUE(p->revincludes[0].iterate);
  EXPECT_EQ(p->revincludes[0].target_type, "Patient");
  // _count is capped.
  EXPECT_EQ(parse("Patient", {{"_count", "100000"}})->count, ParseOptions{}.max_count);
}

TEST(ParseSearch, ErrorsNameTheParameter) {
  EXPECT_EQ(named(parse("Patient", {{"nonsense", "1"}})), "nonsense");
  EXPECT_EQ(named(parse("Patient", {{"_count", "ten"}})), "_count");
  EXPECT_EQ(named(parse("Patient", {{"_sort", "nonsense"}})), "_sort");
  EXPECT_EQ(named(parse("Patient", {{"_total", "lots"}})), "_total");
  EXPECT_EQ(named(parse("Patient", {{"_summary", "maybe"}})), "_summary");
  EXPECT_EQ(named(parse("Patient", {{"_include", "Patient"}})), "_include");
  EXPECT_EQ(named(parse("Patient", {{"_include", "Patient:gender"}})), "_include");
  EXPECT_EQ(named(parse("Patient", {{"_revinclude", "Nope:subject"}})), "_revinclude");
  EXPECT_EQ(named(parse("Patient", {{"_id:missing", "true"}})), "_id:missing");
  EXPECT_EQ(named(parse("Observation", {{"code-value-quantity", "x"}})), "code-value-quantity");
  EXPECT_EQ(named(parse("Observation", {{"code-value-quantity", "x$big"}})), "code-value-quantity");
  EXPECT_EQ(named(parse("Observation", {{"code-value-quantity:exact", "x$1"}})), "code-value-quantity:exact");
  EXPECT_EQ(named(parse("Location", {{"near", "51.2|1.1|10|km"}})), "near");
}

TEST(ParseSearch, CompositeValuesSplitAtTheDollar) {
  auto p =
      parse("Observation", {{"code-value-quantity", "http://loinc.org|8480-6$gt140|http://unitsofmeasure.org|mm[Hg]"}});
  ASSERT_TRUE(p) << p.error().message();
  ASSERT_EQ(p->filters.size(), 1U);
  const auto& c = p->filters[0].any_of.at(0);
  ASSERT_EQ(c.components.size(), 2U);
  EXPECT_EQ(c.components[0].system, "http://loinc.org");
  EXPECT_EQ(c.components[0].code, "8480-6");
  EXPECT_EQ(c.components[1].prefix, Prefix::kGt);
  EXPECT_DOUBLE_EQ(c.components[1].number, 140);
  EXPECT_EQ(c.components[1].code, "mm[Hg]");
}

TEST(ParseSearch, LenientIgnoresWithWarnings) {
  std::vector<core::Issue> warnings;
  auto p = parse("Patient", {{"nonsense", "1"}, {"family", "smith"}, {"_sort", "bogus"}}, true, &warnings);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->filters.size(), 1U);
  EXPECT_TRUE(p->sort.empty());
  ASSERT_EQ(warnings.size(), 2U);
  EXPECT_EQ(warnings[0].severity, "warning");
  EXPECT_EQ(warnings[0].expression, "nonsense");
  EXPECT_EQ(warnings[1].expression, "_sort");
}

TEST(DateRange, Precision) {
  core::Micros lo = 0;
  core::Micros hi = 0;
  ASSERT_TRUE(date_range("2020", lo, hi));
  EXPECT_EQ(lo, at("2020-01-01"));
  EXPECT_EQ(hi, at("2021-01-01") - 1);
  ASSERT_TRUE(date_range("2020-12", lo, hi));
  EXPECT_EQ(lo, at("2020-12-01"));
  EXPECT_EQ(hi, at("2021-01-01") - 1);
  ASSERT_TRUE(date_range("2020-02", lo, hi));  // leap year
  EXPECT_EQ(hi - lo + 1, 29LL * 86'400'000'000);
  ASSERT_TRUE(date_range("2021-02-28", lo, hi));
  EXPECT_EQ(hi - lo + 1, 86'400'000'000);
  ASSERT_TRUE(date_range("2021-02-28T10:11:12Z", lo, hi));
  EXPECT_EQ(hi - lo + 1, 1'000'000);
  ASSERT_TRUE(date_range("2021-02-28T10:11:12.5Z", lo, hi));
  EXPECT_EQ(hi - lo + 1, 100'000);
  ASSERT_TRUE(date_range("2021-02-28T10:11:12.123456Z", lo, hi));
  EXPECT_EQ(hi - lo + 1, 1);
  ASSERT_TRUE(date_range("2021-02-28T10:11:12+02:00", lo, hi));
  EXPECT_EQ(lo, at("2021-02-28T08:11:12Z"));
  EXPECT_FALSE(date_range("", lo, hi));
  EXPECT_FALSE(date_range("2021-02-30", lo, hi));
  EXPECT_FALSE(date_range("20", lo, hi));
  EXPECT_FALSE(date_range("not a date", lo, hi));
}

TEST(NormalizeString, CaseAndAccents) {
  EXPECT_EQ(normalize_string("Chalmers"), "chalmers");
  EXPECT_EQ(normalize_string("Bénédicte"), "benedicte");
  EXPECT_EQ(normalize_string("ÀÉÎÕÜÇÑ àéîõüçñ"), "aeioucn aeioucn");
  EXPECT_EQ(normalize_string("Müller-Ødegård"), "muller-odegard");
  EXPECT_EQ(normalize_string("Łukasz Wałęsa Žižek"), "lukasz walesa zizek");
  EXPECT_EQ(normalize_string(""), "");
  EXPECT_EQ(normalize_string("日本"), "日本");  // other scripts pass through unchanged
}

TEST(ParseSearch, ContainedModes) {
  // R4 search.html#contained
  auto p = parse("Medication", {{"code", "111"}});
  ASSERT_TRUE(p);
  EXPECT_EQ(p->contained, Contained::kFalse);
  EXPECT_EQ(p->contained_result, ContainedResult::kContainer);
  p = parse("Medication", {{"_contained", "true"}, {"_containedType", "contained"}});
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_EQ(p->contained, Contained::kTrue);
  EXPECT_EQ(p->contained_result, ContainedResult::kContained);
  p = parse("Medication", {{"_contained", "both"}, {"_containedType", "container"}});
  ASSERT_TRUE(p);
  EXPECT_EQ(p->contained, Contained::kBoth);
  EXPECT_EQ(p->contained_result, ContainedResult::kContainer);
  EXPECT_FALSE(parse("Medication", {{"_contained", "yes"}}));
  EXPECT_FALSE(parse("Medication", {{"_containedType", "inner"}}));
  EXPECT_FALSE(parse("Medication", {{"_contained", "true"}, {"_after", "abc"}}));
  // The cursor of a next link: sort values, then the match's type, id and local id.
  p = parse("Medication",
            {{"_contained", "true"}, {"_sort", "code"}, {"_after", R"(["111","MedicationRequest","mr1","med1"])"}});
  ASSERT_TRUE(p) << p.error().message();
  ASSERT_TRUE(p->after_match.has_value());
  EXPECT_EQ((*p->after_match)[1], "mr1");
  EXPECT_EQ((*p->after_match)[2], "med1");
  EXPECT_EQ(p->after_keys, (std::vector<SortValue>{std::string("111")}));
  EXPECT_EQ(encode_contained_cursor(p->after_keys, "MedicationRequest", "mr1", "med1"),
            R"(["111","MedicationRequest","mr1","med1"])");
  EXPECT_FALSE(parse("Medication", {{"_contained", "both"}, {"_after", R"(["MedicationRequest","mr 1",""])"}}));
  std::vector<core::Issue> warnings;
  p = parse("Medication", {{"_contained", "sometimes"}}, true, &warnings);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->contained, Contained::kFalse);
  ASSERT_EQ(warnings.size(), 1U);
  EXPECT_EQ(warnings[0].severity, "warning");
}

}  // namespace
}  // namespace ucr::search
