#include "fhirpath/ast.hpp"
#include "fhirpath/fhirpath.hpp"
#include "fhirpath/lexer.hpp"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace ucr::fhirpath {
namespace {

std::string compile_error(std::string_view text) {
  auto r = compile_uncached(text);
  if (r) return "";
  return r.error().message();
}

TEST(FhirPathLexer, SplitsTokensAndDecodesLiterals) {
  auto t = tokenize("Patient.name.where(given = 'P\\u0065ter') | @2015-02-04T14:34:28Z // x\n+ %`vs-x` $this");
  ASSERT_TRUE(t);
  std::vector<std::string> texts;
  for (const auto& tok : *t) texts.push_back(tok.text);
  EXPECT_EQ(texts, (std::vector<std::string>{"Patient", ".", "name", ".", "where", "(", "given", "=", "Peter", ")", "|",
                                             "2015-02-04T14:34:28Z", "+", "vs-x", "this", ""}));
  EXPECT_EQ((*t)[8].kind, TokenKind::kString);
  EXPECT_EQ((*t)[11].kind, TokenKind::kDateTime);
  EXPECT_EQ((*t)[13].kind, TokenKind::kVariable);
  EXPECT_EQ((*t)[14].kind, TokenKind::kSpecial);
}

TEST(FhirPathLexer, NumbersStopBeforeInvocations) {
  auto t = tokenize("1.convertsToInteger() 1.5.round() @2015.is(Date) @T14:34:28.123.is(Time)");
  ASSERT_TRUE(t);
  EXPECT_EQ((*t)[0].text, "1");
  EXPECT_EQ((*t)[5].text, "1.5");
  EXPECT_EQ((*t)[10].text, "2015");
  EXPECT_EQ((*t)[10].kind, TokenKind::kDate);
  EXPECT_EQ((*t)[16].text, "14:34:28.123");
  EXPECT_EQ((*t)[16].kind, TokenKind::kTime);
}

TEST(FhirPathParser, ReportsSyntaxErrorsWithLineAndColumn) {
  EXPECT_EQ(compile_error("2 + 2 /"), "fhirpath 1:8: expected an expression (at end of expression)");
  EXPECT_EQ(compile_error("2 + 2 /* not finished"), "fhirpath 1:7: unterminated comment");
  EXPECT_EQ(compile_error("name.where(given = 'x'"),
            "fhirpath 1:23: expected ')' but found end (at end of expression)");
  EXPECT_EQ(compile_error("name\n  .foo(1)"), "fhirpath 2:4: unknown function 'foo'");
  EXPECT_EQ(compile_error("'abc"), "fhirpath 1:1: unterminated string");
  EXPECT_EQ(compile_error("name # x"), "fhirpath 1:6: unexpected character '#'");
  EXPECT_EQ(compile_error("substring()"), "fhirpath 1:1: function 'substring' takes 1 to 2 argument(s), got 0");
  EXPECT_EQ(compile_error("value.as(string1)"), "fhirpath 1:10: unknown type 'string1'");
  EXPECT_EQ(compile_error("@T14:34:28Z"), "fhirpath 1:11: unexpected 'Z'");
  EXPECT_EQ(compile_error("99999999999999999999"), "fhirpath 1:1: integer literal out of range");
  EXPECT_EQ(compile_error(""), "fhirpath 1:1: empty expression (at end of expression)");
  EXPECT_EQ(compile_error("$foo"), "fhirpath 1:1: unknown special variable '$foo'");
}

TEST(FhirPathParser, ErrorsCarryTheExpressionText) {
  auto r = compile_uncached("a.(b)");
  ASSERT_FALSE(r);
  ASSERT_EQ(r.error().issues.size(), 1u);
  EXPECT_EQ(r.error().issues[0].expression, "a.(b)");
  EXPECT_EQ(r.error().status, 400);
  EXPECT_EQ(r.error().issues[0].code, "invalid");
}

TEST(FhirPathParser, PrecedenceFollowsTheGrammar) {
  auto eval = [](std::string_view e) {
    auto r = evaluate(e, boost::json::value(nullptr));
    EXPECT_TRUE(r) << e << ": " << (r ? "" : r.error().message());
    return r ? to_json(*r) : boost::json::value();
  };
  EXPECT_EQ(eval("1+2*3+4"), eval("11"));
  EXPECT_EQ(eval("(1 | 1 is Integer).count()"), eval("2"));
  EXPECT_EQ(eval("true and '0215' in ('0215' | '0216')"), eval("true"));
  EXPECT_EQ(eval("-(2 + 3)"), eval("-5"));
  EXPECT_EQ(eval("2 // comment\r\n/ 2"), eval("1.0"));
  EXPECT_FALSE(evaluate("1 > 2 is Boolean", boost::json::value(nullptr)));  // 1 > (2 is Boolean)
  EXPECT_FALSE(evaluate("-1.convertsToInteger()", boost::json::value(nullptr)));
}

TEST(FhirPathParser, CompileCachesByTextAndIsThreadSafe) {
  auto a = compile("Patient.name.given.first()");
  auto b = compile("Patient.name.given.first()");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->get(), b->get());
  EXPECT_EQ(expression_text(**a), "Patient.name.given.first()");
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        auto r = compile("name.given.where($this = '" + std::to_string((i + t) % 50) + "')");
        if (!r) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures, 0);
  EXPECT_GE(compile_cache_size(), 50u);
}

TEST(FhirPathParser, DeepNestingIsAnErrorNotACrash) {
  std::string deep(5000, '(');
  deep += "1";
  deep += std::string(5000, ')');
  auto r = compile_uncached(deep);
  EXPECT_FALSE(r);
}

}  // namespace
}  // namespace ucr::fhirpath
