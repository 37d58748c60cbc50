// sandgate._core: the native gateway. Users import `sandgate`; only the facade touches this module.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "audit/audit_log.h"
#include "bindings/py_dispatcher.h"
#include "common/clock.h"
#include "common/digest.h"
#include "mcp/conversation.h"
#include "mcp/engine.h"
#include "mcp/session_table.h"
#include "mcp/streamable_http.h"
#include "common/json_text.h"
#include "jwt/jwk.h"
#include "policy/policy_gate.h"
#include "policy/tool_policy.h"
#include "server/http_server.h"
#include "server/stdio_server.h"

namespace py = pybind11;
using namespace sandgate;

namespace {

struct CoreSettings {
  std::string host = "127.0.0.1";
  int port = 8000;
  int io_threads = 0;
  int python_workers = 4;
  std::size_t max_body_bytes = 4 * 1024 * 1024;
  std::size_t max_header_bytes = 16 * 1024;
  std::size_t max_header_fields = 100;
  double read_timeout_s = 30.0;
  double idle_timeout_s = 120.0;
  double shutdown_grace_s = 10.0;
  double stream_keepalive_s = 15.0;
  std::size_t max_stream_backlog = 1000;
  std::size_t max_resource_subscriptions = 100;
  std::size_t max_subscription_uri_bytes = 2048;
  std::size_t max_listen_streams = 10'000;
  std::size_t max_connections = 10'000;
  std::vector<std::string> allowed_origins;
  std::string response_mode = "json";
  std::size_t page_size = 100;
  double session_idle_timeout_s = 3600.0;
  std::size_t max_sessions = 10'000;
  std::size_t max_rate_limit_keys = 100'000;
  std::size_t max_cached_tokens = 10'000;
  std::size_t max_token_bytes = 8 * 1024;
  std::size_t max_pending_introspections = 1024;
  std::size_t max_introspections_per_client = 16;
  std::size_t max_progress_notifications = 1000;
  std::size_t max_progress_bytes = 16 * 1024;
  std::size_t max_log_notifications = 1000;
  std::size_t max_log_bytes = 16 * 1024;
  std::size_t max_client_requests_pending = 10'000;
  std::size_t max_client_requests_per_call = 100;
  std::size_t max_client_request_bytes = 1024 * 1024;
  std::size_t request_state_ttl_s = 300;
  std::string request_state_key;  // 32 bytes as 64 hex digits; empty: a random key of this start
  std::size_t max_json_depth = JsonLimits{}.max_depth;
  std::size_t max_json_string_bytes = JsonLimits{}.max_string_bytes;
  std::size_t max_json_members = JsonLimits{}.max_members;
  std::string server_name = "sandgate";
  std::string server_version = "0.0.0";
  std::string instructions;
};

std::chrono::milliseconds millis(double seconds) {
  return std::chrono::milliseconds(static_cast<long long>(seconds * 1000.0));
}

mcp::EngineSettings engine_settings(const CoreSettings& s, std::shared_ptr<const policy::SandboxGrant> grant) {
  mcp::EngineSettings e;
  e.sandbox = std::move(grant);
  e.identity = {s.server_name, s.server_version, s.instructions};
  e.page_size = s.page_size;
  e.progress = mcp::ProgressLimits{s.max_progress_notifications, s.max_progress_bytes};
  e.logs = mcp::LogLimits{s.max_log_notifications, s.max_log_bytes};
  std::string key = mcp::RequestStateSeal::random_key();
  if (!s.request_state_key.empty()) {
    std::optional<std::string> decoded = from_hex(s.request_state_key);
    if (!decoded || decoded->size() != mcp::kRequestStateKeyBytes) {
      throw std::invalid_argument("the requestState key must be 64 hex digits (32 bytes)");
    }
    key = std::move(*decoded);
  }
  e.request_state = std::make_shared<mcp::RequestStateSeal>(std::move(key), std::make_shared<SystemWallClock>(),
                                                            std::chrono::seconds(s.request_state_ttl_s));
  e.client_requests = mcp::ClientRequestLimits{s.max_client_requests_pending, s.max_client_requests_per_call,
                                               s.max_client_request_bytes};
  e.json_limits = JsonLimits{s.max_json_depth, s.max_json_string_bytes, s.max_json_members};
  e.subscriptions = mcp::SubscriptionLimits{s.max_resource_subscriptions, s.max_subscription_uri_bytes,
                                            s.max_listen_streams};
  return e;
}

std::shared_ptr<bindings::PyDispatcher> make_dispatcher(py::object target, const CoreSettings& s) {
  return std::make_shared<bindings::PyDispatcher>(std::move(target), static_cast<std::size_t>(std::max(1, s.python_workers)));
}

// Every counter of the registry by name, read at once.
py::dict snapshot(const metrics::Counters& counters) {
  py::dict d;
  for (const auto& [name, value] : counters.snapshot()) d[py::str(std::string(name))] = value;
  return d;
}

// A counter grid's cells as [((row value, column value), count)]; one-column grids as ((row value,), count). With
// `zeros`, every known cell is there from the start (rate() and increase() then see a series' first event); else,
// and for "other" always, only the cells that counted something.
py::list grid_samples(const metrics::CounterGrid& grid, const metrics::Labels& rows, const metrics::Labels* columns,
                      bool zeros = false) {
  py::list samples;
  auto add = [&](py::tuple labels, std::uint64_t n, bool known) {
    if (n != 0 || (zeros && known)) samples.append(py::make_tuple(std::move(labels), n));
  };
  for (const auto& [row, row_value] : rows.known()) {
    const bool known_row = row != rows.capacity();
    if (columns == nullptr) {
      add(py::make_tuple(row_value), grid.get(row, 0), known_row);
      continue;
    }
    for (const auto& [column, column_value] : columns->known()) {
      add(py::make_tuple(row_value, column_value), grid.get(row, column), known_row && column != columns->capacity());
    }
  }
  return samples;
}

py::tuple histogram_sample(py::tuple labels, const metrics::Histogram& histogram) {
  const metrics::Histogram::Snapshot snapshot = histogram.snapshot();
  py::list buckets;
  for (std::size_t i = 0; i < metrics::kDurationBuckets.size(); ++i) {
    buckets.append(py::make_tuple(metrics::kDurationBuckets[i], snapshot.cumulative[i]));
  }
  return py::make_tuple(std::move(labels), buckets, snapshot.cumulative.back(), snapshot.sum_s);
}

// Every labelled family as (name, kind, label names, samples): counters as above, histograms as
// (labels, [(upper bound, cumulative count)], count, sum); the catalog's tools always, "other" when used.
py::list family_snapshot(const metrics::Families& f) {
  py::list families;
  auto counter = [&](const char* name, std::vector<std::string> labels, py::list samples) {
    families.append(py::make_tuple(name, "counter", labels, samples));
  };
  counter("http_requests", {"transport", "status"}, grid_samples(f.http_requests, f.transports, &f.statuses));
  counter("jsonrpc_requests", {"method", "outcome"}, grid_samples(f.jsonrpc_requests, f.methods, &f.outcomes));
  counter("tool_calls", {"tool", "outcome"}, grid_samples(f.tool_calls, f.tools, &f.tool_outcomes));
  counter("sandbox_stops", {"reason"}, grid_samples(f.sandbox_stops, f.stop_reasons, nullptr, true));
  counter("sandbox_seccomp_violations", {"syscall"}, grid_samples(f.seccomp_violations, f.syscalls, nullptr));
  counter("auth_failures", {"reason"}, grid_samples(f.auth_failures, f.auth_reasons, nullptr, true));
  counter("policy_decisions", {"decision", "reason"},
          grid_samples(f.policy_decisions, f.decisions, &f.decision_reasons, true));
  counter("ratelimit_decisions", {"result", "policy"},
          grid_samples(f.rate_decisions, f.rate_results, &f.rate_limits, true));
  py::list durations;
  for (const auto& [tool, name] : f.tools.known()) {
    const metrics::Histogram& histogram = f.tool_durations[tool];
    if (name == metrics::kOther && histogram.snapshot().cumulative.back() == 0) continue;
    durations.append(histogram_sample(py::make_tuple(name), histogram));
  }
  families.append(py::make_tuple("tool_call_duration_seconds", "histogram", std::vector<std::string>{"tool"}, durations));
  py::list spawns;
  spawns.append(histogram_sample(py::tuple(), f.spawn_duration));
  families.append(py::make_tuple("sandbox_spawn_duration_seconds", "histogram", std::vector<std::string>{}, spawns));
  return families;
}

metrics::Counter counter_or_raise(std::string_view name) {
  if (auto counter = metrics::counter_named(name)) return *counter;
  throw py::key_error("no counter named " + std::string(name));
}

// The request path's stages: the policy gate's when the operator gave one, else everyone anonymous and open.
mcp::Stages request_stages(const CoreSettings& s, const std::shared_ptr<const policy::PolicyGate>& gate,
                           const Clock& clock, std::shared_ptr<metrics::Counters> counters,
                           std::shared_ptr<audit::AuditLog> audit) {
  auto record = std::make_shared<metrics::Recorder>(counters, clock, std::move(audit));
  if (gate == nullptr) {
    mcp::Stages open = mcp::open_stages(std::move(counters));
    open.record = std::move(record);
    return open;
  }
  return mcp::Stages{
      std::make_shared<policy::GateAuthenticator>(gate), std::make_shared<policy::GateAuthorizer>(gate, counters),
      std::make_shared<policy::GateRateLimiter>(
          std::make_unique<ratelimit::PolicyLimiter>(clock, s.max_rate_limit_keys, counters)),
      std::move(record)};
}

// Everything one HTTP gateway owns, built in dependency order and torn down in reverse.
class Gateway {
 public:
  Gateway(const CoreSettings& s, py::object dispatcher, std::shared_ptr<const policy::SandboxGrant> grant,
          std::shared_ptr<metrics::Counters> counters, std::shared_ptr<policy::PolicyGate> gate,
          std::shared_ptr<audit::AuditLog> audit)
      : counters_(counters ? std::move(counters) : std::make_shared<metrics::Counters>()),
        gate_(std::move(gate)),
        dispatcher_(make_dispatcher(std::move(dispatcher), s)),
        engine_(engine_settings(s, std::move(grant)), dispatcher_, counters_),
        sessions_(mcp::SessionTableLimits{s.max_sessions, millis(s.session_idle_timeout_s)}, clock_, counters_),
        conversation_(engine_, sessions_, request_stages(s, gate_, clock_, counters_, std::move(audit))),
        http_(mcp::HttpPolicy{s.allowed_origins, s.response_mode == "sse" ? mcp::ResponseMode::kSse : mcp::ResponseMode::kJson},
              conversation_),
        server_(listener_settings(s, gate_), http_, counters_),
        // Half the idle timeout: a session's resources go at most 1.5 timeouts after its last use.
        sweep_interval_(std::clamp(millis(s.session_idle_timeout_s / 2), kMinSessionSweepInterval,
                                   kMaxSessionSweepInterval)) {
    dispatcher_->attach_announcements(engine_.subscriptions());
    // An expired session's per_session worker must not outlive it.
    sessions_.set_on_expired([this](const std::string& id) { engine_.session_ended(id); });
  }

