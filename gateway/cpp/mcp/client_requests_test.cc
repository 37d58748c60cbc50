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

TEST(CapabilityNeed, AUrlElicitationNeedsElicitationUrlAndAFormAClientThatTakesForms) {
  auto need = [](std::string_view method, std::string_view params, std::string_view declared) {
    return capability_need(method, json::parse(params).get_object(), json::parse(declared).get_object());
  };
  const auto url = need("elicitation/create", R"({"mode":"url"})", R"({"elicitation":{}})");
  ASSERT_TRUE(url);
  EXPECT_FALSE(url->declared);
  EXPECT_EQ(json::value(url->required), json::parse(R"({"elicitation":{"url":{}}})"));
  EXPECT_TRUE(need("elicitation/create", R"({"mode":"url"})", R"({"elicitation":{"url":{}}})")->declared);
  EXPECT_TRUE(need("elicitation/create", R"({})", R"({"elicitation":{}})")->declared);  // {} means forms
  EXPECT_TRUE(need("elicitation/create", R"({"mode":"form"})", R"({"elicitation":{"form":{}}})")->declared);
  const auto form = need("elicitation/create", R"({})", R"({"elicitation":{"url":{}}})");  // URLs only
  EXPECT_FALSE(form->declared);
  EXPECT_EQ(json::value(form->required), json::parse(R"({"elicitation":{"form":{}}})"));
  EXPECT_EQ(json::value(need("elicitation/create", R"({})", R"({})")->required), json::parse(R"({"elicitation":{}})"));
  EXPECT_FALSE(need("elicitation/create", R"({"mode":"telepathy"})", R"({"elicitation":{}})"));
  EXPECT_FALSE(need("elicitation/create", R"({"mode":1})", R"({"elicitation":{}})"));
  EXPECT_FALSE(need("tools/call", R"({})", R"({})"));
  EXPECT_TRUE(need("roots/list", R"({})", R"({"roots":{"listChanged":true}})")->declared);
}

TEST(ClientAsker, SaysWhichModeOfElicitationTheClientLacks) {
  Fixture f;
  ClientAsker asker(f.sink, "s", f.table, R"({"elicitation":{}})");
  EXPECT_EQ(asker.ask("elicitation/create", R"({"mode":"url","message":"m","url":"https://x","elicitationId":"e"})",
                      [](ClientAnswer) {}),
            "the client did not declare the elicitation.url capability");
  EXPECT_TRUE(f.sink->messages().empty());
}

}  // namespace
}  // namespace sandgate::mcp
