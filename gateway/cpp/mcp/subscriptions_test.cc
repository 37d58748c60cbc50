// Resource subscriptions and list changes: who hears what, the bounds, and what ends a subscription.
#include "mcp/subscriptions.h"

#include <gtest/gtest.h>

#include <string>

#include "mcp/recording_sink_test.h"

namespace sandgate::mcp {
namespace {

struct Fixture {
  std::shared_ptr<metrics::Counters> counters = std::make_shared<metrics::Counters>();
  Subscriptions subscriptions{SubscriptionLimits{2, 32, 2}, counters};
  std::uint64_t counted(metrics::Counter counter) const { return counters->get(counter); }
};

ListenFilter filter_of(std::string_view text, Subscriptions& subscriptions) {
  json::value value = json::parse(text);
  auto filter = subscriptions.listen_filter(&value);
  EXPECT_TRUE(std::holds_alternative<ListenFilter>(filter)) << text;
  return std::get<ListenFilter>(filter);
}

TEST(Changes, HaveTheirNamesAndNotificationMethods) {
  EXPECT_EQ(change_named("resource_updated"), Change::kResourceUpdated);
  EXPECT_EQ(change_named("tools_list_changed"), Change::kToolsListChanged);
  EXPECT_EQ(change_named("prompts_list_changed"), Change::kPromptsListChanged);
  EXPECT_EQ(change_named("resources_list_changed"), Change::kResourcesListChanged);
  EXPECT_EQ(change_named("tools/list_changed"), std::nullopt);
  EXPECT_EQ(notification_method(Change::kToolsListChanged), "notifications/tools/list_changed");
  EXPECT_EQ(change_notification(Change::kResourceUpdated, "file:///a\"b"),
            R"({"jsonrpc":"2.0","method":"notifications/resources/updated","params":{"uri":"file:///a\"b"}})");
  EXPECT_EQ(change_notification(Change::kPromptsListChanged, "", "7"),
            R"({"jsonrpc":"2.0","method":"notifications/prompts/list_changed","params":{"_meta":{)"
            R"("io.modelcontextprotocol/subscriptionId":7}}})");
}

TEST(Subscriptions, AResourceUpdateReachesOnlyTheSessionsSubscribedToThatUri) {
  Fixture f;
  auto a = std::make_shared<RecordingSink>();
  auto b = std::make_shared<RecordingSink>();
  f.subscriptions.attach("a", a);
  f.subscriptions.attach("b", b);
  EXPECT_EQ(f.subscriptions.subscribe("a", "test://x"), std::nullopt);
  EXPECT_EQ(f.subscriptions.subscribe("a", "test://x"), std::nullopt);  // again: still one
  EXPECT_EQ(f.subscriptions.subscribe("b", "test://y"), std::nullopt);
  EXPECT_EQ(f.subscriptions.announce(Change::kResourceUpdated, "test://x"), 1u);
  ASSERT_EQ(a->messages().size(), 1u);
  EXPECT_EQ(json::parse(a->messages()[0]).at("params").at("uri"), "test://x");
  EXPECT_TRUE(b->messages().empty());
  f.subscriptions.unsubscribe("a", "test://x");
  EXPECT_EQ(f.subscriptions.announce(Change::kResourceUpdated, "test://x"), 0u);
  EXPECT_EQ(f.counted(metrics::Counter::kAnnouncementsSent), 1u);
}

TEST(Subscriptions, AListChangeReachesEverySessionWithAStream) {
  Fixture f;
  auto a = std::make_shared<RecordingSink>();
  f.subscriptions.attach("a", a);
  EXPECT_EQ(f.subscriptions.subscribe("no-stream", "test://x"), std::nullopt);
  EXPECT_EQ(f.subscriptions.announce(Change::kToolsListChanged), 1u);
  ASSERT_EQ(a->messages().size(), 1u);
  EXPECT_EQ(a->messages()[0], R"({"jsonrpc":"2.0","method":"notifications/tools/list_changed","params":{}})");
  EXPECT_EQ(f.subscriptions.announce(Change::kResourceUpdated, "test://x"), 0u);
  EXPECT_EQ(f.counted(metrics::Counter::kAnnouncementsUndeliverable), 2u);  // a session without a stream, twice
}

TEST(Subscriptions, BoundsEachSessionsUrisAndTheirLength) {
  Fixture f;
  EXPECT_EQ(f.subscriptions.subscribe("a", "test://1"), std::nullopt);
  EXPECT_EQ(f.subscriptions.subscribe("a", "test://2"), std::nullopt);
  auto over = f.subscriptions.subscribe("a", "test://3");
  ASSERT_TRUE(over.has_value());
  EXPECT_EQ(over->kind, Failure::kInvalidParams);
  auto too_long = f.subscriptions.subscribe("b", std::string(33, 'u'));
  ASSERT_TRUE(too_long.has_value());
  EXPECT_EQ(too_long->kind, Failure::kInvalidParams);
  EXPECT_EQ(f.counted(metrics::Counter::kSubscriptionsRefused), 2u);
  EXPECT_EQ(f.subscriptions.announce(Change::kResourceUpdated, std::string(33, 'u')), std::nullopt);
  EXPECT_EQ(f.subscriptions.announce(Change::kResourceUpdated, ""), std::nullopt);
  EXPECT_EQ(f.counted(metrics::Counter::kAnnouncementsRefused), 2u);
}

TEST(Subscriptions, AnEndedSessionAndADetachedStreamHearNothing) {
  Fixture f;
  auto first = std::make_shared<RecordingSink>();
  auto second = std::make_shared<RecordingSink>();
  const std::uint64_t old_stream = f.subscriptions.attach("a", first);
  f.subscriptions.attach("a", second);  // a newer GET stream replaces the first
  f.subscriptions.detach("a", old_stream);  // the first one closing later leaves the newer in place
  EXPECT_EQ(f.subscriptions.announce(Change::kToolsListChanged), 1u);
  EXPECT_TRUE(first->messages().empty());
  EXPECT_EQ(second->messages().size(), 1u);
  f.subscriptions.end_session("a");
  EXPECT_EQ(f.subscriptions.announce(Change::kToolsListChanged), 0u);
  EXPECT_EQ(second->messages().size(), 1u);
}

TEST(Subscriptions, AListenStreamHearsWhatItsFilterNamesTaggedWithItsId) {
  Fixture f;
  auto prompts = std::make_shared<RecordingSink>();
  auto resources = std::make_shared<RecordingSink>();
  ASSERT_TRUE(f.subscriptions.listen(filter_of(R"({"promptsListChanged":true,"toolsListChanged":false})",
                                               f.subscriptions), "1", prompts, nullptr));
  ASSERT_TRUE(f.subscriptions.listen(filter_of(R"({"resourceSubscriptions":["test://x"]})", f.subscriptions),
                                     R"("s-2")", resources, nullptr));
  f.subscriptions.announce(Change::kToolsListChanged);
  f.subscriptions.announce(Change::kPromptsListChanged);
  f.subscriptions.announce(Change::kResourceUpdated, "test://y");
  f.subscriptions.announce(Change::kResourceUpdated, "test://x");
  ASSERT_EQ(prompts->messages().size(), 1u);
  const json::value prompt = json::parse(prompts->messages()[0]);
  EXPECT_EQ(prompt.at("method"), "notifications/prompts/list_changed");
  EXPECT_EQ(prompt.at("params").at("_meta").at(kMetaSubscriptionId), 1);
  ASSERT_EQ(resources->messages().size(), 1u);
  const json::value update = json::parse(resources->messages()[0]);
  EXPECT_EQ(update.at("params").at("uri"), "test://x");
  EXPECT_EQ(update.at("params").at("_meta").at(kMetaSubscriptionId), "s-2");
}

TEST(Subscriptions, RefusesAMalformedFilter) {
  Fixture f;
  for (std::string_view text : {R"([])", R"({"toolsListChanged":"yes"})", R"({"resourceSubscriptions":"test://x"})",
                                R"({"resourceSubscriptions":[1]})", R"({"resourceSubscriptions":["a","b","c"]})",
                                R"({"resourceSubscriptions":["uuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuu"]})"}) {
    json::value value = json::parse(text);
    auto filter = f.subscriptions.listen_filter(&value);
    ASSERT_TRUE(std::holds_alternative<Fault>(filter)) << text;
    EXPECT_EQ(std::get<Fault>(filter).kind, Failure::kInvalidParams);
  }
  EXPECT_TRUE(std::holds_alternative<Fault>(f.subscriptions.listen_filter(nullptr)));
}

TEST(Subscriptions, BoundsListenStreamsAndEndsThemAll) {
  Fixture f;
  int ended = 0;
  auto sink = std::make_shared<RecordingSink>();
  auto first = f.subscriptions.listen(ListenFilter{}, "1", sink, [&] { ++ended; });
  ASSERT_TRUE(first);
  ASSERT_TRUE(f.subscriptions.listen(ListenFilter{}, "2", sink, [&] { ++ended; }));
  EXPECT_FALSE(f.subscriptions.listen(ListenFilter{}, "3", sink, [&] { ++ended; }));
  EXPECT_EQ(f.counted(metrics::Counter::kSubscriptionsRefused), 1u);
  f.subscriptions.unlisten(*first);
  EXPECT_EQ(f.subscriptions.listener_count(), 1u);
  f.subscriptions.end_listeners();
  EXPECT_EQ(ended, 1);
  EXPECT_EQ(f.subscriptions.listener_count(), 0u);
}

TEST(Subscriptions, ACallOverItsBoundIsCounted) {
  Fixture f;
  f.subscriptions.drop_over_limit();
  EXPECT_EQ(f.counted(metrics::Counter::kAnnouncementsDroppedOverLimit), 1u);
}

TEST(Subscriptions, ACompletedElicitationIsToldToItsSessionOnly) {
  Fixture f;
  auto mine = std::make_shared<RecordingSink>();
  auto other = std::make_shared<RecordingSink>();
  f.subscriptions.attach("mine", mine);
  f.subscriptions.attach("other", other);
  EXPECT_EQ(f.subscriptions.elicitation_complete("mine", "auth-1"), true);
  ASSERT_EQ(mine->messages().size(), 1u);
  EXPECT_EQ(mine->messages()[0],
            R"({"jsonrpc":"2.0","method":"notifications/elicitation/complete","params":{"elicitationId":"auth-1"}})");
  EXPECT_TRUE(other->messages().empty());
  EXPECT_EQ(f.subscriptions.elicitation_complete("gone", "auth-1"), false);  // no stream: undeliverable
  EXPECT_EQ(f.subscriptions.elicitation_complete("mine", ""), std::nullopt);
  EXPECT_EQ(f.subscriptions.announce(Change::kElicitationComplete, "auth-1"), std::nullopt);  // never broadcast
  EXPECT_EQ(f.counted(metrics::Counter::kAnnouncementsRefused), 2u);
  EXPECT_EQ(f.counted(metrics::Counter::kAnnouncementsUndeliverable), 1u);
}

}  // namespace
}  // namespace sandgate::mcp
