#include "mcp/in_flight.h"

#include <gtest/gtest.h>

namespace sandgate::mcp {
namespace {

TEST(InFlight, CancelReachesOnlyTheScopeAndIdGiven) {
  InFlight in_flight;
  auto a = std::make_shared<CancelToken>(), b = std::make_shared<CancelToken>(), c = std::make_shared<CancelToken>();
  in_flight.start("s1", json::value(1), a);
  in_flight.start("s1", json::value("1"), b);
  in_flight.start("s2", json::value(1), c);
  EXPECT_TRUE(in_flight.cancel("s1", json::value("1")));
  EXPECT_TRUE(b->cancelled());
  EXPECT_FALSE(a->cancelled());
  EXPECT_FALSE(c->cancelled());
  EXPECT_FALSE(in_flight.cancel("s3", json::value(1)));
  EXPECT_FALSE(in_flight.cancel("s1", json::value(2)));
}

// The newest request owns a reused id; the older one finishing must not make it uncancellable.
TEST(InFlight, AReusedIdBelongsToTheNewestRequest) {
  InFlight in_flight;
  auto older = std::make_shared<CancelToken>(), newer = std::make_shared<CancelToken>();
  const InFlight::Entry first = in_flight.start("s", json::value(7), older);
  const InFlight::Entry second = in_flight.start("s", json::value(7), newer);
  in_flight.finish(first);
  EXPECT_EQ(in_flight.size(), 1u);
  EXPECT_TRUE(in_flight.cancel("s", json::value(7)));
  EXPECT_TRUE(newer->cancelled());
  EXPECT_FALSE(older->cancelled());
  in_flight.finish(second);
  EXPECT_EQ(in_flight.size(), 0u);
}

TEST(InFlight, FinishedRequestsCannotBeCancelled) {
  InFlight in_flight;
  auto token = std::make_shared<CancelToken>();
  in_flight.finish(in_flight.start("s", json::value(1), token));
  EXPECT_FALSE(in_flight.cancel("s", json::value(1)));
  EXPECT_FALSE(token->cancelled());
}

}  // namespace
}  // namespace sandgate::mcp
