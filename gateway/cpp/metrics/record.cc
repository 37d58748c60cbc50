#include "metrics/record.h"

#include "common/json.h"

namespace sandgate::metrics {
namespace {

// The syscall a seccomp stop names, as the runner resolved it from the kernel's table; a bare number (one the
// table lacks) is not a label.
std::string_view stopped_syscall(const json::value& sandbox) {
  const json::object* details = sandbox.if_object();
  const json::value* syscall = details != nullptr ? details->if_contains("syscall") : nullptr;
  return syscall != nullptr && syscall->is_string() ? std::string_view(syscall->get_string()) : "unknown";
}

// The thread's buffer an audit line is written into, emptied: its capacity stays, so a line costs no allocation.
std::string& line_buffer() {
  thread_local std::string buffer;
  buffer.clear();
  return buffer;
}

}  // namespace

const Clock& Recorder::default_clock() {
  static const SteadyClock clock;  // stateless: sharing it shares nothing
  return clock;
}

void Recorder::record_auth_failure(const mcp::RequestContext& who, std::string_view reason) {
  counters_->add(Counter::kAuthFailures);
  Families& families = counters_->families();
  families.auth_failures.add(families.auth_reasons.add(reason), 0);
  if (audit_) {
    std::string& line = line_buffer();
    audit::append_auth_failure_line(line, *audit_, who, reason);
    audit_->write(line);
  }
}

void Recorder::record(const mcp::RequestContext& context, std::string_view method, std::optional<mcp::Failure> failure,
                      const mcp::OutcomeFacts& facts, const audit::RequestFacts* request) {
  counters_->add(Counter::kJsonRpcRequests);
  const bool timed = context.started != Clock::time_point{};
  const std::chrono::nanoseconds elapsed = timed ? clock_.now() - context.started : std::chrono::nanoseconds(0);
  if (audit_ && request != nullptr && audit::audited(method, failure)) {
    const std::optional<double> duration_ms =
        timed ? std::optional<double>(std::chrono::duration<double, std::milli>(elapsed).count()) : std::nullopt;
    std::string& line = line_buffer();
    audit::append_request_line(line, *audit_, context, method, *request, failure, facts, duration_ms);
    audit_->write(line);
  }
  Families& families = counters_->families();
  const std::string_view outcome = failure ? std::string_view(mcp::failure_name(*failure)) : std::string_view("ok");
  families.jsonrpc_requests.add(families.methods.find(method), families.outcomes.find(outcome));
  // A tool that raised ran to its end; every other reason is the sandbox stopping the call.
  const bool stopped = !facts.reason.empty() && facts.reason != "tool_error";
  if (stopped) {
    counters_->add(Counter::kSandboxCallsStopped);
    families.sandbox_stops.add(families.stop_reasons.find(facts.reason), 0);
    if (facts.reason == "seccomp" && !facts.sandbox_json.empty()) {
      try {
        families.seccomp_violations.add(families.syscalls.add(stopped_syscall(json::parse(facts.sandbox_json))), 0);
      } catch (const std::exception&) {
        families.seccomp_violations.add(families.syscalls.add("unknown"), 0);
      }
    }
  }
  if (method == "tools/call" && !context.admission.tool.empty()) {
    const std::size_t tool = families.tools.find(context.admission.tool);
    const std::string_view tool_outcome = failure ? outcome : facts.reason.empty() ? "ok" : std::string_view(facts.reason);
    families.tool_calls.add(tool, families.tool_outcomes.find(tool_outcome));
    if (timed) families.tool_durations[tool].observe(elapsed);
  }
  if (!failure) return;
  counters_->add(Counter::kJsonRpcRequestsFailed);
  switch (*failure) {
    case mcp::Failure::kCancelled: counters_->add(Counter::kJsonRpcRequestsCancelled); break;
    case mcp::Failure::kForbidden: counters_->add(Counter::kPolicyDenials); break;
    case mcp::Failure::kRateLimited: counters_->add(Counter::kRateLimited); break;
    default: break;
  }
}

}  // namespace sandgate::metrics
