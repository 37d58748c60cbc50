#include "metrics/record.h"

namespace sandgate::metrics {

void Recorder::record(const mcp::RequestContext&, std::string_view, std::optional<mcp::Failure> failure,
                      const mcp::OutcomeFacts& facts) {
  counters_->add(Counter::kJsonRpcRequests);
  // A tool that raised ran to its end; every other reason is the sandbox stopping the call.
  if (!facts.reason.empty() && facts.reason != "tool_error") counters_->add(Counter::kSandboxCallsStopped);
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
