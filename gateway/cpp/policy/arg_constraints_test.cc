#include "policy/arg_constraints.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <random>
#include <span>
#include <stdexcept>
#include <thread>
#include <vector>

namespace sandgate::policy {
namespace {

using Clock = std::chrono::steady_clock;

ArgConstraints compiled(std::string_view spec) {
  auto result = ArgConstraints::compile(json::parse(spec).as_object());
  if (const CompileError* error = std::get_if<CompileError>(&result)) {
    throw std::runtime_error("compile failed on '" + error->field + "': " + error->code + ": " + error->message);
  }
  return std::move(std::get<ArgConstraints>(result));
}

// The code of the compile error, or "compiled".
std::string compile_code(std::string_view spec) {
  auto result = ArgConstraints::compile(json::parse(spec).as_object());
  const CompileError* error = std::get_if<CompileError>(&result);
  return error == nullptr ? "compiled" : error->code;
}

// "ok", or the reason the arguments fail.
std::string verdict(const ArgConstraints& constraints, std::string_view arguments) {
  const ArgCheck result = constraints.check(json::parse(arguments));
  if (result.satisfied) {
    EXPECT_TRUE(result.field.empty() && result.reason.empty());
    return "ok";
  }
  EXPECT_FALSE(result.reason.empty());
  return result.reason;
}

// One argument "f" under one constraint object.
std::string verdict_on(std::string_view constraint, std::string_view argument) {
  return verdict(compiled(R"({"f":)" + std::string(constraint) + "}"), R"({"f":)" + std::string(argument) + "}");
}

std::string json_text(std::string_view text) { return json::serialize(json::string(text)); }

TEST(ArgConstraintsCompile, EveryMalformedSpecHasAStableCode) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"":{"const":1}})", "empty_field_name"},
      {R"({"a..b":{"const":1}})", "bad_field_name"},
      {R"({".a":{"const":1}})", "bad_field_name"},
      {R"({"a.":{"const":1}})", "bad_field_name"},
      {R"({"a":[]})", "constraint_not_object"},
      {R"({"a":"/srv/**"})", "constraint_not_object"},
      {R"({"a":{}})", "empty_constraint"},
      {R"({"a":{"enums":[1]}})", "unknown_constraint"},
      {R"({"a":{"not_glob":["/x"]}})", "unknown_constraint"},
      {R"({"a":{"enum":1}})", "bad_constraint_value"},
      {R"({"a":{"enum":[]}})", "bad_constraint_value"},
      {R"({"a":{"prefix":"https://"}})", "bad_constraint_value"},
      {R"({"a":{"prefix":["https://",1]}})", "bad_constraint_value"},
      {R"({"a":{"prefix":[]}})", "bad_constraint_value"},
      {R"({"a":{"glob":"/srv/**"}})", "bad_constraint_value"},
      {R"({"a":{"notGlob":[null]}})", "bad_constraint_value"},
      {R"({"a":{"pattern":["a"]}})", "bad_constraint_value"},
      {R"({"a":{"min":true}})", "bad_constraint_value"},
      {R"({"a":{"max":"10"}})", "bad_constraint_value"},
      {R"({"a":{"maxLength":-1}})", "bad_constraint_value"},
      {R"({"a":{"maxLength":1.5}})", "bad_constraint_value"},
      {R"({"a":{"hosts":[1]}})", "bad_constraint_value"},
      {R"({"a":{"cidrs":"10.0.0.0/8"}})", "bad_constraint_value"},
      {R"({"a":{"min":2,"max":1}})", "min_above_max"},
      {R"({"a":{"min":1.5,"max":1}})", "min_above_max"},
      {R"({"a":{"pattern":"(a"}})", "bad_pattern"},
      {R"({"a":{"glob":["srv/**"]}})", "glob_not_absolute"},
      {R"({"a":{"notGlob":["*/.git/**"]}})", "glob_not_absolute"},
      {R"({"a":{"glob":["/srv/[ab]/**"]}})", "bad_glob"},
      {R"({"a":{"glob":["/srv/a\\*"]}})", "bad_glob"},
      {R"({"a":{"glob":["/srv/../etc/**"]}})", "bad_glob"},
      {R"({"a":{"glob":["/srv/\u0000/**"]}})", "bad_glob"},
      {R"({"a":{"hosts":["exa mple.com"]}})", "bad_host"},
      {R"({"a":{"hosts":["ex*ample.com"]}})", "bad_host"},
      {R"({"a":{"hosts":["*"]}})", "bad_host"},
      {R"({"a":{"hosts":["bücher.de"]}})", "bad_host"},
      {R"({"a":{"hosts":["*.10.0.0.1"]}})", "bad_host"},
      {R"({"a":{"hosts":["::1"]}})", "bad_host"},
      {R"({"a":{"hosts":["a..b"]}})", "bad_host"},
      {R"({"a":{"cidrs":["10.0.0.0/33"]}})", "bad_cidr"},
      {R"({"a":{"cidrs":["10.1.2.3/8"]}})", "bad_cidr"},
      {R"({"a":{"cidrs":["2001:db8::/129"]}})", "bad_cidr"},
      {R"({"a":{"cidrs":["2001:db8::1/32"]}})", "bad_cidr"},
      {R"({"a":{"cidrs":["10.0.0.0/"]}})", "bad_cidr"},
      {R"({"a":{"cidrs":["10.0.0.0/08"]}})", "bad_cidr"},
      {R"({"a":{"cidrs":["010.0.0.0/8"]}})", "bad_cidr"},
      {R"({"a":{"cidrs":["example.com/8"]}})", "bad_cidr"},
      {R"({"a":{"cidrs":["[::1]/128"]}})", "bad_cidr"},
  };
  for (const auto& [spec, code] : cases) EXPECT_EQ(compile_code(spec), code) << spec;
}

TEST(ArgConstraintsCompile, NearMissesOfTheErrorsCompile) {
  for (const char* spec : {R"({"a.b":{"const":1}})", R"({"a":{"const":null}})", R"({"a":{"min":1,"max":1}})",
                           R"({"a":{"min":1,"max":1.0}})", R"({"a":{"maxLength":0}})", R"({"a":{"pattern":""}})",
                           R"({"a":{"glob":["/", "/srv/./x/", "//srv//**"]}})", R"({"a":{"glob":["/srv/..x/**"]}})",
                           R"({"a":{"hosts":["EXAMPLE.com.", "*.example.com", "10.0.0.1", "my_host"]}})",
                           R"({"a":{"cidrs":["10.0.0.0/8", "10.0.0.1", "0.0.0.0/0", "2001:DB8::/32", "::/0"]}})"}) {
    EXPECT_EQ(compile_code(spec), "compiled") << spec;
  }
}

TEST(ArgConstraintsCompile, ErrorsNameTheFirstFieldInSortedOrderAndCarryRe2sMessage) {
  auto result = ArgConstraints::compile(json::parse(R"({"b":{"nope":1},"a":{"pattern":"(x"},"c":{}})").as_object());
  ASSERT_TRUE(std::holds_alternative<CompileError>(result));
  const CompileError& error = std::get<CompileError>(result);
  EXPECT_EQ(error.field, "a");
  EXPECT_EQ(error.code, "bad_pattern");
  EXPECT_NE(error.message.find("missing )"), std::string::npos) << error.message;
}

TEST(ArgConstraints, AnEmptySpecIsEmptyAndAllowsAnything) {
  const ArgConstraints none = compiled("{}");
  EXPECT_TRUE(none.empty());
  EXPECT_EQ(verdict(none, "[1]"), "ok");
  EXPECT_FALSE(compiled(R"({"a":{"const":1}})").empty());
  const ArgConstraints defaulted;
  EXPECT_TRUE(defaulted.empty());
  EXPECT_EQ(verdict(defaulted, "null"), "ok");
}

TEST(ArgConstraints, AnAbsentArgumentFailsClosed) {
  const ArgConstraints c = compiled(R"({"a.b":{"const":1}})");
  EXPECT_EQ(verdict(c, R"({"a":{"b":1}})"), "ok");
  EXPECT_EQ(verdict(c, R"({"a":{"c":1}})"), "argument_missing");
  EXPECT_EQ(verdict(c, R"({"a":{}})"), "argument_missing");
  EXPECT_EQ(verdict(c, R"({"a":[1]})"), "argument_missing");    // not an object on the way
  EXPECT_EQ(verdict(c, R"({"a.b":1})"), "argument_missing");    // a dotted key is not the nested member
  EXPECT_EQ(verdict(c, R"({})"), "argument_missing");
  for (const char* not_object : {"null", "[]", R"("a")", "1"}) {
    EXPECT_EQ(verdict(c, not_object), "argument_missing") << not_object;
  }
  EXPECT_EQ(verdict(compiled(R"({"a":{"const":null}})"), R"({})"), "argument_missing");
}

TEST(ArgConstraints, FieldsRunInSortedOrderAndTheFirstFailureIsReported) {
  const ArgConstraints c = compiled(R"({"zeta":{"const":1},"alpha":{"const":1},"mid":{"const":1}})");
  const ArgCheck all_bad = c.check(json::parse(R"({"zeta":2,"alpha":2,"mid":2})"));
  EXPECT_EQ(all_bad.field, "alpha");
  EXPECT_EQ(all_bad.reason, "not_const");
  const ArgCheck last_bad = c.check(json::parse(R"({"zeta":2,"alpha":1,"mid":1})"));
  EXPECT_EQ(last_bad.field, "zeta");
  EXPECT_FALSE(last_bad.satisfied);
  EXPECT_TRUE(c.check(json::parse(R"({"zeta":1,"alpha":1,"mid":1,"extra":"anything"})")).satisfied);
}

TEST(ArgConstraints, EnumAndConstUseJsonEquality) {
  const std::string one_of = R"({"enum":["GET",1,null,{"a":[1,2],"b":true}]})";
  EXPECT_EQ(verdict_on(one_of, R"("GET")"), "ok");
  EXPECT_EQ(verdict_on(one_of, R"("get")"), "not_in_enum");
  EXPECT_EQ(verdict_on(one_of, "1.0"), "ok");  // numbers by value
  EXPECT_EQ(verdict_on(one_of, "1.0000001"), "not_in_enum");
  EXPECT_EQ(verdict_on(one_of, R"("1")"), "not_in_enum");  // a string is not a number
  EXPECT_EQ(verdict_on(one_of, "true"), "not_in_enum");    // nor is a bool
  EXPECT_EQ(verdict_on(one_of, "null"), "ok");
  EXPECT_EQ(verdict_on(one_of, R"({"b":true,"a":[1.0,2]})"), "ok");  // key order does not matter
  EXPECT_EQ(verdict_on(one_of, R"({"a":[2,1],"b":true})"), "not_in_enum");  // element order does
  EXPECT_EQ(verdict_on(one_of, R"({"a":[1,2],"b":true,"c":0})"), "not_in_enum");
  EXPECT_EQ(verdict_on(one_of, R"({"a":[1,2]})"), "not_in_enum");

  EXPECT_EQ(verdict_on(R"({"const":18446744073709551615})", "18446744073709551615"), "ok");
  EXPECT_EQ(verdict_on(R"({"const":18446744073709551615})", "1.8446744073709552e19"), "not_const");  // 2^64 exactly
  EXPECT_EQ(verdict_on(R"({"const":-1})", "18446744073709551615"), "not_const");
  EXPECT_EQ(verdict_on(R"({"const":0})", "-0.0"), "ok");
  EXPECT_EQ(verdict_on(R"({"const":null})", "null"), "ok");
  EXPECT_EQ(verdict_on(R"({"const":null})", "0"), "not_const");
  EXPECT_EQ(verdict_on(R"({"const":[1]})", "[1,1]"), "not_const");
}

TEST(ArgConstraints, PrefixAndPattern) {
  const std::string prefix = R"({"prefix":["https://api.github.com/","https://uploads.github.com/"]})";
  EXPECT_EQ(verdict_on(prefix, R"("https://uploads.github.com/x")"), "ok");
  EXPECT_EQ(verdict_on(prefix, R"("https://api.github.com")"), "no_prefix");
  EXPECT_EQ(verdict_on(prefix, R"("https://api.github.com.evil.com/")"), "no_prefix");
  EXPECT_EQ(verdict_on(prefix, R"(["https://api.github.com/"])"), "type_mismatch");

  const std::string pattern = R"({"pattern":"[a-z]+-\\d{2}"})";
  EXPECT_EQ(verdict_on(pattern, R"("build-42")"), "ok");
  EXPECT_EQ(verdict_on(pattern, R"("build-42y")"), "pattern_mismatch");  // full match, not search
  EXPECT_EQ(verdict_on(pattern, R"(" build-42")"), "pattern_mismatch");
  EXPECT_EQ(verdict_on(pattern, "42"), "type_mismatch");
  EXPECT_EQ(verdict_on(R"({"pattern":".{3}"})", R"("héé")"), "ok");  // UTF-8: dot is a code point
  EXPECT_EQ(verdict_on(R"({"pattern":".{3}"})", R"("hé")"), "pattern_mismatch");
}

TEST(ArgConstraints, MinAndMaxCompareNumbersExactly) {
  const std::string range = R"({"min":1,"max":10})";
  EXPECT_EQ(verdict_on(range, "1"), "ok");
  EXPECT_EQ(verdict_on(range, "10.0"), "ok");
  EXPECT_EQ(verdict_on(range, "0.999999"), "below_min");
  EXPECT_EQ(verdict_on(range, "10.000001"), "above_max");
  EXPECT_EQ(verdict_on(range, "-9223372036854775808"), "below_min");
  EXPECT_EQ(verdict_on(range, "18446744073709551615"), "above_max");
  EXPECT_EQ(verdict_on(range, "true"), "type_mismatch");  // bool is not a number
  EXPECT_EQ(verdict_on(range, R"("5")"), "type_mismatch");
  EXPECT_EQ(verdict_on(range, "null"), "type_mismatch");

  const std::string uint_max = R"({"min":0,"max":18446744073709551615})";
  EXPECT_EQ(verdict_on(uint_max, "18446744073709551615"), "ok");
  EXPECT_EQ(verdict_on(uint_max, "1.8446744073709552e19"), "above_max");  // 2^64, above uint64 max by one
  EXPECT_EQ(verdict_on(uint_max, "-1"), "below_min");
  EXPECT_EQ(verdict_on(uint_max, "-0.0"), "ok");

  const std::string doubles = R"({"min":-0.5,"max":2.5})";
  EXPECT_EQ(verdict_on(doubles, "-0.5"), "ok");
  EXPECT_EQ(verdict_on(doubles, "2"), "ok");
  EXPECT_EQ(verdict_on(doubles, "3"), "above_max");
  EXPECT_EQ(verdict_on(doubles, "-1"), "below_min");
  EXPECT_EQ(verdict_on(R"({"min":-9223372036854775808})", "-9223372036854775808"), "ok");
  EXPECT_EQ(verdict_on(R"({"min":-9223372036854775807})", "-9223372036854775808"), "below_min");
  // 2^53 + 1 is above 2^53 even though both round to the same double.
  EXPECT_EQ(verdict_on(R"({"max":9007199254740992.0})", "9007199254740993"), "above_max");
  EXPECT_EQ(verdict_on(R"({"max":9007199254740992.0})", "9007199254740992"), "ok");
}

TEST(ArgConstraints, MaxLengthCountsCodePointsNotBytes) {
  EXPECT_EQ(verdict_on(R"({"maxLength":5})", R"("héllo")"), "ok");  // 5 code points, 6 bytes
  EXPECT_EQ(verdict_on(R"({"maxLength":4})", R"("héllo")"), "too_long");
  EXPECT_EQ(verdict_on(R"({"maxLength":2})", R"("😀😀")"), "ok");  // 8 bytes
  EXPECT_EQ(verdict_on(R"({"maxLength":1})", R"("😀😀")"), "too_long");
  EXPECT_EQ(verdict_on(R"({"maxLength":0})", R"("")"), "ok");
  EXPECT_EQ(verdict_on(R"({"maxLength":0})", R"("a")"), "too_long");
  EXPECT_EQ(verdict_on(R"({"maxLength":3})", "123"), "type_mismatch");
  // A hand-built string of stray continuation bytes still counts one per byte.
  const ArgConstraints c = compiled(R"({"f":{"maxLength":3}})");
  EXPECT_EQ(c.check(json::object{{"f", "\x80\x80\x80\x80"}}).reason, "too_long");
}

TEST(ArgConstraints, EveryConstraintOfAFieldMustHold) {
  const std::string both = R"({"prefix":["ab"],"maxLength":3,"enum":["abc","abcd","xyz"]})";
  EXPECT_EQ(verdict_on(both, R"("abc")"), "ok");
  EXPECT_EQ(verdict_on(both, R"("abcd")"), "too_long");
  EXPECT_EQ(verdict_on(both, R"("xyz")"), "no_prefix");
  EXPECT_EQ(verdict_on(both, R"("ab")"), "not_in_enum");
}

TEST(NormalizePath, CollapsesSlashesDropsDotsAndRefusesTraversal) {
  const std::vector<std::pair<std::string, std::optional<std::string>>> cases = {
      {"/srv/repos/./x", "/srv/repos/x"},
      {"//srv//repos/x", "/srv/repos/x"},
      {"/srv/repos/x/", "/srv/repos/x"},
      {"/./srv/.", "/srv"},
      {"/", "/"},
      {"///", "/"},
      {"/srv/..x/.y/x..", "/srv/..x/.y/x.."},  // near misses of "." and ".."
      {"/srv/repos/../etc/passwd", std::nullopt},
      {"/srv/repos/x/..", std::nullopt},
      {"/..", std::nullopt},
      {"srv/repos/x", std::nullopt},
      {"./x", std::nullopt},
      {"", std::nullopt},
      {std::string("/srv/x\0.txt", 11), std::nullopt},
  };
  for (const auto& [path, expected] : cases) EXPECT_EQ(normalize_path(path), expected) << path;
}

TEST(GlobMatch, DoubleStarAtStartMiddleAndEnd) {
  EXPECT_TRUE(glob_match("/**/x", "/x"));
  EXPECT_TRUE(glob_match("/**/x", "/a/b/x"));
  EXPECT_FALSE(glob_match("/**/x", "/a/xy"));
  EXPECT_FALSE(glob_match("/**/x", "/a/x/b"));
  EXPECT_TRUE(glob_match("/a/**/b", "/a/b"));
  EXPECT_TRUE(glob_match("/a/**/b", "/a/x/y/b"));
  EXPECT_FALSE(glob_match("/a/**/b", "/a/x/c"));
  EXPECT_FALSE(glob_match("/a/**/b", "/ab"));
  EXPECT_TRUE(glob_match("/a/**", "/a"));
  EXPECT_TRUE(glob_match("/a/**", "/a/b/c"));
  EXPECT_FALSE(glob_match("/a/**", "/ab"));
  EXPECT_FALSE(glob_match("/a/**", "/"));
  EXPECT_TRUE(glob_match("/**", "/"));
  EXPECT_TRUE(glob_match("/**/.git/**", "/srv/repos/x/.git/config"));
  EXPECT_TRUE(glob_match("/**/**/b/**", "/b"));
}

