#pragma once
// MCP method handling for both eras, independent of the transport that carried the request.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <variant>

#include "common/json.h"
#include "mcp/catalog.h"
#include "mcp/client_requests.h"
#include "mcp/request_state.h"
#include "mcp/dispatcher.h"
#include "mcp/errors.h"
#include "mcp/jsonrpc.h"
#include "mcp/notifications.h"
#include "mcp/protocol.h"
#include "mcp/request_context.h"
#include "mcp/subscriptions.h"
#include "policy/sandbox_grant.h"

namespace sandgate::mcp {

struct ServerIdentity {
  std::string name = "sandgate";
  std::string version = "0.0.0";
  std::string instructions;  // empty: not sent
};

struct EngineSettings {
  ServerIdentity identity;
  JsonLimits json_limits;  // what a client may send; a tool's result is held to the same depth
  std::size_t page_size = 100;
  // Freshness hints of 2026-07-28 cacheable results.
  std::int64_t list_ttl_ms = 60'000;
  std::int64_t read_ttl_ms = 0;
  ProgressLimits progress;
  LogLimits logs;
  ClientRequestLimits client_requests;
  SubscriptionLimits subscriptions;
  // Seals and opens 2026-07-28 requestState; none: a seal with a random key, 300 s lifetime.
  std::shared_ptr<const RequestStateSeal> request_state;
  // Each call's isolation and limits; without one the dispatcher decides where handlers run.
  std::shared_ptr<const policy::SandboxGrant> sandbox;
};

// A result is a JSON object's text: values a tool returned go out as it wrote them.
using Reply = std::variant<std::string, Fault>;
// `facts` tell how a dispatched call ended; a request that dispatched nothing has none (all unknown).
using ReplyCallback = std::function<void(Reply, const OutcomeFacts& facts)>;

class Engine {
 public:
  // Loads the catalog from the dispatcher once; throws std::invalid_argument on a malformed one. Counts into
  // `counters` (its own registry when none is given).
  Engine(EngineSettings settings, std::shared_ptr<Dispatcher> dispatcher,
         std::shared_ptr<metrics::Counters> counters = std::make_shared<metrics::Counters>());

  // The modern per-request envelope (_meta version and capabilities), minus transport headers.
  // Returns the requested version, or the failure to answer with.
  std::variant<std::string, Fault> check_modern_envelope(const Message& request) const;

  // Answers one request; `done` runs exactly once, maybe on another thread.
  void handle(const Message& request, const RequestContext& context, std::shared_ptr<CancelToken> cancel,
              ReplyCallback done) const;

  std::string initialize_result(std::string_view negotiated_version) const;
  const Catalog& catalog() const { return catalog_; }
  const EngineSettings& settings() const { return settings_; }
  Dispatcher& dispatcher() const { return *dispatcher_; }
  const metrics::Counters& counters() const { return *counters_; }
  // A client's response to a request a call sent it on `scope` (its session or connection): true when it
  // answered one that waited.
  bool client_answered(std::string_view scope, const Message& response) const;
  // Where calls announce resource updates and list changes; shared: Python holds it as long as it needs.
  const std::shared_ptr<Subscriptions>& subscriptions() const { return subscriptions_; }
  // A session or connection ended: what its calls and subscriptions kept alive goes.
  void session_ended(const std::string& session) const;
  // Ends every subscriptions/listen stream with its result (the server is stopping).
  void end_listen_streams() const;

 private:
  void invoke(InvocationKind kind, const Message& request, const RequestContext& context,
              std::shared_ptr<CancelToken> cancel, ReplyCallback done) const;
  // `private_to_caller`: the result depends on who asked (a policy's view), so caches must not share it.
  std::string finish(std::string result, Era era, std::int64_t ttl_ms, bool private_to_caller = false,
                     std::string_view result_type = "complete") const;
  // A 2026-07-28 call as its input_required result needs it: who may resume it, and what its client declared.
  struct Resumable {
    std::string principal;  // auth::identity_of
    std::string method;
    std::string target;
    std::string client_capabilities_json;  // the request's, as sent
    StateBinding binding() const { return {principal, method, target}; }
  };
  // An input_required result of a modern call: its requests checked against what the client declared, its
  // requestState sealed for the call; or the fault to answer instead.
  std::variant<std::string, Fault> input_required(std::string result, const Resumable& call) const;
  std::string discover_result() const;
  // A handler's -32042 as the request's era and client allow it: itself, or the internal error it becomes.
  static Fault url_elicitation_required(Fault fault, Era era, std::string_view client_capabilities_json);
  // resources/subscribe and resources/unsubscribe of a handshake-era session.
  Reply resource_subscription(const Message& request, const RequestContext& context) const;
  // subscriptions/listen: acknowledged on the request's stream, then open until cancelled or ended.
  void listen(const Message& request, const RequestContext& context, std::shared_ptr<CancelToken> cancel,
              ReplyCallback done) const;

  EngineSettings settings_;
  std::shared_ptr<Dispatcher> dispatcher_;
  Catalog catalog_;
  json::object server_info_;
  std::string server_info_json_;
  // Shared with every ProgressReporter, which Python may hold past the engine's life.
  std::shared_ptr<metrics::Counters> counters_;
  std::shared_ptr<ClientRequests> client_requests_;
  std::shared_ptr<Subscriptions> subscriptions_;
};

// Maps a runner's outcome to a result object or a protocol failure; a result must be a JSON object within
// `limits`' depth.
Reply outcome_to_reply(Outcome outcome, const JsonLimits& limits);

}  // namespace sandgate::mcp
