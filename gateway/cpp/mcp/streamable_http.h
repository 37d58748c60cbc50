#pragma once
// Streamable HTTP semantics of the /mcp endpoint for both eras, on plain structs (no Asio here).
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <string>
#include <utility>
#include <vector>

#include "mcp/engine.h"
#include "mcp/session_table.h"

namespace sandgate::mcp {

enum class ResponseMode { kJson, kSse };

struct HttpPolicy {
  // Loopback origins always pass; these exact "scheme://host[:port]" values (or "*") pass too.
  std::vector<std::string> allowed_origins;
  ResponseMode response_mode = ResponseMode::kJson;
};

struct McpHttpRequest {
  std::string method;  // HTTP verb
  std::optional<std::string> accept, content_type, origin, protocol_version, mcp_method, mcp_name, session_id;
  bool duplicate_routing_header = false;
  std::string body;
};

struct McpHttpReply {
  int status = 200;
  std::string content_type;  // empty: no body
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // GET on a legacy session: the connection becomes that session's server-to-client event stream.
  std::optional<std::string> event_stream_session;
};

using HttpReplyCallback = std::function<void(McpHttpReply)>;

class StreamableHttp {
 public:
  StreamableHttp(HttpPolicy policy, const Engine& engine, SessionTable& sessions);

  // `done` runs exactly once, possibly on another thread.
  void handle(McpHttpRequest request, std::shared_ptr<CancelToken> cancel, HttpReplyCallback done);
  bool session_alive(std::string_view id) { return sessions_.contains(id); }
  // A fault answered before any era is known (oversized body, bad Origin...).
  static McpHttpReply fault_reply(const Fault& fault, Era era, const json::value& id = nullptr);
  bool origin_allowed(std::string_view origin) const;

 private:
  void handle_post(McpHttpRequest& request, std::shared_ptr<CancelToken> cancel, HttpReplyCallback& done);
  void handle_modern(McpHttpRequest& request, const Message& message, ResponseMode mode,
                     std::shared_ptr<CancelToken> cancel, HttpReplyCallback& done);
  void handle_legacy(McpHttpRequest& request, Body& body, ResponseMode mode, std::shared_ptr<CancelToken> cancel,
                     HttpReplyCallback& done);
  void handle_get(McpHttpRequest& request, HttpReplyCallback& done);
  void handle_delete(McpHttpRequest& request, HttpReplyCallback& done);
  std::optional<Fault> check_modern_headers(const McpHttpRequest& request, const Message& message) const;

  // Legacy `notifications/cancelled` names a request by session and id: what to cancel.
  std::string track(const std::string& session, const json::value& id, const std::shared_ptr<CancelToken>& cancel);
  void untrack(const std::string& key);
  void cancel_tracked(const std::string& session, const Message& notification);

  HttpPolicy policy_;
  const Engine& engine_;
  SessionTable& sessions_;
  std::mutex in_flight_mutex_;
  std::unordered_map<std::string, std::weak_ptr<CancelToken>> in_flight_;
};

// Renders one JSON-RPC message as an SSE event.
std::string sse_event(std::string_view json_message);

}  // namespace sandgate::mcp
