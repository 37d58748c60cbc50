#include "mcp/outcome_facts.h"

#include <gtest/gtest.h>

namespace sandgate::mcp {
namespace {

TEST(OutcomeFacts, EveryFactIsRead) {
  const OutcomeFacts facts = parse_outcome_facts(
      R"({"reason":"memory","duration_s":0.25,"cpu_time_s":0.125,"peak_memory_bytes":1048576,)"
      R"("isolation":"per_call","sandbox":{"signal":"SIGKILL"}})");
  EXPECT_EQ(facts.reason, "memory");
  EXPECT_EQ(facts.duration_s, 0.25);
  EXPECT_EQ(facts.cpu_time_s, 0.125);
  EXPECT_EQ(facts.peak_memory_bytes, 1048576);
  EXPECT_EQ(facts.isolation, "per_call");
  EXPECT_EQ(facts.sandbox_json, R"({"signal":"SIGKILL"})");
}

TEST(OutcomeFacts, WhatIsMissingOrMalformedStaysUnknown) {
  EXPECT_EQ(parse_outcome_facts(""), OutcomeFacts{});
  EXPECT_EQ(parse_outcome_facts("[1]"), OutcomeFacts{});
  EXPECT_EQ(parse_outcome_facts("{\"reason\":"), OutcomeFacts{});
  const OutcomeFacts facts = parse_outcome_facts(
      R"({"reason":7,"duration_s":"slow","cpu_time_s":-1,"peak_memory_bytes":1.5,"sandbox":"x","extra":true})");
  EXPECT_EQ(facts, OutcomeFacts{});
}

}  // namespace
}  // namespace sandgate::mcp
