#include <gtest/gtest.h>

#include <memory>

#include "mcp/dispatcher.h"

namespace sandgate::mcp {
namespace {

TEST(CancelToken, CancelRunsTheHookOnce) {
  CancelToken token;
  int runs = 0;
  token.on_cancel([&] { ++runs; });
  token.cancel();
  token.cancel();
  EXPECT_TRUE(token.cancelled());
  EXPECT_EQ(runs, 1);
}

TEST(CancelToken, AHookSetAfterCancellingRunsAtOnce) {
  CancelToken token;
  token.cancel();
  int runs = 0;
  token.on_cancel([&] { ++runs; });
  EXPECT_EQ(runs, 1);
}

TEST(CancelToken, TakenHookNeverRunsAndItsCapturesGoWithTheCaller) {
  CancelToken token;
  auto held = std::make_shared<int>(7);
  int runs = 0;
  token.on_cancel([held, &runs] { ++runs; });
  EXPECT_EQ(held.use_count(), 2);
  {
    auto hook = token.take_hook();
    ASSERT_TRUE(hook);
    EXPECT_EQ(held.use_count(), 2);  // now in the caller's hands, not the token's
  }
  EXPECT_EQ(held.use_count(), 1);  // released where the caller dropped it
  token.cancel();
  EXPECT_EQ(runs, 0);
  EXPECT_FALSE(token.take_hook());
}

}  // namespace
}  // namespace sandgate::mcp
