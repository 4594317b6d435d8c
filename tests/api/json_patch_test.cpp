// RFC 6902 JSON Patch, applied by ucr::api::apply_json_patch.
#include "api/json_patch.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <string>

namespace ucr::api {
namespace {

namespace json = boost::json;

/// Applies `patch` to `doc` and returns the serialised result, or "error <status> <expression>".
std::string apply(const std::string& doc, const std::string& patch) {
  json::value d = json::parse(doc);
  auto r = apply_json_patch(d, json::parse(patch));
  if (!r) {
    const auto& issues = r.error().issues;
    return "error " + std::to_string(r.error().status) + " " + (issues.empty() ? "" : issues.front().expression);
  }
  return json::serialize(d);
}

void expect_json(const std::string& actual, const std::string& expected) {
  ASSERT_EQ(actual.rfind("error", 0), std::string::npos) << actual;
  EXPECT_EQ(json::parse(actual), json::parse(expected)) << actual;
}

TEST(JsonPatch, AddsAMemberToAnObject) {
  expect_json(apply(R"({"a":1})", R"([{"op":"add","path":"/b","value":{"c":[1]}}])"), R"({"a":1,"b":{"c":[1]}})");
}

TEST(JsonPatch, AddReplacesAnExistingMember) {
  expect_json(apply(R"({"a":1})", R"([{"op":"add","path":"/a","value":2}])"), R"({"a":2})");
}

TEST(JsonPatch, AddInsertsIntoAnArrayAtAnIndexAndAppendsWithDash) {
  expect_json(apply(R"({"a":[1,3]})", R"([{"op":"add","path":"/a/1","value":2}])"), R"({"a":[1,2,3]})");
  expect_json(apply(R"({"a":[1,2]})", R"([{"op":"add","path":"/a/-","value":3}])"), R"({"a":[1,2,3]})");
  expect_json(apply(R"({"a":[1,2]})", R"([{"op":"add","path":"/a/2","value":3}])"), R"({"a":[1,2,3]})");
  expect_json(apply(R"({"a":[]})", R"([{"op":"add","path":"/a/0","value":"x"}])"), R"({"a":["x"]})");
}

TEST(JsonPatch, AddWithAnEmptyPathReplacesTheWholeDocument) {
  expect_json(apply(R"({"a":1})", R"([{"op":"add","path":"","value":{"b":2}}])"), R"({"b":2})");
}

TEST(JsonPatch, RemovesMembersAndArrayElements) {
  expect_json(apply(R"({"a":1,"b":2})", R"([{"op":"remove","path":"/a"}])"), R"({"b":2})");
  expect_json(apply(R"({"a":[1,2,3]})", R"([{"op":"remove","path":"/a/1"}])"), R"({"a":[1,3]})");
}

TEST(JsonPatch, ReplacesAnExistingValue) {
  expect_json(apply(R"({"a":{"b":1}})", R"([{"op":"replace","path":"/a/b","value":[true]}])"), R"({"a":{"b":[true]}})");
  expect_json(apply(R"({"a":[1,2]})", R"([{"op":"replace","path":"/a/0","value":9}])"), R"({"a":[9,2]})");
}

TEST(JsonPatch, MovesAValue) {
  expect_json(apply(R"({"a":{"b":1},"c":{}})", R"([{"op":"move","from":"/a/b","path":"/c/d"}])"),
              R"({"a":{},"c":{"d":1}})");
  expect_json(apply(R"({"a":[1,2,3]})", R"([{"op":"move","from":"/a/0","path":"/a/-"}])"), R"({"a":[2,3,1]})");
}

TEST(JsonPatch, CopiesAValueLeavingTheSourceInPlace) {
  expect_json(apply(R"({"a":{"b":[1]}})", R"([{"op":"copy","from":"/a/b","path":"/c"}])"),
              R"({"a":{"b":[1]},"c":[1]})");
}

TEST(JsonPatch, TestPassesOnEqualValuesIncludingNumbersOfDifferentForm) {
  expect_json(apply(R"({"a":{"x":[1,"y"]},"n":1})",
                    R"([{"op":"test","path":"/a","value":{"x":[1,"y"]}},{"op":"test","path":"/n","value":1.0}])"),
              R"({"a":{"x":[1,"y"]},"n":1})");
}

TEST(JsonPatch, TestFailureIs422AndNamesTheOperation) {
  EXPECT_EQ(apply(R"({"a":1})", R"([{"op":"test","path":"/a","value":1},{"op":"test","path":"/a","value":"1"}])"),
            "error 422 Patch[1]");
  EXPECT_EQ(apply(R"({"a":[1,2]})", R"([{"op":"test","path":"/a","value":[2,1]}])"), "error 422 Patch[0]");
  EXPECT_EQ(apply(R"({"a":{}})", R"([{"op":"test","path":"/missing","value":null}])"), "error 422 Patch[0]");
}

TEST(JsonPatch, PointerEscapesTildeAndSlash) {
  expect_json(apply(R"({"a/b":1,"m~n":2})",
                    R"([{"op":"replace","path":"/a~1b","value":10},{"op":"replace","path":"/m~0n","value":20}])"),
              R"({"a/b":10,"m~n":20})");
  // ~01 is '~' then '1', not '/'.
  expect_json(apply(R"({"~1":1})", R"([{"op":"remove","path":"/~01"}])"), R"({})");
}

TEST(JsonPatch, AppliesOperationsInOrder) {
  expect_json(apply(R"({})", R"([{"op":"add","path":"/a","value":[]},{"op":"add","path":"/a/-","value":1},
                                 {"op":"add","path":"/a/-","value":2},{"op":"remove","path":"/a/0"}])"),
              R"({"a":[2]})");
}

TEST(JsonPatch, MissingTargetsAre422) {
  EXPECT_EQ(apply(R"({"a":1})", R"([{"op":"remove","path":"/b"}])"), "error 422 Patch[0]");
  EXPECT_EQ(apply(R"({"a":1})", R"([{"op":"replace","path":"/b","value":1}])"), "error 422 Patch[0]");
  EXPECT_EQ(apply(R"({"a":1})", R"([{"op":"add","path":"/x/y","value":1}])"), "error 422 Patch[0]");
  EXPECT_EQ(apply(R"({"a":[1]})", R"([{"op":"add","path":"/a/5","value":1}])"), "error 422 Patch[0]");
  EXPECT_EQ(apply(R"({"a":[1]})", R"([{"op":"remove","path":"/a/1"}])"), "error 422 Patch[0]");
  EXPECT_EQ(apply(R"({"a":[1]})", R"([{"op":"replace","path":"/a/01","value":1}])"), "error 422 Patch[0]");
  EXPECT_EQ(apply(R"({"a":1})", R"([{"op":"copy","from":"/nope","path":"/b"}])"), "error 422 Patch[0]");
  EXPECT_EQ(apply(R"({"a":1})", R"([{"op":"move","from":"/nope","path":"/b"}])"), "error 422 Patch[0]");
  EXPECT_EQ(apply(R"({"a":1})", R"([{"op":"add","path":"/a/b","value":1}])"), "error 422 Patch[0]");
}

TEST(JsonPatch, MalformedOperationsAre400AndNameTheOperation) {
  EXPECT_EQ(apply(R"({})", R"({"op":"add","path":"/a","value":1})"), "error 400 Patch");
  EXPECT_EQ(apply(R"({})", R"([1])"), "error 400 Patch[0]");
  EXPECT_EQ(apply(R"({})", R"([{"op":"add","path":"/a","value":1},{"path":"/a"}])"), "error 400 Patch[1]");
  EXPECT_EQ(apply(R"({})", R"([{"op":"add","value":1}])"), "error 400 Patch[0]");
  EXPECT_EQ(apply(R"({})", R"([{"op":"add","path":"/a"}])"), "error 400 Patch[0]");
  EXPECT_EQ(apply(R"({"a":1})", R"([{"op":"replace","path":"/a"}])"), "error 400 Patch[0]");
  EXPECT_EQ(apply(R"({"a":1})", R"([{"op":"test","path":"/a"}])"), "error 400 Patch[0]");
  EXPECT_EQ(apply(R"({"a":1})", R"([{"op":"move","path":"/b"}])"), "error 400 Patch[0]");
  EXPECT_EQ(apply(R"({"a":1})", R"([{"op":"copy","path":"/b","from":1}])"), "error 400 Patch[0]");
  EXPECT_EQ(apply(R"({})", R"([{"op":"frobnicate","path":"/a"}])"), "error 400 Patch[0]");
  EXPECT_EQ(apply(R"({})", R"([{"op":"add","path":"a","value":1}])"), "error 400 Patch[0]") << "no leading slash";
  EXPECT_EQ(apply(R"({})", R"([{"op":"add","path":"/a~2","value":1}])"), "error 400 Patch[0]") << "bad escape";
  EXPECT_EQ(apply(R"({})", R"([{"op":"add","path":"/a~","value":1}])"), "error 400 Patch[0]") << "dangling ~";
}

TEST(JsonPatch, CannotMoveAValueIntoItsOwnChild) {
  EXPECT_EQ(apply(R"({"a":{"b":{}}})", R"([{"op":"move","from":"/a","path":"/a/b/c"}])"), "error 400 Patch[0]");
  // Moving to itself is allowed and changes nothing.
  expect_json(apply(R"({"a":{"b":1}})", R"([{"op":"move","from":"/a","path":"/a"}])"), R"({"a":{"b":1}})");
}

TEST(JsonPatch, CannotRemoveTheWholeDocument) {
  EXPECT_EQ(apply(R"({"a":1})", R"([{"op":"remove","path":""}])"), "error 422 Patch[0]");
}

TEST(JsonPatch, AnEmptyPatchChangesNothing) { expect_json(apply(R"({"a":1})", "[]"), R"({"a":1})"); }

}  // namespace
}  // namespace ucr::api
