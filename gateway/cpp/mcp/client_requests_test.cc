// Requests a call sends its client, and the answers routed back: only to the scope that asked, once; only
// what the client declared; bounded.
#include "mcp/client_requests.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "mcp/recording_sink_test.h"

namespace sandgate::mcp {
namespace {

constexpr std::string_view kAllCapabilities = R"({"sampling":{},"elicitation":{},"roots":{"listChanged":true}})";

struct Fixture {
  std::shared_ptr<metrics::Counters> counters = std::make_shared<metrics::Counters>();
  std::shared_ptr<ClientRequests> table =
      std::make_shared<ClientRequests>(ClientRequestLimits{.max_pending = 4, .max_per_call = 3}, counters);
  std::shared_ptr<RecordingSink> sink = std::make_shared<RecordingSink>();
};

TEST(ClientAsker, SendsARequestOnTheCallsStreamAndTheAnswerComesBackOnce) {
  Fixture f;
  ClientAsker asker(f.sink, "session-1", f.table, std::string(kAllCapabilities));
  std::vector<ClientAnswer> answers;
  EXPECT_EQ(asker.ask("roots/list", "{}", [&](ClientAnswer a) { answers.push_back(a); }), "");
  ASSERT_EQ(f.sink->messages().size(), 1u);
  const json::value request = json::parse(f.sink->messages()[0]);
  EXPECT_EQ(request.at("method"), "roots/list");
  EXPECT_EQ(request.at("params"), json::object{});
  const json::value id = request.at("id");
  EXPECT_FALSE(f.table->answer("session-2", id, {false, "{}"}));  // another session cannot answer it
  EXPECT_TRUE(f.table->answer("session-1", id, {false, R"({"roots":[]})"}));
  EXPECT_FALSE(f.table->answer("session-1", id, {false, "{}"}));  // nor can it be answered twice
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].json, R"({"roots":[]})");
  EXPECT_EQ(f.table->pending(), 0u);
  EXPECT_EQ(f.counters->get(metrics::Counter::kClientRequestsAnswered), 1u);
}

TEST(ClientAsker, SendsNothingTheClientDidNotDeclareOrThatIsNoClientRequest) {
  Fixture f;
  ClientAsker asker(f.sink, "s", f.table, R"({"roots":{}})");
  auto ignore = [](ClientAnswer) {};
  EXPECT_NE(asker.ask("sampling/createMessage", R"({"messages":[],"maxTokens":1})", ignore).find("sampling"),
            std::string::npos);
  EXPECT_NE(asker.ask("elicitation/create", "{}", ignore), "");
  EXPECT_NE(asker.ask("tools/call", "{}", ignore), "");
  EXPECT_NE(asker.ask("roots/list", "[]", ignore), "");          // params must be an object
  EXPECT_NE(asker.ask("roots/list", "{\"a\":", ignore), "");     // ... of JSON
  EXPECT_TRUE(f.sink->messages().empty());
  EXPECT_EQ(f.table->pending(), 0u);
}

TEST(ClientAsker, BoundsWhatOneCallAndAllCallsMayHaveWaiting) {
  Fixture f;
  ClientAsker first(f.sink, "s", f.table, std::string(kAllCapabilities));
  auto ignore = [](ClientAnswer) {};
  for (int i = 0; i < 3; ++i) EXPECT_EQ(first.ask("roots/list", "{}", ignore), "");
  EXPECT_NE(first.ask("roots/list", "{}", ignore), "");  // max_per_call
  ClientAsker second(f.sink, "s", f.table, std::string(kAllCapabilities));
  EXPECT_EQ(second.ask("roots/list", "{}", ignore), "");
  EXPECT_NE(second.ask("roots/list", "{}", ignore), "");  // max_pending, gateway-wide
  EXPECT_EQ(f.table->pending(), 4u);
}

TEST(ClientAsker, WhatACallStillWaitsForIsAbandonedWhenItEnds) {
  Fixture f;
  json::value id;
  {
    ClientAsker asker(f.sink, "s", f.table, std::string(kAllCapabilities));
    EXPECT_EQ(asker.ask("roots/list", "{}", [](ClientAnswer) { FAIL() << "answered after the call ended"; }), "");
    id = json::parse(f.sink->messages()[0]).at("id");
  }
  EXPECT_EQ(f.table->pending(), 0u);
  EXPECT_FALSE(f.table->answer("s", id, {false, "{}"}));
  EXPECT_EQ(f.counters->get(metrics::Counter::kClientRequestsAbandoned), 1u);
}

TEST(ClientAsker, WithoutAStreamTheClientAcceptsNothingWaits) {
  Fixture f;
  ClientAsker asker(std::make_shared<RecordingSink>(false), "s", f.table, std::string(kAllCapabilities));
  EXPECT_NE(asker.ask("roots/list", "{}", [](ClientAnswer) {}).find("stream"), std::string::npos);
  EXPECT_EQ(f.table->pending(), 0u);
}

}  // namespace
}  // namespace sandgate::mcp
