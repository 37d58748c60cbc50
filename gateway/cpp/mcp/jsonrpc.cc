#include "mcp/jsonrpc.h"

#include "common/json_text.h"

namespace sandgate::mcp {
namespace {

bool is_valid_id(const json::value& id) {
  return id.is_string() || id.is_int64() || id.is_uint64();
}

Fault invalid(std::string message) { return Fault{Failure::kInvalidRequest, std::move(message)}; }

}  // namespace

std::variant<json::value, Fault> parse_json(std::string_view text, const JsonLimits& limits) {
  auto parsed = parse_json_text(text, limits);
  if (auto* error = std::get_if<JsonParseError>(&parsed)) return Fault{Failure::kParseError, std::move(error->message)};
  return std::move(std::get<json::value>(parsed));
}

std::variant<Message, Fault> decode_message(const json::value& value, std::string_view text) {
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
      message.is_error = object->contains("error");
      message.response_json = std::string(raw_member(text, message.is_error ? "error" : "result").value_or("null"));
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
    const std::optional<std::string_view> raw = raw_member(text, "params");
    // The tree and the text come from one parse: they cannot disagree unless the scanner is wrong.
    if (!raw) return Fault{Failure::kInternalError, "Internal error: params not found in the request text"};
    message.params_json = std::string(*raw);
  }
  return message;
}

std::variant<Body, Fault> decode_body(std::string_view text, const JsonLimits& limits) {
  auto parsed = parse_json(text, limits);
  if (auto* fault = std::get_if<Fault>(&parsed)) return *fault;
  const json::value& value = std::get<json::value>(parsed);
  Body body;
  if (const json::array* batch = value.if_array()) {
    if (batch->empty()) return invalid("Invalid Request: empty batch");
    body.is_batch = true;
    body.messages.reserve(batch->size());
    const std::vector<std::string_view> items = raw_elements(text);
    for (std::size_t i = 0; i < batch->size(); ++i) {
      body.messages.push_back(decode_message((*batch)[i], i < items.size() ? items[i] : std::string_view{}));
    }
    return body;
  }
  body.messages.push_back(decode_message(value, text));
  return body;
}

std::string encode_result(const json::value& id, std::string_view result_json) {
  std::string out = R"({"jsonrpc":"2.0","id":)";
  out.append(json::serialize(id)).append(R"(,"result":)").append(result_json).push_back('}');
  return out;
}

std::string encode_error(const json::value& id, int code, std::string_view message, std::string_view data_json) {
  std::string out = R"({"jsonrpc":"2.0","id":)";
  out.append(json::serialize(id)).append(R"(,"error":{"code":)").append(std::to_string(code));
  out.append(R"(,"message":)").append(json::serialize(json::string_view(message.data(), message.size())));
  if (!data_json.empty()) out.append(R"(,"data":)").append(data_json);
  out.append("}}");
  return out;
}

const json::object* request_meta(const Message& message) {
  const json::value* meta = message.params.if_contains("_meta");
  return meta != nullptr ? meta->if_object() : nullptr;
}

}  // namespace sandgate::mcp
