#include "mcp/jsonrpc.h"

namespace sandgate::mcp {
namespace {

bool is_valid_id(const json::value& id) {
  return id.is_string() || id.is_int64() || id.is_uint64();
}

Fault invalid(std::string message) { return Fault{Failure::kInvalidRequest, std::move(message)}; }

}  // namespace

std::variant<json::value, Fault> parse_json(std::string_view text) {
  json::parse_options options;
  options.max_depth = kMaxJsonDepth;
  boost::system::error_code ec;
  json::value value = json::parse(text, ec, {}, options);
  if (ec) return Fault{Failure::kParseError, "Parse error: " + ec.message()};
  return value;
}

std::variant<Message, Fault> decode_message(const json::value& value) {
  const json::object* object = value.if_object();
  if (object == nullptr) return invalid("Invalid Request: a JSON-RPC message must be an object");
  const json::value* version = object->if_contains("jsonrpc");
  if (version == nullptr || !version->is_string() || version->get_string() != "2.0") {
    return invalid("Invalid Request: \"jsonrpc\" must be \"2.0\"");
  }
  Message message;
  const json::value* id = object->if_contains("id");
  const json::value* method = object->if_contains("method");
  if (method == nullptr) {
    if (object->contains("result") || object->contains("error")) {
      if (id == nullptr || !(is_valid_id(*id) || id->is_null())) return invalid("Invalid Request: response id");
      message.kind = MessageKind::kResponse;
      message.id = *id;
      return message;
    }
    return invalid("Invalid Request: missing \"method\"");
  }
  if (!method->is_string()) return invalid("Invalid Request: \"method\" must be a string");
  message.method = std::string(method->get_string());
  if (id != nullptr) {
    if (!is_valid_id(*id)) return invalid("Invalid Request: \"id\" must be a string or an integer");
    message.kind = MessageKind::kRequest;
    message.id = *id;
  } else {
    message.kind = MessageKind::kNotification;
  }
  if (const json::value* params = object->if_contains("params")) {
    if (!params->is_object()) return invalid("Invalid Request: \"params\" must be an object");
    message.params = params->get_object();
    message.has_params = true;
  }
  return message;
}

std::variant<Body, Fault> decode_body(std::string_view text) {
  auto parsed = parse_json(text);
  if (auto* fault = std::get_if<Fault>(&parsed)) return *fault;
  const json::value& value = std::get<json::value>(parsed);
  Body body;
  if (const json::array* batch = value.if_array()) {
    if (batch->empty()) return invalid("Invalid Request: empty batch");
    body.is_batch = true;
    body.messages.reserve(batch->size());
    for (const json::value& item : *batch) body.messages.push_back(decode_message(item));
    return body;
  }
  body.messages.push_back(decode_message(value));
  return body;
}

std::string encode_result(const json::value& id, json::object result) {
  json::object envelope;
  envelope.reserve(3);
  envelope.emplace("jsonrpc", "2.0");
  envelope.emplace("id", id);
  envelope.emplace("result", std::move(result));
  return json::serialize(envelope);
}

std::string encode_error(const json::value& id, int code, std::string_view message, const json::value& data) {
  json::object error;
  error.emplace("code", code);
  error.emplace("message", message);
  if (!data.is_null()) error.emplace("data", data);
  json::object envelope;
  envelope.emplace("jsonrpc", "2.0");
  envelope.emplace("id", id);
  envelope.emplace("error", std::move(error));
  return json::serialize(envelope);
}

std::string encode_notification(std::string_view method, json::object params) {
  json::object envelope;
  envelope.emplace("jsonrpc", "2.0");
  envelope.emplace("method", method);
  envelope.emplace("params", std::move(params));
  return json::serialize(envelope);
}

const json::object* request_meta(const Message& message) {
  const json::value* meta = message.params.if_contains("_meta");
  return meta != nullptr ? meta->if_object() : nullptr;
}

}  // namespace sandgate::mcp
