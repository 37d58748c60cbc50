#pragma once
// The /mcp endpoint's HTTP: Origin, verbs, Accept and Content-Type, JSON or event-stream framing; what the
// messages mean is the Conversation's. Plain structs, no Asio here.
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <string>
#include <utility>
#include <vector>

#include "mcp/conversation.h"

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
  std::string peer;  // "address:port" of the client
  Headers headers;   // every header, names lower-cased (at most max_header_fields): what a stage may read
};

struct McpHttpReply {
  int status = 200;
  std::string content_type;  // empty: no body
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // GET on a legacy session: the connection becomes that session's server-to-client event stream.
  std::optional<std::string> event_stream_session;
  // Notifications already opened an event stream for this POST: `body` is its last event, then it ends.
  bool ends_event_stream = false;
};

using HttpReplyCallback = std::function<void(McpHttpReply)>;

// The connection under one POST, as the transport sees it: its response can become an event stream
// before the reply is ready. Thread-safe.
class ResponseEvents {
 public:
  virtual ~ResponseEvents() = default;
  // Queues one SSE event; the first one sends the text/event-stream headers. Dropped if the client left.
  virtual void send_event(std::string event) = 0;
  // An event of the session whose GET stream this connection is; false when the stream is closed or its
  // backlog is full (the client stopped reading).
  virtual bool send_stream_event(std::string event) = 0;
};

class StreamableHttp {
 public:
  StreamableHttp(HttpPolicy policy, Conversation& conversation);

  // `done` runs exactly once, possibly on another thread. `events` (none: notifications are dropped) lets a
  // request that asked for progress stream it ahead of the reply, when the client accepts text/event-stream.
  void handle(McpHttpRequest request, std::shared_ptr<CancelToken> cancel, HttpReplyCallback done,
              std::weak_ptr<ResponseEvents> events = {});
  bool session_alive(std::string_view id) { return conversation_.session_alive(id); }
  // The connection under a GET became `session`'s event stream: what calls announce reaches it from now on.
  std::uint64_t stream_opened(const std::string& session, std::weak_ptr<ResponseEvents> events);
  void stream_closed(const std::string& session, std::uint64_t number) { conversation_.detach_stream(session, number); }
  // A fault answered before any era is known (oversized body, bad Origin...).
  static McpHttpReply fault_reply(const Fault& fault, Era era, const json::value& id = nullptr);
  bool origin_allowed(std::string_view origin) const;

 private:
  void handle_post(McpHttpRequest& request, std::shared_ptr<CancelToken> cancel, HttpReplyCallback& done,
                   std::weak_ptr<ResponseEvents> events);
  void handle_get(McpHttpRequest& request, const auth::Principal& caller, HttpReplyCallback& done);
  void handle_delete(McpHttpRequest& request, const auth::Principal& caller, HttpReplyCallback& done);

  HttpPolicy policy_;
  Conversation& conversation_;
};

// An Answer as an HTTP reply: JSON, or SSE events in kSse mode; a failure's status always comes as JSON.
McpHttpReply http_reply(Answer answer, ResponseMode mode);

// Renders one JSON-RPC message as an SSE event.
std::string sse_event(std::string_view json_message);

// A 200 whose body is an event stream: content type and the headers that keep proxies from buffering it.
McpHttpReply event_stream_reply();

}  // namespace sandgate::mcp