TEST(GlobMatch, StarAndQuestionMarkStayInOneSegment) {
  EXPECT_TRUE(glob_match("/a/*", "/a/b"));
  EXPECT_FALSE(glob_match("/a/*", "/a/b/c"));
  EXPECT_FALSE(glob_match("/a/*", "/a"));
  EXPECT_TRUE(glob_match("/a/*/c", "/a/b/c"));
  EXPECT_TRUE(glob_match("/a/*.pem", "/a/.pem"));
  EXPECT_TRUE(glob_match("/a/**.pem", "/a/x.pem"));  // `**` inside a segment is just `*`
  EXPECT_FALSE(glob_match("/a/**.pem", "/a/b/x.pem"));
  EXPECT_TRUE(glob_match("/a/?", "/a/é"));  // one code point, two bytes
  EXPECT_FALSE(glob_match("/a/?", "/a/ab"));
  EXPECT_TRUE(glob_match("/a/?b*", "/a/éb"));
  EXPECT_TRUE(glob_match("/a/*é", "/a/éé"));
  EXPECT_FALSE(glob_match("/a/?", "/a/\xC3"));  // not UTF-8: never a match
}

// Exponential on purpose: the reference the fast matcher must agree with, on small inputs.
std::size_t unit(std::string_view s) {
  std::size_t n = 1;
  while (n < s.size() && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) ++n;
  return n;
}
bool naive_segment(std::string_view g, std::string_view n) {
  if (g.empty()) return n.empty();
  if (g[0] == '*') return naive_segment(g.substr(1), n) || (!n.empty() && naive_segment(g, n.substr(unit(n))));
  if (n.empty()) return false;
  if (g[0] == '?') return naive_segment(g.substr(1), n.substr(unit(n)));
  return g[0] == n[0] && naive_segment(g.substr(1), n.substr(1));
}
bool naive_segments(std::span<const std::string> g, std::span<const std::string> p) {
  if (g.empty()) return p.empty();
  if (g[0] == "**") return naive_segments(g.subspan(1), p) || (!p.empty() && naive_segments(g, p.subspan(1)));
  return !p.empty() && naive_segment(g[0], p[0]) && naive_segments(g.subspan(1), p.subspan(1));
}

