// JSON-RPC codec fuzz target: any body decodes without crashing; every reply decodes back to a response with
// the same id; what decodes, encodes and decodes again to the same values (decode -> encode -> decode), the
// raw member views agreeing with the tree on every key, duplicates included.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "mcp/jsonrpc.h"

namespace {

using namespace sandgate;
using namespace sandgate::mcp;

// A broken invariant must stop the fuzzer (and fail the replay), so it aborts rather than throws.
void require(bool condition) {
  if (!condition) std::abort();
}

void check_reply(const std::string& encoded, const json::value& id) {
  auto decoded = decode_body(encoded);
  require(std::holds_alternative<Body>(decoded));
  const Body& body = std::get<Body>(decoded);
  require(!body.is_batch && body.messages.size() == 1);
  const Message* reply = std::get_if<Message>(&body.messages.front());
  require(reply != nullptr && reply->kind == MessageKind::kResponse);
  require(json::serialize(reply->id) == json::serialize(id));
}

// The raw views of an accepted text name the same members, with the same values, as its tree.
void check_raw_views(std::string_view text, const json::value& tree) {
  if (const json::object* object = tree.if_object()) {
    const std::vector<RawMember> members = raw_members(text);
    require(members.size() >= object->size());
    for (const auto& [key, value] : *object) {
      const std::optional<std::string_view> raw = raw_member(text, std::string_view(key.data(), key.size()));
      require(raw.has_value());
      auto reparsed = parse_json(*raw, JsonLimits{});
      require(std::holds_alternative<json::value>(reparsed) && std::get<json::value>(reparsed) == value);
      check_raw_views(*raw, value);
    }
  } else if (const json::array* array = tree.if_array()) {
    const std::vector<std::string_view> elements = raw_elements(text);
    require(elements.size() == array->size());
    for (std::size_t i = 0; i < array->size(); ++i) check_raw_views(elements[i], (*array)[i]);
  }
}

void answer(const Message& message) {
  const std::string params = message.has_params ? message.params_json : "{}";
  // decode -> encode -> decode: the params text, sent back as a result, decodes to the same values.
  const std::string encoded = encode_result(message.id, params);
  check_reply(encoded, message.id);
  auto again = parse_json(encoded, JsonLimits{});
  require(std::holds_alternative<json::value>(again));
  const json::value& result = std::get<json::value>(again).at("result");
  require(result == json::value(message.params));
  require(raw_member(encoded, "result") == std::optional<std::string_view>(params));
  check_raw_views(params, json::value(message.params));
  check_reply(encode_error(message.id, -32601, "Method not found: " + message.method,
                           json::serialize(json::object{{"method", message.method}})),
              message.id);
}

void answer(const Fault& fault) {
  for (Era era : {Era::kModern, Era::kLegacy}) {
    check_reply(encode_error(nullptr, to_wire(fault.kind, era).jsonrpc_code, fault.message, fault.data_json), nullptr);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto decoded = decode_body(text);
  if (const Fault* fault = std::get_if<Fault>(&decoded)) {
    require(fault->kind == Failure::kParseError || fault->kind == Failure::kInvalidRequest);
    answer(*fault);
    return 0;
  }
  const Body& body = std::get<Body>(decoded);
  require(!body.messages.empty());
  require(body.is_batch || body.messages.size() == 1);
  for (const auto& item : body.messages) {
    if (const Fault* fault = std::get_if<Fault>(&item)) {
      require(fault->kind == Failure::kInvalidRequest);
      answer(*fault);
      continue;
    }
    const Message& message = std::get<Message>(item);
    if (message.kind == MessageKind::kRequest) require(message.id.is_string() || message.id.is_int64() || message.id.is_uint64());
    if (message.kind == MessageKind::kNotification) require(message.id.is_null());
    if (message.kind != MessageKind::kNotification) answer(message);
  }
  return 0;
}
