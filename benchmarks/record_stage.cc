// By hand, not a test: what the record stage costs one tools/call (target: metrics and audit together at most
// 2 % of an in-process call). Built with the C++ tests; measure an optimised build (the tests' is not):
//
//   cmake -S . -B build/bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DSANDGATE_BUILD_MODULE=OFF -DSANDGATE_BUILD_TESTS=ON
//   cmake --build build/bench --target record_stage_bench && build/bench/record_stage_bench [iterations]
//
// Prints the median over 15 batches of ns per call of: the record stage with counters only (as before the
// labelled families), with the families (method, outcome, tool, duration histogram), and with the families and
// an audit line (request facts with the salted argument hash, the line, the queue; the writer thread appends
// to /dev/null meanwhile).
#include <cstdio>
#include <cstdlib>
#include <string>

#include "audit/audit_line.h"
#include "audit/audit_log.h"
#include "median_ns.h"
#include "metrics/record.h"

namespace {

using namespace sandgate;
using sandgate::bench::median_ns;

}  // namespace

int main(int argc, char** argv) {
  const long iterations = argc > 1 ? std::atol(argv[1]) : 200'000;
  auto counters = std::make_shared<metrics::Counters>();
  counters->families().tools.add("add");
  SteadyClock clock;
  const std::string text = R"({"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"add","arguments":{"a":1,"b":2}}})";
  const mcp::Message request = std::get<mcp::Message>(mcp::decode_message(json::parse(text), text));
  mcp::RequestContext context;
  context.peer = "127.0.0.1:5000";
  context.principal = auth::Principal{.kind = auth::Principal::Kind::kApiKey, .name = "alice", .groups = {"eng"}};
  context.admission.tool = "add";
  context.admission.decision = "allow";
  context.admission.rule = "eng-all";
  context.admission.reason = "allowed";
  mcp::OutcomeFacts facts;
  facts.duration_s = 0.0001;

  const double counters_only = median_ns(iterations, [&] {
    counters->add(metrics::Counter::kJsonRpcRequests);  // what the stage did before the families
  });
  metrics::Recorder families(counters, clock);
  const double with_families = median_ns(iterations, [&] {
    context.started = families.now();
    families.record(context, "tools/call", std::nullopt, facts);
  });
  auto audit = std::make_shared<audit::AuditLog>(audit::AuditSettings{"/dev/null", 1'000'000, "salt"},
                                                 std::make_shared<SystemWallClock>(), counters);
  metrics::Recorder audited(counters, clock, audit);
  const double with_audit = median_ns(iterations, [&] {
    context.started = audited.now();
    const audit::RequestFacts request_facts = audit::request_facts(*audit, request, context);
    audited.record(context, "tools/call", std::nullopt, facts, &request_facts);
  });
  audit->flush();
  std::printf("record stage per tools/call: counters only %.0f ns, + families %.0f ns, + audit line %.0f ns\n",
              counters_only, with_families, with_audit);
  std::printf("audit lines written %llu, dropped %llu\n",
              static_cast<unsigned long long>(counters->get(metrics::Counter::kAuditLinesWritten)),
              static_cast<unsigned long long>(counters->get(metrics::Counter::kAuditLinesDropped)));
  return 0;
}
