// Log messages from a running call to its client: the level the client chose, the bounds, the envelope.
#include "mcp/log_notifications.h"

#include <gtest/gtest.h>

#include <string>

#include "mcp/recording_sink_test.h"

namespace sandgate::mcp {
namespace {

std::string params(std::string_view level, std::string_view data = R"({"msg":"hi"})") {
  return R"({"level":")" + std::string(level) + R"(","data":)" + std::string(data) + "}";
}

TEST(LogLevels, AreTheEightNamesOfTheSpecificationInOrder) {
  EXPECT_EQ(log_level_named("debug"), LogLevel::kDebug);
  EXPECT_EQ(log_level_named("emergency"), LogLevel::kEmergency);
  EXPECT_LT(*log_level_named("notice"), *log_level_named("warning"));
  EXPECT_EQ(log_level_named("Debug"), std::nullopt);
  EXPECT_EQ(log_level_named("warn"), std::nullopt);
  EXPECT_EQ(log_level_name(LogLevel::kCritical), "critical");
}

TEST(LogLevels, AModernRequestAsksForLogsInItsMeta) {
  auto level_of = [](std::string_view text) {
    return requested_log_level(std::get<Message>(decode_message(json::parse(text), text)));
  };
  EXPECT_EQ(level_of(R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t",
      "_meta":{"io.modelcontextprotocol/logLevel":"warning"}}})"), LogLevel::kWarning);
  EXPECT_EQ(level_of(R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t"}})"), std::nullopt);
  EXPECT_EQ(level_of(R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t",
      "_meta":{"io.modelcontextprotocol/logLevel":"loud"}}})"), std::nullopt);
  EXPECT_EQ(level_of(R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t",
      "_meta":{"io.modelcontextprotocol/logLevel":3}}})"), std::nullopt);
}

TEST(LogReporter, SendsWhatIsAtOrAboveTheClientsLevelAsNotificationsMessage) {
  auto sink = std::make_shared<RecordingSink>();
  auto counters = std::make_shared<metrics::Counters>();
  LogReporter reporter(sink, LogLevel::kWarning, LogLimits{}, counters);
  EXPECT_FALSE(reporter.report("info", params("info")));
  EXPECT_TRUE(reporter.report("warning", params("warning")));
  EXPECT_TRUE(reporter.report("emergency", params("emergency")));
  EXPECT_FALSE(reporter.report("shout", params("shout")));  // not a level: never sent
  ASSERT_EQ(sink->messages().size(), 2u);
  const json::value message = json::parse(sink->messages()[0]);
  EXPECT_EQ(message.at("jsonrpc"), "2.0");
  EXPECT_EQ(message.at("method"), "notifications/message");
  EXPECT_EQ(message.at("params").at("level"), "warning");
  EXPECT_EQ(message.at("params").at("data").at("msg"), "hi");
  EXPECT_FALSE(message.as_object().contains("id"));
  EXPECT_EQ(counters->get(metrics::Counter::kLogMessagesSent), 2u);
  EXPECT_EQ(counters->get(metrics::Counter::kLogMessagesBelowLevel), 2u);
}

TEST(LogReporter, BoundsTheCountAndTheSizeOfACallsMessages) {
  auto sink = std::make_shared<RecordingSink>();
  auto counters = std::make_shared<metrics::Counters>();
  LogReporter reporter(sink, LogLevel::kDebug, LogLimits{.max_per_call = 2, .max_params_bytes = 64}, counters);
  EXPECT_FALSE(reporter.report("info", params("info", "\"" + std::string(80, 'x') + "\"")));
  EXPECT_TRUE(reporter.report("info", params("info")));
  EXPECT_TRUE(reporter.report("info", params("info")));
  EXPECT_FALSE(reporter.report("info", params("info")));
  EXPECT_EQ(sink->messages().size(), 2u);
  EXPECT_EQ(counters->get(metrics::Counter::kLogMessagesDroppedTooLarge), 1u);
  EXPECT_EQ(counters->get(metrics::Counter::kLogMessagesDroppedOverLimit), 1u);
}

TEST(LogReporter, WithoutAStreamNothingIsDeliveredAndTheLossIsCounted) {
  auto counters = std::make_shared<metrics::Counters>();
  LogReporter reporter(nullptr, LogLevel::kDebug, LogLimits{}, counters);
  EXPECT_FALSE(reporter.report("error", params("error")));
  EXPECT_EQ(counters->get(metrics::Counter::kLogMessagesDroppedUndeliverable), 1u);
}

}  // namespace
}  // namespace sandgate::mcp