TEST(GlobMatch, AgreesWithANaiveMatcherOnRandomInputs) {
  std::mt19937 random(20240601);
  const std::vector<std::string> glob_units = {"a", "b", "*", "?", "é"};
  const std::vector<std::string> path_units = {"a", "b", "é"};
  auto segments = [&](const std::vector<std::string>& units, std::size_t most, bool globs) {
    std::vector<std::string> out(random() % (most + 1));
    for (std::string& segment : out) {
      if (globs && random() % 4 == 0) {
        segment = "**";
        continue;
      }
      for (std::size_t i = 0, n = 1 + random() % 3; i < n; ++i) segment += units[random() % units.size()];
    }
    return out;
  };
  auto join = [](const std::vector<std::string>& parts) {
    std::string out;
    for (const std::string& part : parts) out += "/" + part;
    return out.empty() ? std::string("/") : out;
  };
  int matches = 0;
  for (int i = 0; i < 20000; ++i) {
    const auto g = segments(glob_units, 5, true);
    const auto p = segments(path_units, 6, false);
    const bool expected = naive_segments(g, p);
    matches += expected;
    ASSERT_EQ(glob_match(join(g), join(p)), expected) << join(g) << " vs " << join(p);
  }
  EXPECT_GT(matches, 500);  // the table exercises matches, not only misses
}

