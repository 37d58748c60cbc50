#include "mcp/session_table.h"

#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <vector>
#include <string>

namespace sandgate::mcp {
namespace {

using std::chrono::nanoseconds;
using namespace std::chrono_literals;

constexpr std::chrono::milliseconds kIdle = 30s;

bool is_lower_hex_id(const std::string& id) {
  if (id.size() != 32) return false;
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

SessionRecord record(std::string version = "2025-06-18") { return SessionRecord{std::move(version), "{}", "", false}; }

TEST(SessionTable, IdsAre32LowercaseHexAndUnique) {
  ManualClock clock;
  SessionTable table({10'000, kIdle}, clock);
  std::set<std::string> ids;
  for (int i = 0; i < 10'000; ++i) {
    auto id = table.open(record());
    ASSERT_TRUE(id.has_value()) << "open #" << i;
    ASSERT_TRUE(is_lower_hex_id(*id)) << *id;
    ids.insert(*id);
  }
  EXPECT_EQ(ids.size(), 10'000u);
  EXPECT_EQ(table.size(), 10'000u);
  EXPECT_EQ(table.counters().get(metrics::Counter::kSessionsOpened), 10'000u);
  // The bound holds at the default size too.
  EXPECT_EQ(table.open(record()), std::nullopt);
}

TEST(SessionTable, RandomIdIsNotConstant) {
  const std::string a = random_session_id(), b = random_session_id();
  EXPECT_TRUE(is_lower_hex_id(a));
  EXPECT_NE(a, b);
}

TEST(SessionTable, OpenFailsWhenFullOfLiveSessions) {
  ManualClock clock;
  SessionTable table({3, kIdle}, clock);
  std::string first;
  for (int i = 0; i < 3; ++i) {
    auto id = table.open(record());
    ASSERT_TRUE(id);
    if (i == 0) first = *id;
  }
  EXPECT_EQ(table.open(record()), std::nullopt);
  EXPECT_EQ(table.open(record()), std::nullopt);
  EXPECT_EQ(table.size(), 3u);
  EXPECT_EQ(table.counters().get(metrics::Counter::kSessionsRejectedFull), 2u);

  ASSERT_TRUE(table.close(first));
  EXPECT_TRUE(table.open(record()).has_value());
  EXPECT_EQ(table.size(), 3u);
}

TEST(SessionTable, AnExpiredSessionFreesASlot) {
  ManualClock clock;
  SessionTable table({2, kIdle}, clock);
  const auto old_id = table.open(record());
  clock.advance(10s);
  const auto young_id = table.open(record());
  ASSERT_TRUE(old_id && young_id);

  // At exactly the idle timeout the old session is still alive, so the table is still full.
  clock.advance(kIdle - 10s);
  EXPECT_EQ(table.open(record()), std::nullopt);
  EXPECT_EQ(table.counters().get(metrics::Counter::kSessionsExpired), 0u);

  clock.advance(nanoseconds(1));
  const auto fresh_id = table.open(record());
  ASSERT_TRUE(fresh_id.has_value());
  EXPECT_EQ(table.counters().get(metrics::Counter::kSessionsExpired), 1u);
  EXPECT_EQ(table.size(), 2u);
  EXPECT_FALSE(table.touch(*old_id).has_value());
  EXPECT_TRUE(table.touch(*young_id).has_value());
  EXPECT_TRUE(table.touch(*fresh_id).has_value());
}

TEST(SessionTable, IdleExpiryIsExactToTheNanosecond) {
  ManualClock clock;
  SessionTable table({10, kIdle}, clock);
  ASSERT_TRUE(table.open(record()));
  clock.advance(kIdle - nanoseconds(1));
  EXPECT_EQ(table.sweep_expired(), 0u);
  EXPECT_EQ(table.size(), 1u);
  clock.advance(nanoseconds(1));
  EXPECT_EQ(table.sweep_expired(), 0u);
  clock.advance(nanoseconds(1));
  EXPECT_EQ(table.sweep_expired(), 1u);
  EXPECT_EQ(table.size(), 0u);
  EXPECT_EQ(table.counters().get(metrics::Counter::kSessionsExpired), 1u);
}

TEST(SessionTable, TouchSeesExpiryAtTimeoutPlusOne) {
  ManualClock clock;
  SessionTable table({10, kIdle}, clock);
  const auto alive = table.open(record());
  const auto dead = table.open(record());
  ASSERT_TRUE(alive && dead);
  clock.advance(kIdle - nanoseconds(1));
  EXPECT_TRUE(table.touch(*alive).has_value());
  clock.advance(nanoseconds(2));  // dead has idled timeout + 1 ns, alive only 2 ns
  EXPECT_FALSE(table.touch(*dead).has_value());
  EXPECT_TRUE(table.touch(*alive).has_value());
  EXPECT_FALSE(table.contains(*dead));
  EXPECT_EQ(table.counters().get(metrics::Counter::kSessionsExpired), 1u);
  EXPECT_EQ(table.size(), 1u);
}

TEST(SessionTable, TouchRefreshesTheIdleTimer) {
  ManualClock clock;
  SessionTable table({10, kIdle}, clock);
  const auto id = table.open(record());
  ASSERT_TRUE(id);
  for (int i = 0; i < 5; ++i) {
    clock.advance(kIdle);
    ASSERT_TRUE(table.touch(*id).has_value()) << "touch #" << i;
  }
  clock.advance(kIdle + nanoseconds(1));
  EXPECT_FALSE(table.touch(*id).has_value());
}

TEST(SessionTable, ClosedSessionsAreGone) {
  ManualClock clock;
  SessionTable table({10, kIdle}, clock);
  const auto id = table.open(record());
  ASSERT_TRUE(id);
  EXPECT_TRUE(table.close(*id));
  EXPECT_FALSE(table.touch(*id).has_value());
  EXPECT_FALSE(table.contains(*id));
  EXPECT_FALSE(table.close(*id));
  EXPECT_FALSE(table.update(*id, record()));
  EXPECT_EQ(table.counters().get(metrics::Counter::kSessionsClosed), 1u);
  EXPECT_EQ(table.size(), 0u);
}

TEST(SessionTable, UnknownIdsAreNotFound) {
  ManualClock clock;
  SessionTable table({10, kIdle}, clock);
  const auto id = table.open(record());
  ASSERT_TRUE(id);
  std::string near = *id;
  near.back() = near.back() == '0' ? '1' : '0';
  for (const std::string& other : {near, std::string(), id->substr(1), *id + "0"}) {
    SCOPED_TRACE(other);
    EXPECT_FALSE(table.touch(other).has_value());
    EXPECT_FALSE(table.close(other));
  }
  EXPECT_TRUE(table.touch(*id).has_value());
}

TEST(SessionTable, TouchReturnsTheStoredRecordAndUpdateReplacesIt) {
  ManualClock clock;
  SessionTable table({10, kIdle}, clock);
  const auto id = table.open(SessionRecord{"2025-03-26", R"({"roots":{}})", "", false});
  ASSERT_TRUE(id);
  auto seen = table.touch(*id);
  ASSERT_TRUE(seen);
  EXPECT_EQ(seen->protocol_version, "2025-03-26");
  EXPECT_EQ(seen->client_capabilities_json, R"({"roots":{}})");
  EXPECT_FALSE(seen->initialized);

  seen->initialized = true;
  seen->log_level = "debug";
  EXPECT_TRUE(table.update(*id, *seen));
  auto again = table.touch(*id);
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->initialized);
  EXPECT_EQ(again->log_level, "debug");
}

TEST(SessionTable, CountersTrackEveryExit) {
  ManualClock clock;
  SessionTable table({2, kIdle}, clock);
  const auto a = table.open(record());
  const auto b = table.open(record());
  ASSERT_TRUE(a && b);
  EXPECT_FALSE(table.open(record()));
  EXPECT_TRUE(table.close(*a));
  clock.advance(kIdle + nanoseconds(1));
  EXPECT_EQ(table.sweep_expired(), 1u);
  const metrics::Counters& c = table.counters();
  EXPECT_EQ(c.get(metrics::Counter::kSessionsOpened), 2u);
  EXPECT_EQ(c.get(metrics::Counter::kSessionsClosed), 1u);
  EXPECT_EQ(c.get(metrics::Counter::kSessionsExpired), 1u);
  EXPECT_EQ(c.get(metrics::Counter::kSessionsRejectedFull), 1u);
}

TEST(SessionTable, ZeroCapacityRejectsEverything) {
  ManualClock clock;
  SessionTable table({0, kIdle}, clock);
  EXPECT_EQ(table.open(record()), std::nullopt);
  EXPECT_EQ(table.counters().get(metrics::Counter::kSessionsRejectedFull), 1u);
  EXPECT_EQ(table.counters().get(metrics::Counter::kSessionsOpened), 0u);
}

TEST(SessionTableExpiryNotice, ExpiredSessionsAreReportedOnceBySweepAndByTouch) {
  ManualClock clock;
  SessionTable table({10, std::chrono::seconds(5)}, clock);
  std::vector<std::string> reported;
  table.set_on_expired([&reported](const std::string& id) { reported.push_back(id); });
  const std::string swept = *table.open({});
  const std::string touched = *table.open({});
  clock.advance(std::chrono::seconds(4));
  ASSERT_TRUE(table.touch(touched).has_value());  // refreshed: expires 4 s later than `swept`
  clock.advance(std::chrono::seconds(2));
  EXPECT_EQ(table.sweep_expired(), 1u);
  EXPECT_EQ(reported, std::vector<std::string>{swept});
  clock.advance(std::chrono::seconds(4));
  EXPECT_FALSE(table.touch(touched).has_value());
  EXPECT_EQ(reported, (std::vector<std::string>{swept, touched}));
  EXPECT_EQ(table.sweep_expired(), 0u);
  EXPECT_EQ(reported.size(), 2u);
}

TEST(SessionTableExpiryNotice, ClosedSessionsAreNotReportedAsExpired) {
  ManualClock clock;
  SessionTable table({10, std::chrono::seconds(5)}, clock);
  int reports = 0;
  table.set_on_expired([&reports](const std::string&) { ++reports; });
  const std::string id = *table.open({});
  EXPECT_TRUE(table.close(id));
  clock.advance(std::chrono::seconds(6));
  EXPECT_EQ(table.sweep_expired(), 0u);
  EXPECT_EQ(reports, 0);
}

}  // namespace
}  // namespace sandgate::mcp
