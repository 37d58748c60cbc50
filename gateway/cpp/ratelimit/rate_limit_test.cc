#include "ratelimit/rate_limit.h"

#include <gtest/gtest.h>

namespace sandgate::ratelimit {
namespace {

Limited limited(std::chrono::milliseconds retry_after, std::string policy = "per-user") {
  return Limited{RateLimitError::kExhausted, retry_after, std::move(policy), 60, 60, 0, 12};
}

TEST(RateLimitFault, RetryAfterRoundsUpToWholeSecondsAndNeverSaysNow) {
  EXPECT_EQ(to_fault(limited(std::chrono::milliseconds(0))).detail.retry_after_s, 1);
  EXPECT_EQ(to_fault(limited(std::chrono::milliseconds(1000))).detail.retry_after_s, 1);
  EXPECT_EQ(to_fault(limited(std::chrono::milliseconds(1001))).detail.retry_after_s, 2);
  EXPECT_EQ(to_fault(limited(std::chrono::milliseconds(-5))).data_json,
            R"({"retryAfterMs":0,"limit":60,"policy":"per-user"})");
}

TEST(RateLimitFault, FieldsFollowTheStructuredHeaderDraft) {
  const mcp::Fault fault = to_fault(limited(std::chrono::milliseconds(2500)));
  EXPECT_EQ(fault.kind, mcp::Failure::kRateLimited);
  EXPECT_EQ(fault.detail.rate_limit_policy, R"("per-user";q=60;w=60)");
  EXPECT_EQ(fault.detail.rate_limit, R"("per-user";r=0;t=12)");
  EXPECT_EQ(fault.data_json, R"({"retryAfterMs":2500,"limit":60,"policy":"per-user"})");
  // A name cannot break out of its string, nor a control character into a header.
  EXPECT_EQ(to_fault(limited(std::chrono::milliseconds(1), "a\"b\\c\r\nd")).detail.rate_limit_policy,
            R"("a\"b\\cd";q=60;w=60)");
}

}  // namespace
}  // namespace sandgate::ratelimit
