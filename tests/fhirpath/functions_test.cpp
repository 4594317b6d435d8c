#include "fhirpath/fhirpath.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

namespace ucr::fhirpath {
namespace {

namespace json = boost::json;

const json::value kPatient = json::parse(R"({
  "resourceType": "Patient", "id": "p", "active": true, "gender": "female", "birthDate": "1990-06-15",
  "name": [{"use": "official", "family": "Chalmers", "given": ["Peter", "James"]},
           {"use": "usual", "given": ["Jim"]}],
  "telecom": [{"system": "phone", "value": "555-1"}, {"system": "email", "value": "a@b.c"}, {"system": "phone", "value": "555-2"}]
})");

/// The items as text joined by '|', or "ERROR: message".
std::string run(std::string_view expr, const json::value& input = kPatient) {
  auto r = evaluate(expr, input);
  if (!r) return "ERROR: " + r.error().message();
  std::string out;
  for (std::size_t i = 0; i < r->size(); ++i) {
    if (i > 0) out += "|";
    out += to_string((*r)[i]).value_or("<" + type_name((*r)[i]) + ">");
  }
  return out;
}

TEST(FhirPathFunctions, Existence) {
  EXPECT_EQ(run("name.exists()"), "true");
  EXPECT_EQ(run("name.exists(use = 'nickname')"), "false");
  EXPECT_EQ(run("link.empty()"), "true");
  EXPECT_EQ(run("name.all(given.exists())"), "true");
  EXPECT_EQ(run("(true | false).anyTrue()"), "true");
  EXPECT_EQ(run("(true | false).allTrue()"), "false");
  EXPECT_EQ(run("{}.allFalse()"), "true");
  EXPECT_EQ(run("name.first().subsetOf($this.name)"), "true");
  EXPECT_EQ(run("name.given.count()"), "3");
  EXPECT_EQ(run("(1 | 2 | 2).isDistinct()"), "true");
  EXPECT_EQ(run("1.combine(1).isDistinct()"), "false");
  EXPECT_EQ(run("(true | 'x').allTrue()").substr(0, 6), "ERROR:");
}

TEST(FhirPathFunctions, FilteringAndProjection) {
  EXPECT_EQ(run("telecom.where(system = 'phone').value"), "555-1|555-2");
  EXPECT_EQ(run("name.select(given.first())"), "Peter|Jim");
  EXPECT_EQ(run("telecom.select($index)"), "0|1|2");
  EXPECT_EQ(run("telecom.where($index > 0).value"), "a@b.c|555-2");
  EXPECT_EQ(run("(1 | 2 | 3).aggregate($this + $total, 0)"), "6");
  EXPECT_EQ(run("(3 | 1 | 2).sort()"), "1|2|3");
  EXPECT_EQ(run("name.given.sort(-$this)"), "Peter|Jim|James");
  EXPECT_EQ(run("children().count() > 5"), "true");
  EXPECT_EQ(run("descendants().ofType(ContactPoint).count()"), "3");
  EXPECT_EQ(run("repeat(name).use"), "official|usual");
}

TEST(FhirPathFunctions, SubsettingAndCombining) {
  EXPECT_EQ(run("name.given[1]"), "James");
  EXPECT_EQ(run("name.given.tail()"), "James|Jim");
  EXPECT_EQ(run("name.given.skip(1).take(1)"), "James");
  EXPECT_EQ(run("name.given.last()"), "Jim");
  EXPECT_EQ(run("name.single()").substr(0, 6), "ERROR:");
  EXPECT_EQ(run("(1 | 2 | 3).intersect(2 | 4)"), "2");
  EXPECT_EQ(run("(1 | 2 | 3).exclude(2 | 4)"), "1|3");
  EXPECT_EQ(run("(1 | 2).union(2 | 3)"), "1|2|3");
  EXPECT_EQ(run("(1 | 2).combine(2 | 3)"), "1|2|2|3");
}

TEST(FhirPathFunctions, BooleanLogicIsThreeValued) {
  EXPECT_EQ(run("true and {}"), "");
  EXPECT_EQ(run("false and {}"), "false");
  EXPECT_EQ(run("{} or true"), "true");
  EXPECT_EQ(run("{} implies false"), "");
  EXPECT_EQ(run("false implies {}"), "true");
  EXPECT_EQ(run("true xor true"), "false");
  EXPECT_EQ(run("{}.not()"), "");
  EXPECT_EQ(run("iif(active, 'yes', 'no')"), "yes");
  EXPECT_EQ(run("iif(false, 1/0, 2)"), "2");
  EXPECT_EQ(run("iif('x', 1, 2)").substr(0, 6), "ERROR:");
}

TEST(FhirPathFunctions, Strings) {
  EXPECT_EQ(run("'LogicalModel-Person'.indexOf('-')"), "12");
  EXPECT_EQ(run("'12345'.substring(2, 2)"), "34");
  EXPECT_EQ(run("'héllo'.length()"), "5");
  EXPECT_EQ(run("'héllo'.substring(1, 2)"), "él");
  EXPECT_EQ(run("'abc'.startsWith('ab') and 'abc'.endsWith('bc') and 'abc'.contains('b')"), "true");
  EXPECT_EQ(run("'aBc'.upper() & 'aBc'.lower()"), "ABCabc");
  EXPECT_EQ(run("'abc'.replace('', 'x')"), "xaxbxcx");
  EXPECT_EQ(run("'abc123'.replaceMatches('[0-9]', '-')"), "abc---");
  EXPECT_EQ(run("'A\nB'.matches('A.B')"), "true");
  EXPECT_EQ(run("'ab'.matchesFull('a')"), "false");
  EXPECT_EQ(run("'a('.matches('(')").substr(0, 6), "ERROR:");
  EXPECT_EQ(run("'a,,b'.split(',').count()"), "3");
  EXPECT_EQ(run("name.given.join('+')"), "Peter+James+Jim");
  EXPECT_EQ(run("'  x  '.trim()"), "x");
  EXPECT_EQ(run("'ab'.toChars()"), "a|b");
  EXPECT_EQ(run("'subjects?_d'.encode('urlbase64')"), "c3ViamVjdHM_X2Q=");
  EXPECT_EQ(run("'dGVzdA=='.decode('base64') & '74657374'.decode('hex')"), "testtest");
  EXPECT_EQ(run("'\"1<2\"'.escape('html')"), "&quot;1&lt;2&quot;");
  EXPECT_EQ(run("'a'.escape('rot13')").substr(0, 6), "ERROR:");
  EXPECT_EQ(run("telecom.value.startsWith('5')").substr(0, 6), "ERROR:");
}

TEST(FhirPathFunctions, Math) {
  EXPECT_EQ(run("(-5.5).abs()"), "5.5");
  EXPECT_EQ(run("1.1.ceiling() | (-2.1).floor() | (-1.56).truncate()"), "2|-3|-1");
  EXPECT_EQ(run("3.14159.round(3)"), "3.142");
  EXPECT_EQ(run("81.sqrt() = 9"), "true");
  EXPECT_EQ(run("(-1).sqrt()"), "");
  EXPECT_EQ(run("2.power(10)"), "1024");
  EXPECT_EQ(run("16.log(2)"), "4");
  EXPECT_EQ(run("0.exp()"), "1");
  EXPECT_EQ(run("1 / 0"), "");
  EXPECT_EQ(run("7 div 2 | 7 mod 2"), "3|1");
  EXPECT_EQ(run("9223372036854775807 + 1").substr(0, 6), "ERROR:");
  EXPECT_EQ(run("1.2 / 1.8"), "0.66666667");
  EXPECT_EQ(run("1.587.lowBoundary() | 1.587.highBoundary(2)"), "1.58650000|1.59");
  EXPECT_EQ(run("@2014.highBoundary(6) | @T10:30.lowBoundary(9)"), "2014-12|10:30:00.000");
  EXPECT_EQ(run("1.58700.precision() | @2014-01-05T10:30:00.000.precision()"), "5|17");
}

TEST(FhirPathFunctions, Conversions) {
  EXPECT_EQ(run("'1'.toInteger() + 1"), "2");
  EXPECT_EQ(run("'1.5'.toDecimal()"), "1.5");
  EXPECT_EQ(run("'yes'.toBoolean()"), "true");
  EXPECT_EQ(run("'abc'.convertsToInteger()"), "false");
  EXPECT_EQ(run("'1 \\'wk\\''.toQuantity() = 7 days"), "true");
  EXPECT_EQ(run("'1 wk'.convertsToQuantity()"), "false");
  EXPECT_EQ(run("1 'g'.toQuantity('mg')"), "1000 'mg'");
  EXPECT_EQ(run("birthDate.toString()"), "1990-06-15");
  EXPECT_EQ(run("'2015-02-04T14:34'.toDateTime()"), "2015-02-04T14:34");
  EXPECT_EQ(run("'14:34'.toTime() < @T15:00"), "true");
  EXPECT_EQ(run("name.toString()").substr(0, 6), "ERROR:");
}

TEST(FhirPathFunctions, DatesAndQuantities) {
  EXPECT_EQ(run("birthDate + 1 year"), "1991-06-15");
  EXPECT_EQ(run("@2012-01-31 + 1 month"), "2012-02-29");
  EXPECT_EQ(run("@2012-01-31T10:00:00Z - 30 'min'"), "2012-01-31T09:30:00Z");
  EXPECT_EQ(run("@1973-12-25 + 1 'mo'").substr(0, 6), "ERROR:");
  EXPECT_EQ(run("birthDate < today() and now() > birthDate"), "true");
  EXPECT_EQ(run("birthDate = @1990-06-15T10:00"), "");
  EXPECT_EQ(run("4 'g' = 4000 'mg'"), "true");
  EXPECT_EQ(run("1 year = 1 'a'"), "");
  EXPECT_EQ(run("2 'm' * 3 'm'"), "6 'm.m'");
  EXPECT_EQ(run("1 'kg' + 500 'g'"), "1.5 'kg'");
}

TEST(FhirPathFunctions, Types) {
  EXPECT_EQ(run("active.type().namespace & '.' & active.type().name"), "FHIR.boolean");
  EXPECT_EQ(run("1.type().name"), "Integer");
  EXPECT_EQ(run("gender.is(code) and gender.is(string) and gender.is(id).not()"), "true");
  EXPECT_EQ(run("Patient.is(DomainResource) and Patient.is(Resource)"), "true");
  EXPECT_EQ(run("name.as(HumanName)").substr(0, 6), "ERROR:");
  EXPECT_EQ(run("(name as HumanName).count()"), "2");  // the operator filters collections (R4 search parameters)
  EXPECT_EQ(run("name is HumanName").substr(0, 6), "ERROR:");
  EXPECT_EQ(run("name.ofType(HumanName).count()"), "2");
  EXPECT_EQ(run("conformsTo('http://hl7.org/fhir/StructureDefinition/Patient')"), "true");
  EXPECT_EQ(run("conformsTo('http://example.org/profile')").substr(0, 6), "ERROR:");
}

}  // namespace
}  // namespace ucr::fhirpath
