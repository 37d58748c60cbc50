#include "mcp/jsonrpc.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

namespace sandgate::mcp {
namespace {

using namespace std::string_literals;

std::string nested_arrays(std::size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

std::string nested_objects(std::size_t depth) {
  std::string text;
  for (std::size_t i = 0; i < depth; ++i) text += R"({"a":)";
  return text + "1" + std::string(depth, '}');
}

// The single message of a non-batch body, or the body-level fault.
std::variant<Message, Fault> decode_one(std::string_view text) {
  auto decoded = decode_body(text);
  if (auto* fault = std::get_if<Fault>(&decoded)) return *fault;
  Body& body = std::get<Body>(decoded);
  EXPECT_FALSE(body.is_batch);
  EXPECT_EQ(body.messages.size(), 1u);
  return body.messages.front();
}

Message expect_message(std::string_view text) {
  auto item = decode_one(text);
  if (auto* fault = std::get_if<Fault>(&item)) {
    ADD_FAILURE() << "unexpected fault for " << text << ": " << fault->message;
    return {};
  }
  return std::get<Message>(item);
}

std::optional<Failure> failure_of(std::string_view text) {
  auto item = decode_one(text);
  if (auto* fault = std::get_if<Fault>(&item)) return fault->kind;
  return std::nullopt;
}

json::object parse_object(std::string_view text) {
  auto parsed = parse_json(text);
  EXPECT_TRUE(std::holds_alternative<json::value>(parsed)) << text;
  if (!std::holds_alternative<json::value>(parsed) || !std::get<json::value>(parsed).is_object()) return {};
  return std::get<json::value>(parsed).get_object();
}

TEST(ParseJson, MalformedTextIsAParseError) {
  const std::string cases[] = {
      "",
      "{",
      R"({"jsonrpc":"2.0",})",
      "nul",
      "{'jsonrpc':'2.0'}",
      "\"\xff\"",                        // invalid UTF-8
      "\"\xc3\"",                        // truncated UTF-8 sequence
      "{}\0"s,                           // a NUL after the value
      "{\"a\0\":1}"s,                    // raw NUL inside a string
      R"({"a":1} {"b":2})",              // two values
      R"({"jsonrpc":"2.0","id":1,"meth)",  // truncated
      "01",
  };
  for (const std::string& text : cases) {
    SCOPED_TRACE(testing::PrintToString(text));
    auto parsed = parse_json(text);
    ASSERT_TRUE(std::holds_alternative<Fault>(parsed));
    EXPECT_EQ(std::get<Fault>(parsed).kind, Failure::kParseError);
    EXPECT_EQ(failure_of(text), Failure::kParseError);
  }
}

TEST(ParseJson, WellFormedNearMissesParse) {
  for (std::string text : {"{}"s, "\"\xc3\xa9\""s, " {} \n"s, "0"s, R"({"a":"\u0000"})"s}) {
    SCOPED_TRACE(testing::PrintToString(text));
    EXPECT_TRUE(std::holds_alternative<json::value>(parse_json(text)));
  }
}

TEST(ParseJson, DepthLimitIsExact) {
  EXPECT_TRUE(std::holds_alternative<json::value>(parse_json(nested_arrays(JsonLimits{}.max_depth))));
  EXPECT_TRUE(std::holds_alternative<json::value>(parse_json(nested_objects(JsonLimits{}.max_depth))));
  for (const std::string& text : {nested_arrays(JsonLimits{}.max_depth + 1), nested_objects(JsonLimits{}.max_depth + 1)}) {
    auto parsed = parse_json(text);
    ASSERT_TRUE(std::holds_alternative<Fault>(parsed));
    EXPECT_EQ(std::get<Fault>(parsed).kind, Failure::kParseError);
  }
}

TEST(ParseJson, TenThousandOpenBracketsFailWithoutRecursing) {
  auto decoded = decode_body(std::string(10'000, '['));
  ASSERT_TRUE(std::holds_alternative<Fault>(decoded));
  EXPECT_EQ(std::get<Fault>(decoded).kind, Failure::kParseError);
}

TEST(DecodeMessage, NonObjectIsAnInvalidRequestNotAParseError) {
  for (std::string_view text : {"1", "\"x\"", "null", "true", "[1]"}) {
    SCOPED_TRACE(text);
    auto decoded = decode_body(text);
    ASSERT_TRUE(std::holds_alternative<Body>(decoded));
    const Body& body = std::get<Body>(decoded);
    ASSERT_EQ(body.messages.size(), 1u);
    ASSERT_TRUE(std::holds_alternative<Fault>(body.messages[0]));
    EXPECT_EQ(std::get<Fault>(body.messages[0]).kind, Failure::kInvalidRequest);
  }
}

TEST(DecodeMessage, JsonrpcMustBeExactlyTheString2_0) {
  struct Case {
    std::string_view version_member;  // spliced into the envelope
    bool ok;
  };
  const Case cases[] = {
      {R"("jsonrpc":"2.0",)", true},   {R"("jsonrpc":"2.1",)", false}, {R"("jsonrpc":"2",)", false},
      {R"("jsonrpc":"2.0 ",)", false}, {R"("jsonrpc":2.0,)", false},   {R"("jsonrpc":null,)", false},
      {"", false},
  };
  for (const Case& c : cases) {
    std::string text = "{";
    text.append(c.version_member).append(R"("id":1,"method":"ping"})");
    SCOPED_TRACE(text);
    if (c.ok) {
      EXPECT_EQ(failure_of(text), std::nullopt);
    } else {
      EXPECT_EQ(failure_of(text), Failure::kInvalidRequest);
    }
  }
}

TEST(DecodeMessage, MethodMustBeAString) {
  for (std::string_view method : {"1", "null", "{}", "[]", "true"}) {
    const std::string text = R"({"jsonrpc":"2.0","id":1,"method":)" + std::string(method) + "}";
    SCOPED_TRACE(text);
    EXPECT_EQ(failure_of(text), Failure::kInvalidRequest);
  }
  EXPECT_EQ(expect_message(R"({"jsonrpc":"2.0","id":1,"method":"tools/list"})").method, "tools/list");
  EXPECT_EQ(expect_message(R"({"jsonrpc":"2.0","id":1,"method":""})").method, "");
}

TEST(DecodeMessage, RequestIdsAreStringsOrIntegers) {
  const Message s = expect_message(R"({"jsonrpc":"2.0","id":"1","method":"m"})");
  ASSERT_TRUE(s.id.is_string());
  EXPECT_EQ(s.id.get_string(), "1");

  const Message empty = expect_message(R"({"jsonrpc":"2.0","id":"","method":"m"})");
  ASSERT_TRUE(empty.id.is_string());
  EXPECT_EQ(empty.id.get_string(), "");

  const Message i = expect_message(R"({"jsonrpc":"2.0","id":1,"method":"m"})");
  ASSERT_TRUE(i.id.is_int64());
  EXPECT_EQ(i.id.get_int64(), 1);

  const Message negative = expect_message(R"({"jsonrpc":"2.0","id":-9223372036854775808,"method":"m"})");
  ASSERT_TRUE(negative.id.is_int64());
  EXPECT_EQ(negative.id.get_int64(), std::numeric_limits<std::int64_t>::min());

  const Message big = expect_message(R"({"jsonrpc":"2.0","id":18446744073709551615,"method":"m"})");
  ASSERT_TRUE(big.id.is_uint64());
  EXPECT_EQ(big.id.get_uint64(), std::numeric_limits<std::uint64_t>::max());
  EXPECT_EQ(big.kind, MessageKind::kRequest);
}

TEST(DecodeMessage, RequestIdsOfOtherTypesAreRejected) {
  const std::string_view ids[] = {
      "null", "1.5", "1.0", "1e3", "true", "{}", "[]", "[1]",
      "18446744073709551616",   // one past uint64: parsed as a double
      "-9223372036854775809",   // one below int64: parsed as a double
  };
  for (std::string_view id : ids) {
    const std::string text = R"({"jsonrpc":"2.0","method":"m","id":)" + std::string(id) + "}";
    SCOPED_TRACE(text);
    EXPECT_EQ(failure_of(text), Failure::kInvalidRequest);
  }
}

TEST(DecodeMessage, ParamsMustBeAnObject) {
  for (std::string_view params : {"[]", "[1,2]", "null", "\"x\"", "1"}) {
    const std::string text = R"({"jsonrpc":"2.0","id":1,"method":"m","params":)" + std::string(params) + "}";
    SCOPED_TRACE(text);
    EXPECT_EQ(failure_of(text), Failure::kInvalidRequest);
  }
  const Message with = expect_message(R"({"jsonrpc":"2.0","id":1,"method":"m","params":{"k":"v"}})");
  EXPECT_TRUE(with.has_params);
  EXPECT_EQ(with.params.at("k").as_string(), "v");

  const Message without = expect_message(R"({"jsonrpc":"2.0","id":1,"method":"m"})");
  EXPECT_FALSE(without.has_params);
  EXPECT_TRUE(without.params.empty());
}

TEST(DecodeMessage, ClassifiesRequestsNotificationsAndResponses) {
  struct Case {
    std::string_view text;
    MessageKind kind;
  };
  const Case cases[] = {
      {R"({"jsonrpc":"2.0","id":1,"method":"ping"})", MessageKind::kRequest},
      {R"({"jsonrpc":"2.0","method":"notifications/initialized"})", MessageKind::kNotification},
      {R"({"jsonrpc":"2.0","id":1,"result":{}})", MessageKind::kResponse},
      {R"({"jsonrpc":"2.0","id":"a","error":{"code":-1,"message":"x"}})", MessageKind::kResponse},
      // An error about an unreadable request has a null id.
      {R"({"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"x"}})", MessageKind::kResponse},
      // A method makes it a request even when a result rides along.
      {R"({"jsonrpc":"2.0","id":1,"method":"ping","result":{}})", MessageKind::kRequest},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    EXPECT_EQ(expect_message(c.text).kind, c.kind);
  }
  EXPECT_TRUE(expect_message(R"({"jsonrpc":"2.0","method":"n"})").id.is_null());
  // A response keeps its result, or its error, as the client wrote it: a waiting call gets that text.
  const Message result = expect_message(R"({"jsonrpc":"2.0","id":"s-1","result":{"roots": [ ]}})");
  EXPECT_FALSE(result.is_error);
  EXPECT_EQ(result.response_json, R"({"roots": [ ]})");
  const Message error = expect_message(R"({"jsonrpc":"2.0","id":"s-1","error":{"code":-1,"message":"no"}})");
  EXPECT_TRUE(error.is_error);
  EXPECT_EQ(error.response_json, R"({"code":-1,"message":"no"})");
}

TEST(DecodeMessage, MalformedResponsesAreRejected) {
  for (std::string_view text : {
           R"({"jsonrpc":"2.0","id":1})",               // neither result nor error
           R"({"jsonrpc":"2.0","result":{}})",          // no id
           R"({"jsonrpc":"2.0","id":1.5,"result":{}})", // float id
           R"({"jsonrpc":"2.0","id":true,"error":{}})",
       }) {
    SCOPED_TRACE(text);
    EXPECT_EQ(failure_of(text), Failure::kInvalidRequest);
  }
}

TEST(DecodeBody, EmptyBatchIsAnInvalidRequest) {
  for (std::string_view text : {"[]", " [ ] "}) {
    auto decoded = decode_body(text);
    ASSERT_TRUE(std::holds_alternative<Fault>(decoded));
    EXPECT_EQ(std::get<Fault>(decoded).kind, Failure::kInvalidRequest);
  }
}

TEST(DecodeBody, BatchKeepsOrderAndPerItemFaults) {
  auto decoded = decode_body(R"([
    {"jsonrpc":"2.0","id":1,"method":"tools/list"},
    {"jsonrpc":"2.0","method":"notifications/initialized"},
    1,
    [],
    {"jsonrpc":"2.0","id":2,"result":{}}
  ])");
  ASSERT_TRUE(std::holds_alternative<Body>(decoded));
  const Body& body = std::get<Body>(decoded);
  EXPECT_TRUE(body.is_batch);
  ASSERT_EQ(body.messages.size(), 5u);
  ASSERT_TRUE(std::holds_alternative<Message>(body.messages[0]));
  EXPECT_EQ(std::get<Message>(body.messages[0]).kind, MessageKind::kRequest);
  ASSERT_TRUE(std::holds_alternative<Message>(body.messages[1]));
  EXPECT_EQ(std::get<Message>(body.messages[1]).kind, MessageKind::kNotification);
  ASSERT_TRUE(std::holds_alternative<Fault>(body.messages[2]));
  EXPECT_EQ(std::get<Fault>(body.messages[2]).kind, Failure::kInvalidRequest);
  ASSERT_TRUE(std::holds_alternative<Fault>(body.messages[3]));
  ASSERT_TRUE(std::holds_alternative<Message>(body.messages[4]));
  EXPECT_EQ(std::get<Message>(body.messages[4]).kind, MessageKind::kResponse);
}

TEST(DecodeBody, SingleMessageIsNotABatch) {
  auto decoded = decode_body(R"({"jsonrpc":"2.0","id":1,"method":"ping"})");
  ASSERT_TRUE(std::holds_alternative<Body>(decoded));
  EXPECT_FALSE(std::get<Body>(decoded).is_batch);

  auto one = decode_body(R"([{"jsonrpc":"2.0","id":1,"method":"ping"}])");
  ASSERT_TRUE(std::holds_alternative<Body>(one));
  EXPECT_TRUE(std::get<Body>(one).is_batch);
}

TEST(Encode, ResultEchoesIdsExactly) {
  const std::string as_string = encode_result(json::value("1"), "{}");
  const std::string as_number = encode_result(json::value(1), "{}");
  EXPECT_NE(as_string.find(R"("id":"1")"), std::string::npos) << as_string;
  EXPECT_NE(as_number.find(R"("id":1)"), std::string::npos) << as_number;
  EXPECT_EQ(as_number.find(R"("id":"1")"), std::string::npos) << as_number;

  const json::object s = parse_object(as_string);
  ASSERT_TRUE(s.at("id").is_string());
  EXPECT_EQ(s.at("id").get_string(), "1");
  EXPECT_EQ(s.at("jsonrpc").as_string(), "2.0");
  EXPECT_TRUE(s.at("result").is_object());
  EXPECT_FALSE(s.contains("error"));

  const json::object n = parse_object(as_number);
  ASSERT_TRUE(n.at("id").is_int64());
  EXPECT_EQ(n.at("id").get_int64(), 1);

  const std::uint64_t max = std::numeric_limits<std::uint64_t>::max();
  const std::string big = encode_result(json::value(max), R"({"k":2})");
  EXPECT_NE(big.find(R"("id":18446744073709551615)"), std::string::npos) << big;
  const json::object b = parse_object(big);
  ASSERT_TRUE(b.at("id").is_uint64());
  EXPECT_EQ(b.at("id").get_uint64(), max);
  EXPECT_EQ(b.at("result").at("k").as_int64(), 2);
}

TEST(Encode, DecodedIdsRoundTripThroughAReply) {
  for (std::string_view id : {R"("1")", "1", "0", "-1", "18446744073709551615", "-9223372036854775808", R"("\u00e9\n")"}) {
    const std::string request = R"({"jsonrpc":"2.0","method":"m","id":)" + std::string(id) + "}";
    SCOPED_TRACE(request);
    const Message message = expect_message(request);
    const Message reply = expect_message(encode_result(message.id, "{}"));
    EXPECT_EQ(reply.kind, MessageKind::kResponse);
    EXPECT_EQ(json::serialize(reply.id), json::serialize(message.id));
  }
}

TEST(Encode, ErrorOmitsDataWhenEmpty) {
  const json::object without = parse_object(encode_error(json::value(7), -32601, "Method not found", ""));
  EXPECT_EQ(without.at("id").as_int64(), 7);
  const json::object& error = without.at("error").as_object();
  EXPECT_EQ(error.at("code").as_int64(), -32601);
  EXPECT_EQ(error.at("message").as_string(), "Method not found");
  EXPECT_FALSE(error.contains("data"));
  EXPECT_FALSE(without.contains("result"));

  // Falsy but present values are not "absent".
  for (const json::value& data : {json::value(false), json::value(0), json::value(""), json::value(json::object{})}) {
    SCOPED_TRACE(json::serialize(data));
    const json::object with = parse_object(encode_error(json::value("x"), -32602, "bad", json::serialize(data)));
    ASSERT_TRUE(with.at("error").as_object().contains("data"));
    EXPECT_EQ(with.at("error").at("data"), data);
  }
}

TEST(Encode, ErrorWithNullIdAndAwkwardMessageIsValidJson) {
  const std::string text = encode_error(nullptr, -32700, "Parse error: \"quote\" \\ \n \x01 end", "");
  const json::object error = parse_object(text);
  EXPECT_TRUE(error.at("id").is_null());
  EXPECT_EQ(error.at("error").at("message").as_string(), "Parse error: \"quote\" \\ \n \x01 end");
}

TEST(RequestMeta, OnlyAnObjectCounts) {
  const Message with = expect_message(R"({"jsonrpc":"2.0","id":1,"method":"m","params":{"_meta":{"k":1}}})");
  const json::object* meta = request_meta(with);
  ASSERT_NE(meta, nullptr);
  EXPECT_EQ(meta->at("k").as_int64(), 1);

  EXPECT_EQ(request_meta(expect_message(R"({"jsonrpc":"2.0","id":1,"method":"m","params":{"_meta":[]}})")), nullptr);
  EXPECT_EQ(request_meta(expect_message(R"({"jsonrpc":"2.0","id":1,"method":"m","params":{"meta":{}}})")), nullptr);
  EXPECT_EQ(request_meta(expect_message(R"({"jsonrpc":"2.0","id":1,"method":"m"})")), nullptr);
}

}  // namespace
}  // namespace sandgate::mcp