  ~Gateway() {
    py::gil_scoped_release release;
    stop_sweeper();
    engine_.end_listen_streams();
    server_.shutdown();
    server_.wait();
    dispatcher_->drain();
  }

  int start() {
    py::gil_scoped_release release;
    const int port = server_.start();
    sweeper_ = std::thread([this] { sweep_sessions(); });
    return port;
  }
  void shutdown() {
    py::gil_scoped_release release;
    stop_sweeper();
    engine_.end_listen_streams();  // open until ended: the drain would otherwise wait out its grace for them
    server_.shutdown();
    server_.wait();
    dispatcher_->drain();
  }
  void wait() {
    py::gil_scoped_release release;
    server_.wait();
  }
  bool ready() const { return server_.ready(); }
  void set_backend_ready(bool ready) { server_.set_backend_ready(ready); }
  std::size_t session_count() const { return sessions_.size(); }
  py::dict counters() const { return snapshot(*counters_); }

 private:
  static server::ListenerSettings listener_settings(const CoreSettings& s, std::shared_ptr<const policy::PolicyGate> gate) {
    server::ListenerSettings l;
    if (gate != nullptr) {
      // The current policy's metadata, at its path-suffixed location and at the bare one.
      l.documents = [gate](std::string_view path) -> std::optional<std::string> {
        const auto& metadata = gate->current()->resource_metadata();
        if (!metadata || (path != metadata->path && path != "/.well-known/oauth-protected-resource")) return std::nullopt;
        return metadata->document_json;
      };
    }
    l.host = s.host;
    l.port = static_cast<std::uint16_t>(s.port);
    l.io_threads = static_cast<unsigned>(std::max(0, s.io_threads));
    l.max_body_bytes = s.max_body_bytes;
    l.max_header_bytes = s.max_header_bytes;
    l.max_header_fields = s.max_header_fields;
    l.read_timeout = millis(s.read_timeout_s);
    l.idle_timeout = millis(s.idle_timeout_s);
    l.shutdown_grace = millis(s.shutdown_grace_s);
    l.stream_keepalive = millis(s.stream_keepalive_s);
    l.max_stream_backlog = s.max_stream_backlog;
    l.max_connections = s.max_connections;
    return l;
  }

