#pragma once
// JSON-RPC 2.0 envelope codec on Boost.JSON: decode with bounded depth, encode replies.
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/json.h"
#include "mcp/errors.h"

namespace sandgate::mcp {

inline constexpr unsigned kMaxJsonDepth = 64;

enum class MessageKind { kRequest, kNotification, kResponse };

struct Message {
  MessageKind kind = MessageKind::kRequest;
  json::value id = nullptr;  // string or integer for requests
  std::string method;
  json::object params;       // empty when absent
  bool has_params = false;
};

// Parses text into a JSON value; kParseError on malformed or too deeply nested input.
std::variant<json::value, Fault> parse_json(std::string_view text);

// Validates one JSON-RPC envelope (MCP forbids null ids and non-object params).
std::variant<Message, Fault> decode_message(const json::value& value);

// A body is either one message or (legacy 2025-03-26 only) a non-empty batch.
struct Body {
  std::vector<std::variant<Message, Fault>> messages;
  bool is_batch = false;
};
std::variant<Body, Fault> decode_body(std::string_view text);

std::string encode_result(const json::value& id, json::object result);
std::string encode_error(const json::value& id, int code, std::string_view message, const json::value& data);
std::string encode_notification(std::string_view method, json::object params);

// `_meta` of a request's params, or nullptr.
const json::object* request_meta(const Message& message);

}  // namespace sandgate::mcp
