#pragma once
// The one seam between protocol handling and whatever runs tools (in-process now, sandbox next).
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>
#include <string>
#include <string_view>

#include "mcp/client_requests.h"
#include "mcp/log_notifications.h"
#include "mcp/notifications.h"
#include "mcp/outcome_facts.h"
#include "policy/sandbox_grant.h"

namespace sandgate::mcp {

// Set once when the client goes away or cancels; the runner may hook a kill on it.
class CancelToken {
 public:
  void cancel() {
    std::function<void()> hook;
    {
      std::lock_guard lock(mutex_);
      if (cancelled_.exchange(true)) return;
      hook = std::move(on_cancel_);
    }
    if (hook) hook();
  }
  bool cancelled() const { return cancelled_.load(); }
  // The hook, removed unrun (the request finished): what it holds is released by the caller, on its thread.
  std::function<void()> take_hook() {
    std::lock_guard lock(mutex_);
    return std::exchange(on_cancel_, nullptr);
  }
  // Runs now if already cancelled.
  void on_cancel(std::function<void()> hook) {
    {
      std::lock_guard lock(mutex_);
      if (!cancelled_.load()) {
        on_cancel_ = std::move(hook);
        return;
      }
    }
    hook();
  }

 private:
  std::mutex mutex_;
  std::atomic<bool> cancelled_{false};
  std::function<void()> on_cancel_;
};

// kCompletion: completion/complete for a prompt's argument or a resource template's variable; its
// `name` is the prompt's name or the template's URI, its `arguments_json` the request's whole params.
enum class InvocationKind { kToolCall, kResourceRead, kPromptGet, kCompletion };

struct Invocation {
  InvocationKind kind;
  std::string name;            // tool name, resource URI or prompt name
  std::string arguments_json;  // "{}" when absent
  std::string meta_json;       // the request's params._meta, "{}" when absent
  std::string session;         // legacy session id or stdio connection; empty for stateless requests
  std::shared_ptr<ProgressReporter> progress;  // set only when the request carries a progress token
  std::shared_ptr<LogReporter> log;            // set only when the client wants log messages of it
  std::shared_ptr<ClientAsker> ask;            // set only for a handshake-era request with a stream to its client
  // A 2026-07-28 retry: {"inputResponses": <as sent, or null>, "requestState": <the opened state, or null>};
  // empty on a first round.
  std::string round_trip_json;
  // Where and under which limits it runs, as the operator's grant decided; empty when the engine has no grant.
  std::optional<policy::SandboxPlan> plan;
  json::value request_id = nullptr;  // the request's JSON-RPC id (a string or an integer)
  std::string client_id;        // the OAuth client the caller's token names; empty when none
};

// Status values the runner reports; the engine maps them to protocol failures.
enum class OutcomeStatus : int {
  kOk = 0,
  kInvalidParams = 1,
  kResourceNotFound = 2,
  kInternalError = 3,
  kMissingClientCapability = 4,
  kCancelled = 5,     // the client cancelled it, or left
  kShuttingDown = 6,  // the gateway stopped taking work before it ran
  kUrlElicitationRequired = 7,  // the handler needs the user at URLs first: {"message", "data":{"elicitations"}}
};
inline constexpr OutcomeStatus kLastOutcomeStatus = OutcomeStatus::kUrlElicitationRequired;

struct Outcome {
  Outcome() = default;
  Outcome(OutcomeStatus status, std::string json, OutcomeFacts facts = {})
      : status(status), json(std::move(json)), facts(std::move(facts)) {}
  OutcomeStatus status = OutcomeStatus::kOk;
  std::string json;  // result object, or {"message":..., "data"?:...} for failures
  OutcomeFacts facts;
};

using OutcomeCallback = std::function<void(Outcome)>;

class Dispatcher {
 public:
  virtual ~Dispatcher() = default;
  // {"tools":[...],"resources":[...],"resourceTemplates":[...],"prompts":[...]}
  virtual std::string catalog_json() = 0;
  // Calls `done` exactly once, from any thread, possibly before returning.
  virtual void invoke(Invocation invocation, std::shared_ptr<CancelToken> cancel, OutcomeCallback done) = 0;
  // Stops accepting work and waits for what is running.
  virtual void drain() {}
  // A session ended (DELETE, or the stdio connection closed): what it kept alive may go.
  virtual void session_closed(const std::string& session) {}
};

std::string_view invocation_method(InvocationKind kind);

}  // namespace sandgate::mcp
