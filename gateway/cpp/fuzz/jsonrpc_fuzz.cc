// JSON-RPC codec fuzz target: any body decodes without crashing, and every reply decodes back to a response with the same id.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
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

void answer(const Message& message) {
  const json::object* meta = request_meta(message);
  json::object result;
  result.emplace("method", message.method);
  result.emplace("hasMeta", meta != nullptr);
  check_reply(encode_result(message.id, std::move(result)), message.id);
  check_reply(encode_error(message.id, -32601, "Method not found: " + message.method, json::object{{"method", message.method}}),
              message.id);
}

void answer(const Fault& fault) {
  for (Era era : {Era::kModern, Era::kLegacy}) {
    check_reply(encode_error(nullptr, to_wire(fault.kind, era).jsonrpc_code, fault.message, fault.data), nullptr);
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
