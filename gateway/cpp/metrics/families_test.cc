#include "metrics/families.h"

#include <gtest/gtest.h>

#include "metrics/record.h"

namespace sandgate::metrics {
namespace {

using namespace std::chrono_literals;

std::uint64_t in_bucket(const Histogram::Snapshot& snapshot, std::size_t bucket) {
  return snapshot.cumulative[bucket] - (bucket == 0 ? 0 : snapshot.cumulative[bucket - 1]);
}

TEST(HistogramTest, AValueLandsInTheFirstBucketWhoseBoundHoldsIt) {
  Histogram histogram;
  histogram.observe(100us);   // exactly the first bound: le="0.0001"
  histogram.observe(101us);   // le="0.00025"
  histogram.observe(2s);      // le="2.5"
  histogram.observe(61s);     // +Inf
  const Histogram::Snapshot snapshot = histogram.snapshot();
  EXPECT_EQ(in_bucket(snapshot, 0), 1u);
  EXPECT_EQ(in_bucket(snapshot, 1), 1u);
  EXPECT_EQ(in_bucket(snapshot, 13), 1u);
  EXPECT_EQ(kDurationBuckets[13], 2.5);
  EXPECT_EQ(in_bucket(snapshot, kDurationBuckets.size()), 1u);
  EXPECT_EQ(snapshot.cumulative.back(), 4u);
  EXPECT_DOUBLE_EQ(snapshot.sum_s, 63.000201);
}

TEST(LabelsTest, KnownValuesKeepTheirIndexAndEverythingElseIsOther) {
  Labels labels(3, {"a", "b"});
  const std::size_t a = labels.find("a");
  EXPECT_NE(a, labels.capacity());
  EXPECT_EQ(labels.add("a"), a);
  EXPECT_EQ(labels.find("c"), labels.capacity());  // finding never adds
  const std::size_t c = labels.add("c");
  EXPECT_NE(c, labels.capacity());
  EXPECT_EQ(labels.add("d"), labels.capacity());  // full: other
  EXPECT_EQ(labels.known().size(), 4u);
  EXPECT_EQ(labels.known().back().second, "other");
}

TEST(RecorderTest, EachRequestIsCountedByMethodOutcomeToolAndSandboxStop) {
  ManualClock clock;
  auto counters = std::make_shared<Counters>();
  counters->families().tools.add("add");
  Recorder recorder(counters, clock);
  Families& f = counters->families();

  mcp::RequestContext call;
  call.admission.tool = "add";
  call.started = recorder.now();
  clock.advance(3ms);
  recorder.record(call, "tools/call", std::nullopt, mcp::OutcomeFacts{});
  mcp::OutcomeFacts seccomp;
  seccomp.reason = "seccomp";
  seccomp.sandbox_json = R"({"syscall":"execve","signal":31})";
  recorder.record(call, "tools/call", std::nullopt, seccomp);
  mcp::RequestContext made_up;
  made_up.admission.tool = "no-such-tool";
  recorder.record(made_up, "tools/call", mcp::Failure::kInvalidParams, mcp::OutcomeFacts{});
  recorder.record(mcp::RequestContext{}, "x/unknown", mcp::Failure::kMethodNotFound, mcp::OutcomeFacts{});

  const std::size_t add = f.tools.find("add");
  EXPECT_EQ(f.tool_calls.get(add, f.tool_outcomes.find("ok")), 1u);
  EXPECT_EQ(f.tool_calls.get(add, f.tool_outcomes.find("seccomp")), 1u);
  EXPECT_EQ(f.tool_calls.get(f.tools.capacity(), f.tool_outcomes.find("invalid_params")), 1u);  // "other"
  EXPECT_EQ(f.tool_durations[add].snapshot().cumulative.back(), 2u);
  EXPECT_EQ(in_bucket(f.tool_durations[add].snapshot(), 5), 2u);  // 3 ms: le="0.005"
  EXPECT_EQ(f.jsonrpc_requests.get(f.methods.find("tools/call"), f.outcomes.find("ok")), 2u);
  EXPECT_EQ(f.jsonrpc_requests.get(f.methods.capacity(), f.outcomes.find("method_not_found")), 1u);
  EXPECT_EQ(f.sandbox_stops.get(f.stop_reasons.find("seccomp"), 0), 1u);
  EXPECT_EQ(f.seccomp_violations.get(f.syscalls.find("execve"), 0), 1u);
  EXPECT_EQ(counters->get(Counter::kSandboxCallsStopped), 1u);

  recorder.record_auth_failure(mcp::RequestContext{}, "expired");
  recorder.record_auth_failure(mcp::RequestContext{}, "expired");
  EXPECT_EQ(f.auth_failures.get(f.auth_reasons.find("expired"), 0), 2u);
  EXPECT_EQ(counters->get(Counter::kAuthFailures), 2u);
}

}  // namespace
}  // namespace sandgate::metrics
