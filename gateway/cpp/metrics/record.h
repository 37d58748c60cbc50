#pragma once
// The record stage: what each request's end adds to the counters (the audit line joins it later).
#include <memory>
#include <optional>
#include <string_view>

#include "metrics/counters.h"
#include "mcp/errors.h"
#include "mcp/outcome_facts.h"
#include "mcp/request_context.h"

namespace sandgate::metrics {

class Recorder {
 public:
  explicit Recorder(std::shared_ptr<Counters> counters) : counters_(std::move(counters)) {}
  virtual ~Recorder() = default;
  // Thread-safe. `failure` is what the request was answered with, if it failed; `facts` how its call ended.
  virtual void record(const mcp::RequestContext& context, std::string_view method, std::optional<mcp::Failure> failure,
                      const mcp::OutcomeFacts& facts);
  Counters& counters() { return *counters_; }

 private:
  const std::shared_ptr<Counters> counters_;
};

}  // namespace sandgate::metrics
