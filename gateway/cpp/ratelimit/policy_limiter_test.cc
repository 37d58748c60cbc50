#include "ratelimit/policy_limiter.h"

#include <gtest/gtest.h>

namespace sandgate::ratelimit {
namespace {

using namespace std::chrono_literals;

policy::RateLimitSpec spec(std::vector<policy::RateKeyPart> key, Rate rate = Rate{2, 1s, 2}) {
  return policy::RateLimitSpec{"per-x", std::move(key), rate};
}

auth::Principal key_holder(std::string name, std::vector<std::string> groups = {}) {
  return auth::Principal{.kind = auth::Principal::Kind::kApiKey, .name = std::move(name), .groups = std::move(groups)};
}

class PolicyLimiterTest : public testing::Test {
 protected:
  // Admitted calls before the first refusal.
  int admitted(const policy::RateLimitSpec& limit, const auth::Principal& who, std::string_view tool = "add",
               std::string_view peer = "127.0.0.1:1000") {
    int count = 0;
    while (!limiter_.admit(limit, who, tool, peer) && count < 100) ++count;
    return count;
  }
  ManualClock clock_;
  PolicyLimiter limiter_{clock_, 1024, std::make_shared<metrics::Counters>()};
};

TEST_F(PolicyLimiterTest, EachKeyPartSeparatesBuckets) {
  const auto by_principal = spec({policy::RateKeyPart::kPrincipal});
  EXPECT_EQ(admitted(by_principal, key_holder("alice")), 2);
  EXPECT_EQ(admitted(by_principal, key_holder("bob")), 2);
  EXPECT_EQ(admitted(by_principal, key_holder("alice"), "other-tool", "10.0.0.1:9"), 0);

  const auto by_tool = spec({policy::RateKeyPart::kPrincipal, policy::RateKeyPart::kTool});
  EXPECT_EQ(admitted(by_tool, key_holder("alice"), "a"), 2);
  EXPECT_EQ(admitted(by_tool, key_holder("alice"), "b"), 2);

  const auto by_client = spec({policy::RateKeyPart::kClient});
  EXPECT_EQ(admitted(by_client, auth::Principal{}, "add", "10.0.0.1:1"), 2);
  EXPECT_EQ(admitted(by_client, auth::Principal{}, "add", "10.0.0.1:2"), 0);  // same address, another connection
  EXPECT_EQ(admitted(by_client, auth::Principal{}, "add", "[2001:db8::1]:2"), 2);

  const auto by_group = spec({policy::RateKeyPart::kGroup});
  EXPECT_EQ(admitted(by_group, key_holder("a", {"eng", "sre"})), 2);
  EXPECT_EQ(admitted(by_group, key_holder("b", {"eng"})), 0);  // the group's members share it
}

TEST_F(PolicyLimiterTest, AnAnonymousCallerNeverSharesABucketWithAPrincipalNamedAnonymous) {
  const auto by_principal = spec({policy::RateKeyPart::kPrincipal});
  EXPECT_EQ(admitted(by_principal, auth::Principal{}), 2);
  EXPECT_EQ(admitted(by_principal, key_holder("anonymous")), 2);
}

TEST_F(PolicyLimiterTest, ARefusalSaysWhenToRetryAndWhatTheLimitIs) {
  const auto limit = spec({policy::RateKeyPart::kPrincipal}, Rate{60, 60s, 20});
  EXPECT_EQ(admitted(limit, key_holder("alice")), 20);
  clock_.advance(250ms);
  const std::optional<Limited> refused = limiter_.admit(limit, key_holder("alice"), "add", "x");
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->retry_after, 750ms);
  EXPECT_EQ(refused->policy, "per-x");
  EXPECT_EQ(refused->quota, 60u);
  EXPECT_EQ(refused->window_s, 60);
  EXPECT_EQ(refused->remaining, 0u);
  EXPECT_EQ(refused->reset_s, 20);  // 19.75 s until the bucket holds 20 again, rounded up
  clock_.advance(750ms);
  EXPECT_FALSE(limiter_.admit(limit, key_holder("alice"), "add", "x").has_value());
}

TEST(PeerAddress, DropsThePort) {
  EXPECT_EQ(mcp::peer_address("127.0.0.1:5"), "127.0.0.1");
  EXPECT_EQ(mcp::peer_address("[::1]:5"), "::1");
  EXPECT_EQ(mcp::peer_address("stdio"), "stdio");
}

}  // namespace
}  // namespace sandgate::ratelimit
