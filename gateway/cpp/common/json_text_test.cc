#include "common/json_text.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>

namespace sandgate {
namespace {

using namespace std::string_literals;

json::value parse_ok(std::string_view text, const JsonLimits& limits = {}) {
  auto parsed = parse_json_text(text, limits);
  if (auto* error = std::get_if<JsonParseError>(&parsed)) {
    ADD_FAILURE() << text << ": " << error->message;
    return nullptr;
  }
  return std::get<json::value>(parsed);
}

JsonParseError parse_error(std::string_view text, const JsonLimits& limits = {}) {
  auto parsed = parse_json_text(text, limits);
  EXPECT_TRUE(std::holds_alternative<JsonParseError>(parsed)) << text;
  auto* error = std::get_if<JsonParseError>(&parsed);
  const auto checked = validate_json_text(text, limits);
  EXPECT_TRUE(checked.has_value()) << "validate_json_text accepted what parse_json_text refused: " << text;
  if (error == nullptr) return {JsonError::kSyntax, ""};
  if (checked) {
    EXPECT_EQ(checked->error, error->error) << text;
  }
  return *error;
}

std::uint64_t bits(double value) {
  std::uint64_t out = 0;
  std::memcpy(&out, &value, sizeof out);
  return out;
}

// Each text with the double Python's float() gives for it (bit patterns, so -0.0 and 1 ULP count).
TEST(JsonText, DoublesAreCorrectlyRounded) {
  const std::pair<const char*, double> cases[] = {
      {"115196.20000000001", 115196.20000000001},
      {"1.151962E5", 115196.2},
      {"0.1", 0.1},
      {"2.2250738585072011e-308", 2.2250738585072011e-308},
      {"4.9406564584124654e-324", 4.9406564584124654e-324},
      {"5e-324", 5e-324},
      {"1.7976931348623157e308", 1.7976931348623157e308},
      {"9007199254740993.0", 9007199254740992.0},  // halfway: ties to even
      {"0.30000000000000004441", 0.30000000000000004},
      {"-0.0", -0.0},
      {"-0e-0", -0.0},
      {"1e400", HUGE_VAL},
      {"-1e400", -HUGE_VAL},
      {"1e-400", 0.0},
      {"-1e-400", -0.0},
  };
  for (const auto& [text, expected] : cases) {
    SCOPED_TRACE(text);
    const json::value value = parse_ok(text);
    ASSERT_TRUE(value.is_double());
    EXPECT_EQ(bits(value.get_double()), bits(expected));
  }
}

TEST(JsonText, IntegersStayIntegersWithinSixtyFourBits) {
  EXPECT_EQ(parse_ok("9223372036854775807").as_int64(), INT64_MAX);
  EXPECT_EQ(parse_ok("-9223372036854775808").as_int64(), INT64_MIN);
  EXPECT_EQ(parse_ok("18446744073709551615").as_uint64(), UINT64_MAX);
  // Past 64 bits the tree holds the nearest double; the text is what travels (raw_member below).
  EXPECT_TRUE(parse_ok("18446744073709551616").is_double());
  const std::string text = R"({"x":12345678901234567890123})";
  EXPECT_EQ(raw_member(text, "x"), "12345678901234567890123");
}

TEST(JsonText, DuplicateKeysKeepTheLastValueAsPythonDoes) {
  const std::string text = R"({"a":1,"b":2,"a":3})";
  const json::value value = parse_ok(text);
  EXPECT_EQ(value.as_object().size(), 2u);
  EXPECT_EQ(value.at("a").as_int64(), 3);
  EXPECT_EQ(raw_member(text, "a"), "3");
  // An escaped key is the same key.
  const std::string escaped = R"({"arguments":{"x":1},"\u0061rguments":{"x":2}})";
  EXPECT_EQ(parse_ok(escaped).at("arguments").at("x").as_int64(), 2);
  EXPECT_EQ(raw_member(escaped, "arguments"), R"({"x":2})");
}

TEST(JsonText, DepthLimitIsNamedAndExact) {
  const JsonLimits limits{8, 1024, 1024};
  parse_ok(std::string(8, '[') + std::string(8, ']'), limits);
  const JsonParseError error = parse_error(std::string(9, '[') + std::string(9, ']'), limits);
  EXPECT_EQ(error.error, JsonError::kTooDeep);
  EXPECT_NE(error.message.find("max_json_depth (8)"), std::string::npos) << error.message;
}

TEST(JsonText, StringLimitCountsUnescapedBytesOfStringsAndKeys) {
  const JsonLimits limits{8, 4, 1024};
  parse_ok(R"(["abcd"])", limits);
  parse_ok(R"(["\u00e9\u00e9"])", limits);  // two 2-byte characters: 4 bytes
  for (const char* text : {R"(["abcde"])", R"({"abcde":1})", R"(["\u00e9\u00e9a"])"}) {
    const JsonParseError error = parse_error(text, limits);
    EXPECT_EQ(error.error, JsonError::kStringTooLong) << text;
    EXPECT_NE(error.message.find("max_json_string_bytes (4)"), std::string::npos) << error.message;
  }
}

TEST(JsonText, MemberLimitCountsObjectsAndArrays) {
  const JsonLimits limits{8, 64, 3};
  parse_ok("[1,2,3]", limits);
  parse_ok(R"({"a":1,"b":2,"c":3})", limits);
  for (const char* text : {"[1,2,3,4]", R"({"a":1,"b":2,"c":3,"d":4})"}) {
    const JsonParseError error = parse_error(text, limits);
    EXPECT_EQ(error.error, JsonError::kTooManyMembers) << text;
    EXPECT_NE(error.message.find("max_json_members (3)"), std::string::npos) << error.message;
  }
}

TEST(JsonText, LoneSurrogatesAndBadUtf8AreNamed) {
  for (const char* text : {R"(["\ud800"])", R"(["\udc00"])", R"(["\ud800x"])", R"(["\ud800\u0041"])", R"(["a\uDBFF"])"}) {
    EXPECT_EQ(parse_error(text).error, JsonError::kLoneSurrogate) << text;
  }
  parse_ok(R"(["\ud83d\ude00"])");
  for (std::string text : {"[\"\xff\"]"s, "[\"\xc3\"]"s, "[\"\xed\xa0\x80\"]"s, "[\"\xc0\xaf\"]"s}) {
    const JsonParseError error = parse_error(text);
    EXPECT_EQ(error.error, JsonError::kInvalidUtf8) << testing::PrintToString(text);
    EXPECT_NE(error.message.find("invalid UTF-8"), std::string::npos);
  }
  EXPECT_EQ(parse_error("[tru]").error, JsonError::kSyntax);
  EXPECT_EQ(parse_error("{} x").error, JsonError::kSyntax);
  EXPECT_EQ(parse_error("\xc3\xa9").error, JsonError::kSyntax);  // valid UTF-8, just not JSON
}

TEST(JsonText, RawViewsSpanExactlyWhatWasWritten) {
  const std::string text = " { \"a\" : [1, {\"b\":\"}]\\\"\"} ] ,\"c\":-0.0e+0 ,\"d\" :\"x\\\\\",\"e\":{}, \"f\":null } ";
  parse_ok(text);
  const std::vector<RawMember> members = raw_members(text);
  ASSERT_EQ(members.size(), 5u);
  EXPECT_EQ(members[0].key, "\"a\"");
  EXPECT_EQ(members[0].value, "[1, {\"b\":\"}]\\\"\"} ]");
  EXPECT_EQ(members[1].value, "-0.0e+0");
  EXPECT_EQ(members[2].value, "\"x\\\\\"");
  EXPECT_EQ(members[3].value, "{}");
  EXPECT_EQ(members[4].value, "null");
  const std::vector<std::string_view> elements = raw_elements(members[0].value);
  ASSERT_EQ(elements.size(), 2u);
  EXPECT_EQ(elements[1], "{\"b\":\"}]\\\"\"}");
  EXPECT_EQ(raw_member(text, "missing"), std::nullopt);
  EXPECT_TRUE(raw_members("{}").empty());
  EXPECT_TRUE(raw_elements("[ ]").empty());
  EXPECT_EQ(trim_json(" \n{}\t"), "{}");
}

TEST(JsonText, RawViewsOfNonContainersAreEmptyAndNeverOverrun) {
  EXPECT_TRUE(raw_members("[1]").empty());
  EXPECT_TRUE(raw_elements("{}").empty());
  // Not valid JSON (a precondition broken): they stop, within the text.
  for (const char* text : {"{\"a", "{\"a\":", "{\"a\":[1,", "[\"\\", "{\"a\" 1}"}) {
    for (const RawMember& member : raw_members(text)) {
      EXPECT_LE(member.value.data() + member.value.size(), text + std::strlen(text));
    }
    raw_elements(text);
  }
}

TEST(JsonText, AppendRawMemberWritesAnObject) {
  std::string object = "{";
  append_raw_member(object, "\"a\"", "1");
  append_raw_member(object, "\"b\"", "[2]");
  object.push_back('}');
  EXPECT_EQ(object, R"({"a":1,"b":[2]})");
  parse_ok(object);
}

}  // namespace
}  // namespace sandgate