TEST(GlobMatch, PathologicalInputsStayFast) {
  std::string many_stars, deep_path, star_segment = "/", long_name = "/";
  for (int i = 0; i < 200; ++i) many_stars += "/**/a";
  many_stars += "/b";
  for (int i = 0; i < 5000; ++i) deep_path += "/a";
  for (int i = 0; i < 200; ++i) star_segment += "*a";
  star_segment += "b";
  long_name += std::string(20000, 'a');
  const auto start = Clock::now();
  EXPECT_FALSE(glob_match(many_stars, deep_path));
  EXPECT_TRUE(glob_match(many_stars, deep_path + "/b"));
  EXPECT_FALSE(glob_match(star_segment, long_name));
  EXPECT_TRUE(glob_match(star_segment, long_name + "b"));
  const ArgConstraints c = compiled(R"({"f":{"glob":["/**"],"notGlob":[)" + json_text(many_stars) + "]}}");
  EXPECT_EQ(verdict(c, R"({"f":)" + json_text(deep_path) + "}"), "ok");
  EXPECT_EQ(verdict(c, R"({"f":)" + json_text(deep_path + "/b") + "}"), "glob_excluded");
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(2));  // a backtracking matcher needs ~C(5000,200) steps
}

TEST(ArgConstraints, PathGlobsNormalizeAndNotGlobWins) {
  const ArgConstraints c =
      compiled(R"({"path":{"glob":["/srv/repos/**","/tmp/./*.txt"],"notGlob":["/**/.git/**","/**/*.pem"]}})");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"/srv/repos/x/README.md", "ok"},
      {"/srv/repos", "ok"},
      {"/srv/repos/./x", "ok"},
      {"//srv//repos/x", "ok"},
      {"/tmp/a.txt", "ok"},
      {"/tmp/a/b.txt", "glob_mismatch"},
      {"/srv/repos2/x", "glob_mismatch"},
      {"/srv/repo", "glob_mismatch"},
      {"/srv/repos/x/.git/config", "glob_excluded"},
      {"/srv/repos/.git", "glob_excluded"},
      {"/srv/repos/keys/server.pem", "glob_excluded"},
      {"/srv/repos/keys/server.pem.txt", "ok"},
      {"/srv/repos/../etc/passwd", "path_traversal"},
      {"/srv/repos/x/..", "path_traversal"},
      {"srv/repos/x", "path_not_absolute"},
      {"", "path_not_absolute"},
      {std::string("/srv/repos/x\0.pem", 17), "path_traversal"},
  };
  for (const auto& [path, expected] : cases) {
    EXPECT_EQ(verdict(c, R"({"path":)" + json_text(path) + "}"), expected) << path;
  }
  EXPECT_EQ(verdict(c, R"({"path":["/srv/repos/x"]})"), "type_mismatch");
  EXPECT_EQ(verdict(compiled(R"({"p":{"notGlob":["/etc/**"]}})"), R"({"p":"/srv/x"})"), "ok");
  EXPECT_EQ(verdict(compiled(R"({"p":{"notGlob":["/etc/**"]}})"), R"({"p":"//etc/./shadow"})"), "glob_excluded");
}

TEST(ArgConstraints, AGlobOpeningWithDoubleStarMatchesAtAnyDepth) {
  auto compiled = ArgConstraints::compile(json::parse(R"({"p":{"glob":["/srv/**"],"notGlob":["**/*.pem","**/.git/**"]}})").as_object());
  ASSERT_TRUE(std::holds_alternative<ArgConstraints>(compiled));
  const ArgConstraints& constraints = std::get<ArgConstraints>(compiled);
  EXPECT_TRUE(constraints.check(json::parse(R"({"p":"/srv/a/b.txt"})")).satisfied);
  EXPECT_EQ(constraints.check(json::parse(R"({"p":"/srv/a/b/key.pem"})")).reason, "glob_excluded");
  EXPECT_EQ(constraints.check(json::parse(R"({"p":"/srv/key.pem"})")).reason, "glob_excluded");
  EXPECT_EQ(constraints.check(json::parse(R"({"p":"/srv/repo/.git/config"})")).reason, "glob_excluded");
}

TEST(ArgConstraints, UrlHostsAndCidrs) {
  const ArgConstraints c =
      compiled(R"({"url":{"hosts":["api.github.com","*.Example.com"],"cidrs":["10.0.0.0/8","2001:db8::/32"]}})");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"https://api.github.com/x", "ok"},
      {"https://user@api.github.com:443/x", "ok"},
      {"https://user:secret@api.github.com/x?y=1#z", "ok"},
      {"https://API.GitHub.com./", "ok"},
      {"HTTPS://api.github.com", "ok"},
      {"https://api.github.com/é", "ok"},
      {"https://api.github.com../", "bad_url"},
      {"https://api.github.com.evil.com/", "host_not_allowed"},
      {"https://evil.com\\@api.github.com/", "bad_url"},
      {"https://evil.com#@api.github.com/", "host_not_allowed"},
      {"https://evil.com?@api.github.com/", "host_not_allowed"},
      {"https://a@b@api.github.com/", "bad_url"},
      {"https://api%2Egithub.com/", "bad_url"},
      {"https://www.example.com/", "ok"},
      {"https://a.b.example.com/", "ok"},
      {"https://example.com/", "host_not_allowed"},
      {"https://badexample.com/", "host_not_allowed"},
      {"https://[2001:db8::1]/", "ok"},
      {"https://[2001:DB8::1]:8443/x", "ok"},
      {"https://[2001:db9::1]/", "host_not_allowed"},
      {"https://[::ffff:10.0.0.1]/", "host_not_allowed"},
      {"https://[a00::1]/", "host_not_allowed"},  // starts with the bytes of 10.0.0.0/8, but IPv6
      {"http://32.1.13.184/", "host_not_allowed"},  // the bytes of 2001:db8::/32, but IPv4
      {"https://[2001:db8::1/", "bad_url"},
      {"https://[fe80::1%25eth0]/", "bad_url"},
      {"https://[2001:db8::1]x/", "bad_url"},
      {"http://10.1.2.3:80/", "ok"},
      {"http://11.1.2.3/", "host_not_allowed"},
      {"http://010.1.2.3/", "bad_url"},     // octal to inet_aton
      {"http://0x0a.1.2.3/", "bad_url"},
      {"http://167772161/", "bad_url"},     // 10.0.0.1 as one number
      {"http://10.1.2/", "bad_url"},
      {"api.github.com/x", "bad_url"},
      {"//api.github.com/x", "bad_url"},
      {"https:api.github.com", "bad_url"},
      {"https:/api.github.com", "bad_url"},
      {"1https://api.github.com/", "bad_url"},
      {"https:///api.github.com/", "bad_url"},
      {"file:///etc/passwd", "bad_url"},
      {"https://api.github.com /", "bad_url"},
      {"https://api.github.com/\n", "bad_url"},
      {"https://api.github.com\t/", "bad_url"},
      {"https://api.github.com/\x01", "bad_url"},
      {"https://api.github.com/\x7f", "bad_url"},
      {"https://api.github.com:/", "bad_url"},
      {"https://api.github.com:99999/", "bad_url"},
      {"https://api.github.com:44a/", "bad_url"},
      {"https://bücher.example.com/", "host_not_ascii"},
      {"https://xn--bcher-kva.example.com/", "ok"},
      {"https://user@/", "bad_url"},
  };
  for (const auto& [url, expected] : cases) {
    EXPECT_EQ(verdict(c, R"({"url":)" + json_text(url) + "}"), expected) << url;
  }
  EXPECT_EQ(verdict(c, R"({"url":443})"), "type_mismatch");
}

TEST(ArgConstraints, ANameNeverMatchesACidrAndAnIpMatchesAHostOnlyLiterally) {
  const ArgConstraints everywhere = compiled(R"({"u":{"cidrs":["0.0.0.0/0","::/0"]}})");
  EXPECT_EQ(verdict(everywhere, R"({"u":"https://127.0.0.1/"})"), "ok");
  EXPECT_EQ(verdict(everywhere, R"({"u":"https://[::1]/"})"), "ok");
  EXPECT_EQ(verdict(everywhere, R"({"u":"https://localhost/"})"), "host_not_allowed");
  const ArgConstraints host_ip = compiled(R"({"u":{"hosts":["10.0.0.1"]}})");
  EXPECT_EQ(verdict(host_ip, R"({"u":"http://10.0.0.1:8080/"})"), "ok");
  EXPECT_EQ(verdict(host_ip, R"({"u":"http://10.0.0.2/"})"), "host_not_allowed");
  const ArgConstraints narrow = compiled(R"({"u":{"cidrs":["192.168.1.128/25","10.0.0.1"]}})");
  EXPECT_EQ(verdict(narrow, R"({"u":"http://192.168.1.128/"})"), "ok");
  EXPECT_EQ(verdict(narrow, R"({"u":"http://192.168.1.255/"})"), "ok");
  EXPECT_EQ(verdict(narrow, R"({"u":"http://192.168.1.127/"})"), "host_not_allowed");
  EXPECT_EQ(verdict(narrow, R"({"u":"http://10.0.0.1/"})"), "ok");
  EXPECT_EQ(verdict(narrow, R"({"u":"http://10.0.0.2/"})"), "host_not_allowed");
}

TEST(ArgConstraints, CopiesAndMovesCheckTheSame) {
  const ArgConstraints original = compiled(R"({"f":{"pattern":"a+"}})");
  ArgConstraints copy = original;
  ArgConstraints moved = std::move(copy);
  EXPECT_EQ(verdict(moved, R"({"f":"aaa"})"), "ok");
  EXPECT_EQ(verdict(moved, R"({"f":"aab"})"), "pattern_mismatch");
  EXPECT_EQ(verdict(original, R"({"f":"aab"})"), "pattern_mismatch");
}

TEST(ArgConstraints, ConcurrentChecksAgree) {
  const ArgConstraints c =
      compiled(R"({"p":{"glob":["/srv/**"],"pattern":"/srv/[a-z/]+"},"u":{"hosts":["*.example.com"]}})");
  const json::value good = json::parse(R"({"p":"/srv/abc/def","u":"https://x.example.com/"})");
  const json::value bad = json::parse(R"({"p":"/srv/abc/DEF","u":"https://x.example.com/"})");
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        if (!c.check(good).satisfied || c.check(bad).reason != "pattern_mismatch") ++wrong;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
}  // namespace sandgate::policy
