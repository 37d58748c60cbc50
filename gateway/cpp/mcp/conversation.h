#pragma once
// What a client's exchange means, whichever transport carried it: era rules, legacy initialize and
// sessions, batches, request ids and cancellation, progress routing, reply encoding. Transports only
// frame bytes, fill a Delivery and send the Answer back.
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "mcp/engine.h"
#include "mcp/in_flight.h"
#include "mcp/request_context.h"
#include "mcp/session_table.h"
#include "mcp/stages.h"

namespace sandgate::mcp {

// The modern era's routing headers, from transports that have headers (Streamable HTTP).
struct RoutingHeaders {
  std::optional<std::string> protocol_version, method, name;
  bool duplicated = false;  // one of them appeared twice
};

// One body (a message or a batch) and what its transport knows about it.
struct Delivery {
  std::string body;
  Transport transport = Transport::kStreamableHttp;
  std::string peer;
  Headers headers;  // what a stage may read, lower-cased names, every one the transport received
  std::optional<std::string> session_id;  // the legacy session it names
  // For a transport whose connection is its client's session (stdio): every request's session and cancel scope.
  std::string connection;
  std::optional<RoutingHeaders> routing;  // present: a modern request's headers must agree with its body
  // With no version signal and no session: legacy (HTTP: the session is then missing) or modern (stdio).
  bool legacy_unless_stated = true;
  std::shared_ptr<CancelToken> cancel;  // the transport's (HTTP: the client leaving); null: one per request
};

// Everything that goes back for one delivery.
struct Answer {
  int http_status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::vector<std::string> messages;          // JSON-RPC responses; none: nothing to send (HTTP 202)
  bool batch = false;                         // the messages are one JSON array
  std::optional<std::string> opened_session;  // a legacy initialize opened this session

  // The messages as one JSON text: the message, or the batch's array; empty when there is none.
  std::string json_body() const;
};

// The transport's side of one delivery. Thread-safe.
class Responder {
 public:
  virtual ~Responder() = default;
  // Where a request's notifications go ahead of its answer; null: nowhere (they are dropped and counted).
  virtual std::shared_ptr<NotificationSink> notifications() = 0;
  // Called exactly once per delivery, maybe on another thread.
  virtual void answer(Answer answer) = 0;
};

class Conversation {
 public:
  Conversation(const Engine& engine, SessionTable& sessions, Stages stages);

  void receive(Delivery delivery, std::shared_ptr<Responder> responder);
  // The session ended (HTTP DELETE, a stdio connection closing): false when it was not open.
  bool close_session(const std::string& id);
  // The same for a client's request to end it: false too when `caller` is not who opened it.
  bool close_session(const std::string& id, const auth::Principal& caller);
  bool session_alive(std::string_view id) { return sessions_.contains(id); }
  // Refreshes the session's idle timer; false when it is not open or `caller` is not who opened it.
  bool touch_session(std::string_view id, const auth::Principal& caller);
  // A stdio connection closed: what its requests kept alive may go.
  void connection_closed(const std::string& connection);
  // A handshake-era session's stream for what no request of it carries (resource updates, list changes): the
  // HTTP GET stream, a stdio connection. The number detaches it; a newer stream replaces it.
  std::uint64_t attach_stream(const std::string& session, std::shared_ptr<NotificationSink> stream);
  void detach_stream(const std::string& session, std::uint64_t number);
  // What `session` subscribed to, and its stream, go (a connection's client initialized a new session).
  void end_subscriptions(const std::string& session);
  const Engine& engine() const { return engine_; }

  // A credential the authenticate stage must ask about first: the context it was read from, and how to wait.
  struct AwaitingCredentials {
    RequestContext who;
    auth::AuthPending pending;
  };
  // The authenticate stage, for a delivery or for what a transport does on a session outside of one
  // (an HTTP GET of a session's stream, a DELETE): the context of its principal, the fault to answer, or a wait.
  std::variant<RequestContext, Fault, AwaitingCredentials> authenticate(Transport transport, std::string peer,
                                                                        Headers headers) const;
  // Calls `resume` once the credential's answer is known, unless this conversation is gone by then; the fault to
  // answer when too many requests already wait (nothing registered).
  std::optional<Fault> await_credentials(auth::AuthPending& pending, std::function<void()> resume) const;

  // A failure answered before or outside any request (malformed body, transport bounds).
  static Answer fault_answer(const Fault& fault, Era era, const json::value& id = nullptr);

 private:
  struct Batch;
  // `who` carries the transport's facts and the principal; the era's rules fill in the rest.
  void receive_modern(const Delivery& delivery, RequestContext who, const Message& message,
                      const std::shared_ptr<Responder>& responder);
  void receive_legacy(const Delivery& delivery, RequestContext who, Body& body, const std::shared_ptr<Responder>& responder);
  void initialize(const Message& message, const auth::Principal& caller, const std::shared_ptr<Responder>& responder);
  // The session's record, its idle timer refreshed, when it is open and `caller` opened it.
  std::optional<SessionRecord> touch_owned(std::string_view id, const auth::Principal& caller);
  // A valid logging/setLevel's level, kept on its session for the requests that follow.
  void remember_log_level(const std::string& session_id, SessionRecord& record, const Message& request);
  std::optional<Fault> check_routing(const RoutingHeaders& routing, const Message& message) const;
  // A tools/call's Mcp-Param-* headers against the arguments its tool's inputSchema mirrors (SEP-2243).
  std::optional<Fault> check_param_headers(const Message& message, const Headers& headers) const;
  void notify(const Message& notification, std::string_view scope);
  // Runs one request through authorize, rate-limit, dispatch and record; `done` gets its JSON-RPC reply text
  // and the wire status it carries.
  void run(const Message& request, RequestContext context, std::string scope, std::shared_ptr<CancelToken> cancel,
           std::function<void(std::string, WireError)> done);

  const Engine& engine_;
  SessionTable& sessions_;
  const Stages stages_;
  InFlight in_flight_;
  std::shared_ptr<char> alive_ = std::make_shared<char>();
};

// The scope a delivery's requests are tracked and cancelled under; empty: not cancellable by id.
std::string cancel_scope(const Delivery& delivery, Era era);

}  // namespace sandgate::mcp