  // Expiry is otherwise noticed only when a session is used again or the table is full.
  void sweep_sessions() {
    std::unique_lock lock(sweeper_mutex_);
    while (!sweeper_stop_.wait_for(lock, sweep_interval_, [this] { return stopping_sweeper_; })) {
      lock.unlock();
      sessions_.sweep_expired();
      lock.lock();
    }
  }
  void stop_sweeper() {
    {
      std::lock_guard lock(sweeper_mutex_);
      stopping_sweeper_ = true;
    }
    sweeper_stop_.notify_all();
    if (sweeper_.joinable()) sweeper_.join();
  }

  SteadyClock clock_;
  const std::shared_ptr<metrics::Counters> counters_;
  const std::shared_ptr<policy::PolicyGate> gate_;  // null: no policy
  std::shared_ptr<bindings::PyDispatcher> dispatcher_;
  mcp::Engine engine_;
  mcp::SessionTable sessions_;
  mcp::Conversation conversation_;
  mcp::StreamableHttp http_;
  server::HttpServer server_;
  static constexpr std::chrono::milliseconds kMaxSessionSweepInterval{10'000};
  static constexpr std::chrono::milliseconds kMinSessionSweepInterval{100};
  std::chrono::milliseconds sweep_interval_;
  std::thread sweeper_;
  std::mutex sweeper_mutex_;
  std::condition_variable sweeper_stop_;
  bool stopping_sweeper_ = false;
};

// The one connection's session lives as long as stdin stays open (a century is never); a new `initialize`
// opens its session before the old one closes.
constexpr mcp::SessionTableLimits kStdioSessionLimits{2, std::chrono::hours(24 * 365 * 100)};

void serve_stdio(const CoreSettings& s, py::object target, std::shared_ptr<const policy::SandboxGrant> grant,
                 std::shared_ptr<metrics::Counters> counters, std::shared_ptr<policy::PolicyGate> gate,
                 std::string api_key, std::shared_ptr<audit::AuditLog> audit) {
  auto dispatcher = make_dispatcher(std::move(target), s);
  if (counters == nullptr) counters = std::make_shared<metrics::Counters>();
  mcp::Engine engine(engine_settings(s, std::move(grant)), dispatcher, counters);
  dispatcher->attach_announcements(engine.subscriptions());
  SteadyClock clock;
  mcp::SessionTable sessions(kStdioSessionLimits, clock, counters);
  mcp::Conversation conversation(engine, sessions, request_stages(s, gate, clock, counters, std::move(audit)));
  py::gil_scoped_release release;
  server::serve_stdio(conversation, 0, 1, server::StdioSettings{s.max_body_bytes, std::move(api_key)});
  dispatcher->drain();
}

// A compiled policy for the author's commands (check, test, explain); the request path holds the same object.
struct PolicyHandle {
  std::shared_ptr<const policy::ToolPolicy> policy;
};

// A caller as policy tests describe it: anonymous, an API key's principal, or (with an issuer) a token's subject.
auth::Principal principal_of(std::string name, std::vector<std::string> groups, bool anonymous, std::string issuer,
                             std::string client_id, std::vector<std::string> scopes) {
  const bool token = !issuer.empty();
  auth::Principal principal{.kind = anonymous ? auth::Principal::Kind::kAnonymous
                                    : token   ? auth::Principal::Kind::kToken
                                              : auth::Principal::Kind::kApiKey,
                            .name = name, .groups = std::move(groups)};
  if (token) {
    principal.issuer = std::move(issuer);
    principal.subject = std::move(name);
    principal.client_id = std::move(client_id);
    principal.scopes = std::move(scopes);
  }
  return principal;
}

json::value arguments_of(std::string_view arguments_json) {
  auto parsed = parse_json_text(arguments_json, JsonLimits{});
  if (auto* error = std::get_if<JsonParseError>(&parsed)) throw py::value_error(error->message);
  return std::move(std::get<json::value>(parsed));
}

py::tuple decision_tuple(const policy::Decision& d) {
  return py::make_tuple(d.allowed, std::string(d.rule), std::string(d.reason), std::string(d.shadow_rule),
                        d.shadow_would_allow);
}

policy::TokenServices& tokens_of(policy::PolicyGate& gate) {
  if (gate.tokens() == nullptr) throw py::value_error("this gate verifies no tokens (no settings given)");
  return *gate.tokens();
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "Sandgate native gateway (private; use the sandgate package)";
  py::class_<CoreSettings>(m, "Settings")
      .def(py::init<>())
      .def_readwrite("host", &CoreSettings::host)
      .def_readwrite("port", &CoreSettings::port)
      .def_readwrite("io_threads", &CoreSettings::io_threads)
      .def_readwrite("python_workers", &CoreSettings::python_workers)
      .def_readwrite("max_body_bytes", &CoreSettings::max_body_bytes)
      .def_readwrite("max_header_bytes", &CoreSettings::max_header_bytes)
      .def_readwrite("max_header_fields", &CoreSettings::max_header_fields)
      .def_readwrite("read_timeout_s", &CoreSettings::read_timeout_s)
      .def_readwrite("idle_timeout_s", &CoreSettings::idle_timeout_s)
      .def_readwrite("shutdown_grace_s", &CoreSettings::shutdown_grace_s)
      .def_readwrite("stream_keepalive_s", &CoreSettings::stream_keepalive_s)
      .def_readwrite("max_stream_backlog", &CoreSettings::max_stream_backlog)
      .def_readwrite("max_resource_subscriptions", &CoreSettings::max_resource_subscriptions)
      .def_readwrite("max_subscription_uri_bytes", &CoreSettings::max_subscription_uri_bytes)
      .def_readwrite("max_listen_streams", &CoreSettings::max_listen_streams)
      .def_readwrite("max_connections", &CoreSettings::max_connections)
      .def_readwrite("allowed_origins", &CoreSettings::allowed_origins)
      .def_readwrite("response_mode", &CoreSettings::response_mode)
      .def_readwrite("page_size", &CoreSettings::page_size)
      .def_readwrite("session_idle_timeout_s", &CoreSettings::session_idle_timeout_s)
      .def_readwrite("max_sessions", &CoreSettings::max_sessions)
      .def_readwrite("max_rate_limit_keys", &CoreSettings::max_rate_limit_keys)
      .def_readwrite("max_cached_tokens", &CoreSettings::max_cached_tokens)
      .def_readwrite("max_token_bytes", &CoreSettings::max_token_bytes)
      .def_readwrite("max_pending_introspections", &CoreSettings::max_pending_introspections)
      .def_readwrite("max_introspections_per_client", &CoreSettings::max_introspections_per_client)
      .def_readwrite("max_progress_notifications", &CoreSettings::max_progress_notifications)
      .def_readwrite("max_progress_bytes", &CoreSettings::max_progress_bytes)
      .def_readwrite("max_log_notifications", &CoreSettings::max_log_notifications)
      .def_readwrite("max_log_bytes", &CoreSettings::max_log_bytes)
      .def_readwrite("max_client_requests_pending", &CoreSettings::max_client_requests_pending)
      .def_readwrite("max_client_requests_per_call", &CoreSettings::max_client_requests_per_call)
      .def_readwrite("max_client_request_bytes", &CoreSettings::max_client_request_bytes)
      .def_readwrite("request_state_ttl_s", &CoreSettings::request_state_ttl_s)
      .def_readwrite("request_state_key", &CoreSettings::request_state_key)
      .def_readwrite("max_json_depth", &CoreSettings::max_json_depth)
      .def_readwrite("max_json_string_bytes", &CoreSettings::max_json_string_bytes)
      .def_readwrite("max_json_members", &CoreSettings::max_json_members)
      .def_readwrite("server_name", &CoreSettings::server_name)
      .def_readwrite("server_version", &CoreSettings::server_version)
      .def_readwrite("instructions", &CoreSettings::instructions);

#ifndef SANDGATE_REVISION
#define SANDGATE_REVISION "unknown"
#endif
  m.attr("build_revision") = SANDGATE_REVISION;
  py::class_<metrics::Counters, std::shared_ptr<metrics::Counters>>(m, "Counters")
      .def(py::init<>())
      .def("add", [](metrics::Counters& c, std::string_view name, std::uint64_t n) { c.add(counter_or_raise(name), n); },
           py::arg("name"), py::arg("n") = 1)
      .def("get", [](const metrics::Counters& c, std::string_view name) { return c.get(counter_or_raise(name)); },
           py::arg("name"))
      .def("snapshot", [](const metrics::Counters& c) { return snapshot(c); })
      .def("families", [](const metrics::Counters& c) { return family_snapshot(c.families()); })
      // The sandbox runner's time from asking for a child to the child ready to take the call.
      .def("observe_spawn",
           [](metrics::Counters& c, double seconds) {
             c.families().spawn_duration.observe(std::chrono::duration_cast<std::chrono::nanoseconds>(
                 std::chrono::duration<double>(std::max(seconds, 0.0))));
           },
           py::arg("seconds"));

  // (policy, []) or (None, [(where, code, message), ...]): every problem the core finds, at once.
  py::class_<PolicyHandle>(m, "ToolPolicy")
      .def("decide",
           [](const PolicyHandle& h, std::string name, std::vector<std::string> groups, bool anonymous,
              std::string_view tool, std::string_view arguments_json, std::string issuer, std::string client_id,
              std::vector<std::string> scopes) {
             return decision_tuple(h.policy->decide(principal_of(std::move(name), std::move(groups), anonymous,
                                                                 std::move(issuer), std::move(client_id), std::move(scopes)),
                                                    tool, arguments_of(arguments_json)));
           },
           py::arg("name"), py::arg("groups"), py::arg("anonymous"), py::arg("tool"), py::arg("arguments_json"),
           py::arg("issuer") = "", py::arg("client_id") = "", py::arg("scopes") = std::vector<std::string>{})
      .def("explain",
           [](const PolicyHandle& h, std::string name, std::vector<std::string> groups, bool anonymous,
              std::string_view tool, std::string_view arguments_json, std::string issuer, std::string client_id,
              std::vector<std::string> scopes) {
             std::vector<policy::RuleTrace> trace;
             const policy::Decision decision = h.policy->decide(
                 principal_of(std::move(name), std::move(groups), anonymous, std::move(issuer), std::move(client_id),
                              std::move(scopes)),
                 tool, arguments_of(arguments_json), &trace);
             py::list steps;
             for (const policy::RuleTrace& step : trace) {
               steps.append(py::make_tuple(step.rule->id, step.rule->effect == policy::Effect::kAllow ? "allow" : "deny",
                                           step.rule->shadow, step.tool_matched, step.principal_matched,
                                           step.args_satisfied, step.field, step.reason));
             }
             return py::make_tuple(decision_tuple(decision), steps);
           },
           py::arg("name"), py::arg("groups"), py::arg("anonymous"), py::arg("tool"), py::arg("arguments_json"),
           py::arg("issuer") = "", py::arg("client_id") = "", py::arg("scopes") = std::vector<std::string>{})
      .def("visible",
           [](const PolicyHandle& h, std::string name, std::vector<std::string> groups, bool anonymous,
              std::string_view tool, std::string issuer, std::string client_id, std::vector<std::string> scopes) {
             return h.policy->visible(principal_of(std::move(name), std::move(groups), anonymous, std::move(issuer),
                                                   std::move(client_id), std::move(scopes)),
                                      tool);
           },
           py::arg("name"), py::arg("groups"), py::arg("anonymous"), py::arg("tool"), py::arg("issuer") = "",
           py::arg("client_id") = "", py::arg("scopes") = std::vector<std::string>{})
      // The module's plans under this policy: its requests over the policy's defaults, within its maxSandbox,
      // isolation "none" only for code the operator runs in the gateway (`in_gateway`) and the policy trusts.
      .def("sandbox_grant",
           [](const PolicyHandle& h, std::string_view requests_json, bool in_gateway) {
             const auto& settings = h.policy->sandbox_settings();
             if (!settings) throw py::value_error("the policy gives no complete defaults.sandbox and maxSandbox");
             policy::SandboxSettings granted = *settings;
             granted.trust_module = granted.trust_module && in_gateway;
             return std::make_shared<policy::SandboxGrant>(requests_json, granted);
           },
           py::arg("requests_json"), py::arg("in_gateway"))
      .def_property_readonly("revision", [](const PolicyHandle& h) { return h.policy->revision(); });
  // The policy on the request path; `swap` serves a reloaded one to every request that starts after it.
  py::class_<policy::PolicyGate, std::shared_ptr<policy::PolicyGate>>(m, "PolicyGate")
      // With `settings` and `counters`, the gate verifies the policy's bearer tokens (keys set by set_keys).
      .def(py::init([](const PolicyHandle& h, std::shared_ptr<const policy::SandboxGrant> grant, const CoreSettings* s,
                       std::shared_ptr<metrics::Counters> counters) {
             std::shared_ptr<policy::TokenServices> tokens;
             if (s != nullptr) {
               tokens = std::make_shared<policy::TokenServices>(std::make_shared<SystemWallClock>(), s->max_cached_tokens,
                                                                counters ? counters : std::make_shared<metrics::Counters>(),
                                                                jwt::JwsLimits{s->max_token_bytes},
                                                                s->max_pending_introspections,
                                                                s->max_introspections_per_client);
             }
             return std::make_shared<policy::PolicyGate>(h.policy, std::move(grant), std::move(tokens));
           }),
           py::arg("policy"), py::arg("grant") = nullptr, py::arg("settings") = nullptr, py::arg("counters") = nullptr)
      // Sets an issuer's keys from a JWKS document; the refusal as a string (the keys held before stay), else None.
      .def("set_keys",
           [](policy::PolicyGate& gate, const std::string& issuer, std::string_view jwks_json,
              bool symmetric) -> std::optional<std::string> {
             if (gate.tokens() == nullptr) throw py::value_error("this gate verifies no tokens (no settings given)");
             return gate.tokens()->set_keys(issuer, jwks_json, symmetric);
           },
           py::arg("issuer"), py::arg("jwks_json"), py::arg("symmetric") = false)
      .def("keys_wanted",
           [](policy::PolicyGate& gate, const std::string& issuer) {
             return gate.tokens() != nullptr && gate.tokens()->keys_wanted(issuer);
           },
           py::arg("issuer"))
      // Opaque tokens (auth.introspection): the fd readable when tokens wait to be asked about, the tokens
      // (each once), and the endpoint's answer (its 200 body; answered=False when asking failed).
      .def_property_readonly("introspection_fd",
                             [](policy::PolicyGate& gate) { return tokens_of(gate).opaque_tokens().wake_fd(); })
      .def("introspection_wanted",
           [](policy::PolicyGate& gate) {
             std::vector<std::string> wanted = tokens_of(gate).opaque_tokens().take_wanted();
             py::list tokens;
             for (const std::string& token : wanted) tokens.append(py::bytes(token));
             return tokens;
           })
      .def("complete_introspection",
           [](policy::PolicyGate& gate, std::string token, bool answered, std::string response_json) {
             policy::TokenServices& tokens = tokens_of(gate);
             py::gil_scoped_release release;  // the waiting requests resume on this thread
             tokens.opaque_tokens().complete(token, answered, response_json);
           },
           py::arg("token"), py::arg("answered"), py::arg("response_json"))
      .def("swap",
           [](policy::PolicyGate& gate, const PolicyHandle& h, std::shared_ptr<const policy::SandboxGrant> grant) {
             gate.swap(h.policy, std::move(grant));
           },
           py::arg("policy"), py::arg("grant") = nullptr)
      .def_property_readonly("revision", [](const policy::PolicyGate& gate) { return gate.current()->revision(); })
      .def_property_readonly("grant", [](const policy::PolicyGate& gate) {
        return std::const_pointer_cast<policy::SandboxGrant>(gate.served()->sandbox);
      });
  // Why a JWKS document would be refused as an issuer's key set; None when it is acceptable.
  m.def("check_jwks", [](std::string_view jwks_json, bool symmetric) -> std::optional<std::string> {
    jwt::JwksOptions options;
    options.allow_symmetric = symmetric;
    auto parsed = jwt::Jwks::parse(jwks_json, options);
    if (auto* refusal = std::get_if<std::string>(&parsed)) return *refusal;
    return std::nullopt;
  }, py::arg("jwks_json"), py::arg("symmetric") = false);
  m.def("compile_tool_policy", [](std::string_view compiled_json) -> py::tuple {
    auto compiled = policy::ToolPolicy::compile(compiled_json);
    py::list errors;
    if (auto* problems = std::get_if<std::vector<policy::PolicyCompileError>>(&compiled)) {
      for (const auto& problem : *problems) errors.append(py::make_tuple(problem.where, problem.code, problem.message));
      return py::make_tuple(py::none(), errors);
    }
    return py::make_tuple(PolicyHandle{std::get<std::shared_ptr<const policy::ToolPolicy>>(compiled)}, errors);
  }, py::arg("compiled_json"));

  // Where handlers announce resource updates and list changes (the facade's announcements.Hub).
  py::class_<mcp::Subscriptions, std::shared_ptr<mcp::Subscriptions>>(m, "Announcements")
      .def("announce",
           [](mcp::Subscriptions& s, std::string_view kind, std::string_view uri, const std::string& session) -> long long {
             std::optional<mcp::Change> change = mcp::change_named(kind);
             if (!change) throw py::value_error("no change named " + std::string(kind));
             py::gil_scoped_release release;  // a stream may block (a full stdout pipe)
             if (*change == mcp::Change::kElicitationComplete) {
               std::optional<bool> delivered = s.elicitation_complete(session, uri);
               return delivered ? static_cast<long long>(*delivered) : -1;
             }
             std::optional<std::size_t> reached = s.announce(*change, uri);
             return reached ? static_cast<long long>(*reached) : -1;
           },
           py::arg("kind"), py::arg("uri") = "", py::arg("session") = "",
           "Streams it reached, or -1 when refused (a resource URI or elicitation id empty or too long). "
           "`uri` is an elicitation_complete's id, and `session` the one session it goes to.")
      .def("drop_over_limit", &mcp::Subscriptions::drop_over_limit)
      .def("listener_count", &mcp::Subscriptions::listener_count);

  py::class_<Gateway>(m, "HttpServer")
      .def(py::init<const CoreSettings&, py::object, std::shared_ptr<const policy::SandboxGrant>,
                    std::shared_ptr<metrics::Counters>, std::shared_ptr<policy::PolicyGate>,
                    std::shared_ptr<audit::AuditLog>>(),
           py::arg("settings"), py::arg("dispatcher"), py::arg("grant"), py::arg("counters") = nullptr,
           py::arg("gate") = nullptr, py::arg("audit") = nullptr)
      .def("start", &Gateway::start)
      .def("shutdown", &Gateway::shutdown)
      .def("wait", &Gateway::wait)
      .def_property_readonly("ready", &Gateway::ready)
      // The sandbox says whether calls can run: /readyz is 503 while its zygote is down.
      .def("set_backend_ready", &Gateway::set_backend_ready, py::arg("ready"))
      .def_property_readonly("session_count", &Gateway::session_count)
      .def("counters", &Gateway::counters);

  // Compiled once at load from the module's requests and the operator's defaults, ceiling and trust.
  py::class_<policy::SandboxGrant, std::shared_ptr<policy::SandboxGrant>>(m, "SandboxGrant")
      .def(py::init([](std::string_view requests_json, std::string_view defaults_json, std::string_view ceiling_json,
                       bool trust_module) {
             policy::SandboxSettings settings{policy::parse_limits(defaults_json, "the operator's defaults"),
                                              policy::parse_limits(ceiling_json, "the operator's ceiling"), trust_module};
             return std::make_shared<policy::SandboxGrant>(requests_json, settings);
           }),
           py::arg("requests_json"), py::arg("defaults_json"), py::arg("ceiling_json"), py::arg("trust_module"))
      .def("tool", [](const policy::SandboxGrant& g, std::string_view name) { return bindings::plan_tuple(g.tool(name)); })
      .def("server", [](const policy::SandboxGrant& g) { return bindings::plan_tuple(g.server()); })
      .def_property_readonly("refusals", &policy::SandboxGrant::refusals);

  // What a dispatcher's completion may report, by name: the facade's constants are tested against it.
  py::dict statuses;
  statuses["ok"] = static_cast<int>(mcp::OutcomeStatus::kOk);
  statuses["invalid_params"] = static_cast<int>(mcp::OutcomeStatus::kInvalidParams);
  statuses["resource_not_found"] = static_cast<int>(mcp::OutcomeStatus::kResourceNotFound);
  statuses["internal_error"] = static_cast<int>(mcp::OutcomeStatus::kInternalError);
  statuses["missing_client_capability"] = static_cast<int>(mcp::OutcomeStatus::kMissingClientCapability);
  statuses["cancelled"] = static_cast<int>(mcp::OutcomeStatus::kCancelled);
  statuses["shutting_down"] = static_cast<int>(mcp::OutcomeStatus::kShuttingDown);
  statuses["url_elicitation_required"] = static_cast<int>(mcp::OutcomeStatus::kUrlElicitationRequired);
  m.attr("OUTCOME_STATUS") = statuses;

  m.def("serve_stdio", &serve_stdio, py::arg("settings"), py::arg("dispatcher"), py::arg("grant"),
        py::arg("counters") = nullptr, py::arg("gate") = nullptr, py::arg("api_key") = "", py::arg("audit") = nullptr);
  // The audit trail's writer: `path` a file (opened now; reopen() after rotation) or "-" for stdout.
  py::class_<audit::AuditLog, std::shared_ptr<audit::AuditLog>>(m, "AuditLog")
      .def(py::init([](std::string path, std::size_t max_queued_lines, std::string salt,
                       std::shared_ptr<metrics::Counters> counters) {
             return std::make_shared<audit::AuditLog>(audit::AuditSettings{std::move(path), max_queued_lines, std::move(salt)},
                                                      std::make_shared<SystemWallClock>(), std::move(counters));
           }),
           py::arg("path"), py::arg("max_queued_lines"), py::arg("salt"), py::arg("counters"))
      .def("reopen", &audit::AuditLog::reopen)
      .def("flush", &audit::AuditLog::flush, py::call_guard<py::gil_scoped_release>());
}
