#pragma once
// The record stage: what each request's end adds to the counters (the audit line joins it later).
#include <memory>
#include <optional>
#include <string_view>

#include "audit/audit_line.h"
#include "audit/audit_log.h"
#include "common/clock.h"
#include "metrics/counters.h"
#include "mcp/errors.h"
#include "mcp/outcome_facts.h"
#include "mcp/request_context.h"

namespace sandgate::metrics {

class Recorder {
 public:
  // Durations are read on `clock` (a request's `started` is its reading when the request entered the path); with
  // `audit`, each call and refusal also gets its audit line.
  explicit Recorder(std::shared_ptr<Counters> counters, const Clock& clock = default_clock(),
                    std::shared_ptr<audit::AuditLog> audit = nullptr)
      : counters_(std::move(counters)), clock_(clock), audit_(std::move(audit)) {}
  virtual ~Recorder() = default;
  // Thread-safe. `failure` is what the request was answered with, if it failed; `facts` how its call ended;
  // `request` what the audit line says of the request (null when not auditing).
  virtual void record(const mcp::RequestContext& context, std::string_view method, std::optional<mcp::Failure> failure,
                      const mcp::OutcomeFacts& facts, const audit::RequestFacts* request = nullptr);
  // The authenticate stage refused a delivery from `who` for `reason` (a stable code).
  void record_auth_failure(const mcp::RequestContext& who, std::string_view reason);
  const audit::AuditLog* audit() const { return audit_.get(); }
  Clock::time_point now() const { return clock_.now(); }
  Counters& counters() { return *counters_; }

 private:
  static const Clock& default_clock();
  const std::shared_ptr<Counters> counters_;
  const Clock& clock_;
  const std::shared_ptr<audit::AuditLog> audit_;
};

}  // namespace sandgate::metrics
