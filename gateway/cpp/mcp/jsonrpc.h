#pragma once
// JSON-RPC 2.0 envelope codec: decode within the JSON limits, encode replies around values kept as text.
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/json.h"
#include "common/json_text.h"
#include "mcp/errors.h"

namespace sandgate::mcp {

enum class MessageKind { kRequest, kNotification, kResponse };

struct Message {
  MessageKind kind = MessageKind::kRequest;
  json::value id = nullptr;  // string or integer for requests
  std::string method;
  json::object params;       // empty when absent
  bool has_params = false;
  std::string params_json;   // params as the client wrote them: values are forwarded from this text
  // A response's (kResponse) `error` when it has one, else its `result`, as the client wrote it.
  bool is_error = false;
  std::string response_json;
};

// Parses text into a JSON value; kParseError naming the fault or the limit.
std::variant<json::value, Fault> parse_json(std::string_view text, const JsonLimits& limits = {});

// Validates one JSON-RPC envelope (MCP forbids null ids and non-object params); `text` is what `value` was
// parsed from.
std::variant<Message, Fault> decode_message(const json::value& value, std::string_view text);

// A body is either one message or (legacy 2025-03-26 only) a non-empty batch.
struct Body {
  std::vector<std::variant<Message, Fault>> messages;
  bool is_batch = false;
};
std::variant<Body, Fault> decode_body(std::string_view text, const JsonLimits& limits = {});

// `result_json` is a JSON object's text, `data_json` a JSON value's (empty: no `data`); both go out as they are.
std::string encode_result(const json::value& id, std::string_view result_json);
std::string encode_error(const json::value& id, int code, std::string_view message, std::string_view data_json);

// `_meta` of a request's params, or nullptr.
const json::object* request_meta(const Message& message);

}  // namespace sandgate::mcp
