#pragma once
// What every stage of a request's path may know about it, on every transport.
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "auth/principal.h"
#include "mcp/log_notifications.h"
#include "mcp/notifications.h"
#include "mcp/protocol.h"

namespace sandgate::policy {
class ToolPolicy;
class SandboxGrant;
struct Rule;
struct RateLimitSpec;
}  // namespace sandgate::policy

namespace sandgate::mcp {

// What the authorize stage decided, for the stages after it. The request is served under `policy` to its end,
// whatever a reload swaps in meanwhile.
struct Admission {
  std::shared_ptr<const policy::ToolPolicy> policy;  // null: no policy (everything open); keeps `sandbox` alive
  const policy::SandboxGrant* sandbox = nullptr;     // the module's plans under `policy`; null: the engine's own
  const policy::Rule* grant = nullptr;               // the allow rule whose limits apply to a tool call
  const policy::RateLimitSpec* rate_limit = nullptr;  // null: no limit
  std::string tool;                                  // a tool call's tool name
  // What the policy decided for a tool call, for the audit line (views into `policy` or literals); empty: no decision.
  std::string_view decision;  // "allow", "deny", "hidden"
  std::string_view rule;      // the deciding rule's id
  std::string_view reason;    // its stable reason code
};

enum class Transport { kStreamableHttp, kStdio };
std::string_view transport_name(Transport transport);

// A context's peer without its port: "127.0.0.1:5" → "127.0.0.1", "[::1]:5" → "::1"; "stdio" as it is.
std::string_view peer_address(std::string_view peer);

// Request headers a stage may read, names lower-cased; the HTTP listener refuses more than max_header_fields.
// Kept in one buffer: copying a request's headers costs two allocations, not two per header.
class Headers {
 public:
  void reserve(std::size_t fields, std::size_t bytes);
  // `name` is stored lower-cased (ASCII, as HTTP field names are).
  void add(std::string_view name, std::string_view value);
  // The first value of `lower_name`, or nullopt.
  std::optional<std::string_view> find(std::string_view lower_name) const;
  // How many times `lower_name` was sent.
  std::size_t count(std::string_view lower_name) const;
  std::size_t size() const { return fields_.size(); }

 private:
  struct Field {
    std::size_t name_at, name_size, value_at, value_size;
  };
  std::string text_;
  std::vector<Field> fields_;
};

struct RequestContext {
  Era era = Era::kModern;
  std::string protocol_version;
  std::string session;  // legacy session id or stdio connection; empty when stateless
  Transport transport = Transport::kStreamableHttp;
  std::string peer;                        // "127.0.0.1:54321"; "stdio"
  std::shared_ptr<const Headers> headers;  // shared by a batch's requests; never null once received
  auth::Principal principal;
  Admission admission;  // set by the authorize stage
  // The transport's channel for this request's notifications; null when it has none (no progress token, a batch).
  std::shared_ptr<NotificationSink> notifications;
  // The least severe log message the client wants of this request; nullopt: none (a modern request that asked
  // for none). A legacy session's is its logging/setLevel, else every level.
  std::optional<LogLevel> log_level;
  // What the client declared it can do: a legacy session's initialize capabilities ("{}" when unknown).
  std::string client_capabilities_json = "{}";
  std::chrono::steady_clock::time_point started{};  // when it entered the request path (the recorder's clock)
};

}  // namespace sandgate::mcp
