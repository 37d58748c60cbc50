#pragma once
// Requests a running call sends its client in the handshake eras (sampling/createMessage, elicitation/create,
// roots/list), on the call's own stream, and the client's answers routed back to the call that asked. Only a
// response from the same session may answer; only methods the client declared a capability for are sent.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/json.h"
#include "mcp/notifications.h"
#include "metrics/counters.h"

namespace sandgate::mcp {

// A client's answer: its `error` object when `is_error`, else its `result`, as the client wrote it.
struct ClientAnswer {
  bool is_error = false;
  std::string json;
};
using AnswerCallback = std::function<void(ClientAnswer)>;

struct ClientRequestLimits {
  std::size_t max_pending = 10'000;          // requests waiting for their client's answer, gateway-wide
  std::size_t max_per_call = 100;            // requests one call may send
  std::size_t max_params_bytes = 1024 * 1024;  // one request's params, serialized
};

// The requests waiting for an answer, by id. Thread-safe.
class ClientRequests {
 public:
  ClientRequests(ClientRequestLimits limits, std::shared_ptr<metrics::Counters> counters);

  // A new request of `scope` (the session or connection asked on): its id, or nullopt when max_pending wait.
  std::optional<std::string> open(std::string scope, AnswerCallback on_answer);
  // A client's response: true when it answered a request of this scope that still waited (the callback ran).
  bool answer(std::string_view scope, const json::value& id, ClientAnswer answer);
  // The asking call ended: an answer that still comes is ignored.
  void abandon(const std::string& id);
  std::size_t pending() const;
  const ClientRequestLimits& limits() const { return limits_; }
  metrics::Counters& counters() const { return *counters_; }

 private:
  struct Entry {
    std::string scope;
    AnswerCallback on_answer;
  };
  const ClientRequestLimits limits_;
  const std::shared_ptr<metrics::Counters> counters_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Entry> waiting_;
  std::uint64_t next_ = 0;
};

// What a client must have declared for the gateway to send it `method` with `params`: the ClientCapabilities
// fragment ({"sampling":{}}, {"elicitation":{"url":{}}} for a URL elicitation, {"elicitation":{"form":{}}} for a
// form to a client that named only other modes) and whether `declared` has it. Nullopt: not a method a call may
// send, or an elicitation mode there is none of.
struct CapabilityNeed {
  json::object required;
  bool declared = false;
};
std::optional<CapabilityNeed> capability_need(std::string_view method, const json::object& params,
                                              const json::object& declared);

// One call's way to ask its client. Thread-safe; abandons what it still waits for when destroyed.
class ClientAsker {
 public:
  // `client_capabilities_json` is what the client declared at initialize.
  ClientAsker(std::shared_ptr<NotificationSink> sink, std::string scope, std::shared_ptr<ClientRequests> table,
              std::string client_capabilities_json);
  ~ClientAsker();
  ClientAsker(const ClientAsker&) = delete;
  ClientAsker& operator=(const ClientAsker&) = delete;

  // Sends `method` with `params_json` (an object) to the client: "" when sent (`on_answer` then runs once, when
  // the client answers), else why not (nothing runs).
  std::string ask(std::string_view method, std::string_view params_json, AnswerCallback on_answer);

 private:
  const std::shared_ptr<NotificationSink> sink_;
  const std::string scope_;
  const std::shared_ptr<ClientRequests> table_;
  const std::string capabilities_json_;  // parsed at the first ask: most calls never ask
  std::atomic<std::size_t> asked_{0};
  std::mutex mutex_;
  std::vector<std::string> open_ids_;
};

}  // namespace sandgate::mcp
