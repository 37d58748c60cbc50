// Progress from a running call to its client: the reporter's bounds, and Streamable HTTP turning a POST's
// response into an event stream for it (both eras) or dropping it when the client takes JSON only.
#include "mcp/notifications.h"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <mutex>
#include <string>
#include <vector>

#include "mcp/recording_sink_test.h"
#include "mcp/streamable_http.h"

namespace sandgate::mcp {
namespace {

using namespace std::chrono_literals;

json::object parse_object(std::string_view text) {
  boost::system::error_code ec;
  json::value value = json::parse(text, ec);
  EXPECT_FALSE(ec) << "not JSON: " << text;
  return value.is_object() ? value.get_object() : json::object{};
}

std::string params(int progress, std::string_view token = R"("t-1")") {
  return R"({"progressToken":)" + std::string(token) + R"(,"progress":)" + std::to_string(progress) +
         R"(,"total":10,"message":"step"})";
}

TEST(ProgressReporter, WrapsParamsInANotificationEnvelope) {
  auto sink = std::make_shared<RecordingSink>();
  auto counters = std::make_shared<metrics::Counters>();
  ProgressReporter reporter(sink, ProgressLimits{}, counters, true);
  EXPECT_TRUE(reporter.report(params(3)));
  ASSERT_EQ(sink->messages().size(), 1u);
  const json::object message = parse_object(sink->messages()[0]);
  EXPECT_EQ(message.at("jsonrpc"), "2.0");
  EXPECT_EQ(message.at("method"), "notifications/progress");
  EXPECT_EQ(message.at("params"), parse_object(params(3)));
  EXPECT_FALSE(message.contains("id"));
  EXPECT_EQ(counters->get(metrics::Counter::kProgressSent), 1u);
}

TEST(ProgressReporter, BoundPerCallDropsAndCountsTheRest) {
  auto sink = std::make_shared<RecordingSink>();
  auto counters = std::make_shared<metrics::Counters>();
  ProgressReporter reporter(sink, ProgressLimits{3, 1024}, counters, true);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(reporter.report(params(i))) << i;
  EXPECT_FALSE(reporter.report(params(3)));
  EXPECT_FALSE(reporter.report(params(4)));
  EXPECT_EQ(sink->messages().size(), 3u);
  EXPECT_EQ(counters->get(metrics::Counter::kProgressSent), 3u);
  EXPECT_EQ(counters->get(metrics::Counter::kProgressDroppedOverLimit), 2u);
  // The bound is per call: another request starts afresh.
  ProgressReporter next(sink, ProgressLimits{3, 1024}, counters, true);
  EXPECT_TRUE(next.report(params(0)));
}

TEST(ProgressReporter, ParamsSizeBoundIsExact) {
  auto sink = std::make_shared<RecordingSink>();
  auto counters = std::make_shared<metrics::Counters>();
  const std::string at_limit = params(1);
  ProgressReporter reporter(sink, ProgressLimits{10, at_limit.size()}, counters, true);
  EXPECT_TRUE(reporter.report(at_limit));
  EXPECT_FALSE(reporter.report(params(10)));  // one byte more
  EXPECT_EQ(counters->get(metrics::Counter::kProgressDroppedTooLarge), 1u);
  EXPECT_EQ(counters->get(metrics::Counter::kProgressDroppedOverLimit), 0u);
  EXPECT_EQ(sink->messages().size(), 1u);
}

TEST(ProgressReporter, NoSinkOrARefusingSinkIsUndeliverable) {
  auto counters = std::make_shared<metrics::Counters>();
  ProgressReporter without(nullptr, ProgressLimits{}, counters, true);
  EXPECT_FALSE(without.report(params(1)));
  ProgressReporter refused(std::make_shared<RecordingSink>(false), ProgressLimits{}, counters, true);
  EXPECT_FALSE(refused.report(params(1)));
  EXPECT_EQ(counters->get(metrics::Counter::kProgressDroppedUndeliverable), 2u);
  EXPECT_EQ(counters->get(metrics::Counter::kProgressSent), 0u);
}

TEST(ProgressReporter, RevisionWithoutMessageLosesOnlyTheMessage) {
  auto sink = std::make_shared<RecordingSink>();
  ProgressReporter reporter(sink, ProgressLimits{}, std::make_shared<metrics::Counters>(), false);
  EXPECT_TRUE(reporter.report(params(2, "7")));
  ASSERT_EQ(sink->messages().size(), 1u);
  const json::object sent = parse_object(sink->messages()[0]).at("params").as_object();
  EXPECT_EQ(sent, (json::object{{"progressToken", 7}, {"progress", 2}, {"total", 10}}));
}

Message request_with_meta(std::string_view meta) {
  const std::string text =
      R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","_meta":)" + std::string(meta) + "}}";
  return std::get<Message>(decode_message(json::parse(text), text));
}

TEST(ProgressToken, OnlyStringsAndIntegersAreTokens) {
  EXPECT_EQ(*progress_token(request_with_meta(R"({"progressToken":"abc"})")), "abc");
  EXPECT_EQ(*progress_token(request_with_meta(R"({"progressToken":-5})")), -5);
  EXPECT_EQ(*progress_token(request_with_meta(R"({"progressToken":18446744073709551615})")), 18446744073709551615ull);
  for (const char* meta : {R"({})", R"({"progressToken":1.5})", R"({"progressToken":true})", R"({"progressToken":null})",
                           R"({"progressToken":{}})", R"({"progresstoken":1})"}) {
    EXPECT_EQ(progress_token(request_with_meta(meta)), nullptr) << meta;
  }
}

// --- Through the engine and Streamable HTTP ---------------------------------------------------------------

constexpr std::string_view kCatalog = R"({"tools":[{"name":"steps"},{"name":"broken"}],"resources":[],"prompts":[]})";

// `steps` reports `count` progress values then answers; `broken` reports once then fails. The reporter is kept
// so a test can report after the reply.
class SteppingDispatcher final : public Dispatcher {
 public:
  std::string catalog_json() override { return std::string(kCatalog); }

  void invoke(Invocation invocation, std::shared_ptr<CancelToken>, OutcomeCallback done) override {
    {
      std::lock_guard lock(mutex_);
      reporters_.push_back(invocation.progress);
    }
    const json::object args = json::parse(invocation.arguments_json).as_object();
    const std::int64_t count = args.contains("count") ? args.at("count").as_int64() : 1;
    if (invocation.progress) {
      const json::object meta = json::parse(invocation.meta_json).as_object();
      for (std::int64_t i = 1; i <= count; ++i) {
        json::object p{{"progressToken", meta.at("progressToken")}, {"progress", i}, {"total", count}};
        invocation.progress->report(json::serialize(p));
      }
    }
    if (invocation.name == "broken") return done({OutcomeStatus::kInternalError, R"({"message":"it broke"})"});
    done({OutcomeStatus::kOk, R"({"content":[{"type":"text","text":"done"}]})"});
  }

  std::shared_ptr<ProgressReporter> last_reporter() {
    std::lock_guard lock(mutex_);
    return reporters_.empty() ? nullptr : reporters_.back();
  }

 private:
  std::mutex mutex_;
  std::vector<std::shared_ptr<ProgressReporter>> reporters_;
};

// Stands in for the connection: records the events it is asked to send.
class RecordingEvents final : public ResponseEvents {
 public:
  void send_event(std::string event) override {
    std::lock_guard lock(mutex_);
    events_.push_back(std::move(event));
  }
  bool send_stream_event(std::string event) override {
    send_event(std::move(event));
    return true;
  }
  std::vector<std::string> events() {
    std::lock_guard lock(mutex_);
    return events_;
  }

 private:
  std::mutex mutex_;
  std::vector<std::string> events_;
};

// The JSON-RPC message inside one `event: message` SSE event.
json::object event_message(const std::string& event) {
  constexpr std::string_view kPrefix = "event: message\ndata: ";
  EXPECT_EQ(event.rfind(kPrefix, 0), 0u) << event;
  EXPECT_TRUE(event.size() >= 2 && event.substr(event.size() - 2) == "\n\n") << event;
  if (event.size() < kPrefix.size() + 2) return {};
  return parse_object(std::string_view(event).substr(kPrefix.size(), event.size() - kPrefix.size() - 2));
}

class ProgressOverHttpTest : public testing::Test {
 protected:
  ProgressOverHttpTest()
      : dispatcher_(std::make_shared<SteppingDispatcher>()),
        engine_(settings(), dispatcher_),
        sessions_(SessionTableLimits{16, 60s}, clock_),
        conversation_(engine_, sessions_, open_stages(counters_)),
        http_(HttpPolicy{}, conversation_) {}

  static EngineSettings settings() {
    EngineSettings s;
    s.progress = ProgressLimits{5, 1024};
    return s;
  }

  McpHttpReply post(McpHttpRequest request) {
    std::promise<McpHttpReply> promise;
    auto future = promise.get_future();
    http_.handle(std::move(request), std::make_shared<CancelToken>(),
                 [&promise](McpHttpReply reply) { promise.set_value(std::move(reply)); }, events_);
    EXPECT_EQ(future.wait_for(10s), std::future_status::ready);
    return future.get();
  }

  static McpHttpRequest modern_call(std::string_view tool, json::object meta, int count = 2,
                                    std::string accept = "application/json, text/event-stream") {
    meta[kMetaProtocolVersion] = kModernVersion;
    meta[kMetaClientCapabilities] = json::object{};
    json::object params{{"name", tool}, {"arguments", json::object{{"count", count}}}, {"_meta", std::move(meta)}};
    McpHttpRequest request;
    request.method = "POST";
    request.accept = std::move(accept);
    request.content_type = "application/json";
    request.protocol_version = std::string(kModernVersion);
    request.mcp_method = "tools/call";
    request.mcp_name = std::string(tool);
    request.body = json::serialize(json::object{{"jsonrpc", "2.0"}, {"id", 42}, {"method", "tools/call"}, {"params", params}});
    return request;
  }

  std::string open_session(std::string_view version) {
    McpHttpRequest request;
    request.method = "POST";
    request.accept = "application/json, text/event-stream";
    request.content_type = "application/json";
    request.body = R"({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":")" +
                   std::string(version) + R"(","capabilities":{},"clientInfo":{"name":"t","version":"1"}}})";
    McpHttpReply reply = post(std::move(request));
    for (auto& [name, value] : reply.headers) {
      if (name == "Mcp-Session-Id") return value;
    }
    ADD_FAILURE() << "no session: " << reply.body;
    return "";
  }

  static McpHttpRequest legacy_call(const std::string& session, std::string_view body) {
    McpHttpRequest request;
    request.method = "POST";
    request.accept = "application/json, text/event-stream";
    request.content_type = "application/json";
    request.session_id = session;
    request.body = std::string(body);
    return request;
  }

  std::uint64_t counted(metrics::Counter counter) const { return engine_.counters().get(counter); }

  ManualClock clock_;
  std::shared_ptr<SteppingDispatcher> dispatcher_;
  Engine engine_;
  SessionTable sessions_;
  std::shared_ptr<metrics::Counters> counters_ = std::make_shared<metrics::Counters>();
  Conversation conversation_;
  StreamableHttp http_;
  std::shared_ptr<RecordingEvents> events_ = std::make_shared<RecordingEvents>();
};

TEST_F(ProgressOverHttpTest, ModernProgressBecomesEventsThenTheReplyEndsTheStream) {
  McpHttpReply reply = post(modern_call("steps", json::object{{"progressToken", "tok"}}, 2));
  const auto events = events_->events();
  ASSERT_EQ(events.size(), 2u);
  for (std::size_t i = 0; i < events.size(); ++i) {
    const json::object message = event_message(events[i]);
    EXPECT_EQ(message.at("method"), "notifications/progress");
    EXPECT_EQ(message.at("params").at("progressToken"), "tok");  // echoed as sent: a string stays a string
    EXPECT_EQ(message.at("params").at("progress"), static_cast<std::int64_t>(i + 1));
  }
  EXPECT_TRUE(reply.ends_event_stream);
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.content_type, "text/event-stream");
  const json::object last = event_message(reply.body);
  EXPECT_EQ(last.at("id"), 42);
  EXPECT_EQ(last.at("result").at("content").at(0).at("text"), "done");
  EXPECT_EQ(last.at("result").at("resultType"), "complete");
  EXPECT_EQ(counted(metrics::Counter::kProgressSent), 2u);
}

TEST_F(ProgressOverHttpTest, IntegerTokenIsEchoedAsAnInteger) {
  post(modern_call("steps", json::object{{"progressToken", 9}}, 1));
  const auto events = events_->events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_TRUE(event_message(events[0]).at("params").at("progressToken").is_int64());
  EXPECT_EQ(event_message(events[0]).at("params").at("progressToken"), 9);
}

TEST_F(ProgressOverHttpTest, WithoutATokenNothingIsReportedAndTheReplyIsPlainJson) {
  McpHttpReply reply = post(modern_call("steps", json::object{}, 3));
  EXPECT_EQ(dispatcher_->last_reporter(), nullptr);
  EXPECT_TRUE(events_->events().empty());
  EXPECT_FALSE(reply.ends_event_stream);
  EXPECT_EQ(reply.content_type, "application/json");
  EXPECT_EQ(parse_object(reply.body).at("id"), 42);
}

TEST_F(ProgressOverHttpTest, ATokenWithoutProgressKeepsThePlainJsonReply) {
  McpHttpReply reply = post(modern_call("steps", json::object{{"progressToken", "tok"}}, 0));
  EXPECT_NE(dispatcher_->last_reporter(), nullptr);
  EXPECT_TRUE(events_->events().empty());
  EXPECT_FALSE(reply.ends_event_stream);
  EXPECT_EQ(reply.content_type, "application/json");
}

TEST_F(ProgressOverHttpTest, JsonOnlyClientsGetNoEventsAndTheDropsAreCounted) {
  McpHttpReply reply = post(modern_call("steps", json::object{{"progressToken", "tok"}}, 3, "application/json"));
  EXPECT_TRUE(events_->events().empty());
  EXPECT_FALSE(reply.ends_event_stream);
  EXPECT_EQ(reply.content_type, "application/json");
  EXPECT_EQ(parse_object(reply.body).at("result").at("content").at(0).at("text"), "done");
  EXPECT_EQ(counted(metrics::Counter::kProgressDroppedUndeliverable), 3u);
  EXPECT_EQ(counted(metrics::Counter::kProgressSent), 0u);
}

TEST_F(ProgressOverHttpTest, AConnectionThatCannotStreamDropsProgress) {
  std::promise<McpHttpReply> promise;
  http_.handle(modern_call("steps", json::object{{"progressToken", "tok"}}, 2), std::make_shared<CancelToken>(),
               [&promise](McpHttpReply reply) { promise.set_value(std::move(reply)); });  // no events: HTTP/1.0
  McpHttpReply reply = promise.get_future().get();
  EXPECT_FALSE(reply.ends_event_stream);
  EXPECT_EQ(reply.content_type, "application/json");
  EXPECT_EQ(counted(metrics::Counter::kProgressDroppedUndeliverable), 2u);
}

TEST_F(ProgressOverHttpTest, TheBoundHoldsAndTheResultStillArrives) {
  McpHttpReply reply = post(modern_call("steps", json::object{{"progressToken", "tok"}}, 8));
  EXPECT_EQ(events_->events().size(), 5u);
  EXPECT_EQ(counted(metrics::Counter::kProgressDroppedOverLimit), 3u);
  ASSERT_TRUE(reply.ends_event_stream);
  EXPECT_EQ(event_message(reply.body).at("result").at("content").at(0).at("text"), "done");
}

TEST_F(ProgressOverHttpTest, AFailureAfterProgressIsAnErrorEventNotAnHttpStatus) {
  McpHttpReply reply = post(modern_call("broken", json::object{{"progressToken", "tok"}}, 1));
  ASSERT_EQ(events_->events().size(), 1u);
  EXPECT_TRUE(reply.ends_event_stream);
  EXPECT_EQ(reply.status, 200);  // the 200 went out with the first event
  const json::object last = event_message(reply.body);
  EXPECT_EQ(last.at("error").at("code"), -32603);
  EXPECT_EQ(last.at("error").at("message"), "it broke");
}

TEST_F(ProgressOverHttpTest, ProgressAfterTheReplyIsDropped) {
  post(modern_call("steps", json::object{{"progressToken", "tok"}}, 1));
  auto reporter = dispatcher_->last_reporter();
  ASSERT_NE(reporter, nullptr);
  EXPECT_FALSE(reporter->report(params(5, R"("tok")")));
  EXPECT_EQ(events_->events().size(), 1u);
  EXPECT_EQ(counted(metrics::Counter::kProgressDroppedUndeliverable), 1u);
}

TEST_F(ProgressOverHttpTest, ProgressAfterTheConnectionIsGoneIsDropped) {
  auto events = std::make_shared<RecordingEvents>();
  std::promise<McpHttpReply> promise;
  http_.handle(modern_call("steps", json::object{{"progressToken", "tok"}}, 0), std::make_shared<CancelToken>(),
               [&promise](McpHttpReply reply) { promise.set_value(std::move(reply)); }, events);
  promise.get_future().get();
  auto reporter = dispatcher_->last_reporter();
  events.reset();  // the connection is destroyed; a Python tool may still hold the notifier
  EXPECT_FALSE(reporter->report(params(1, R"("tok")")));
}

TEST_F(ProgressOverHttpTest, LegacySessionStreamsProgressOnThePost) {
  const std::string session = open_session("2025-11-25");
  McpHttpReply reply = post(legacy_call(
      session, R"({"jsonrpc":"2.0","id":"call-1","method":"tools/call","params":{"name":"steps","arguments":{"count":2},"_meta":{"progressToken":"p"}}})"));
  const auto events = events_->events();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(event_message(events[1]).at("params").at("progress"), 2);
  EXPECT_EQ(event_message(events[1]).at("params").at("progressToken"), "p");
  ASSERT_TRUE(reply.ends_event_stream);
  const json::object last = event_message(reply.body);
  EXPECT_EQ(last.at("id"), "call-1");
  EXPECT_FALSE(last.at("result").as_object().contains("resultType"));  // legacy results stay legacy
}

TEST_F(ProgressOverHttpTest, Legacy2024SessionsGetNoProgressMessage) {
  class MessageDispatcher final : public Dispatcher {
   public:
    std::string catalog_json() override { return std::string(kCatalog); }
    void invoke(Invocation invocation, std::shared_ptr<CancelToken>, OutcomeCallback done) override {
      invocation.progress->report(R"({"progressToken":1,"progress":1,"message":"half"})");
      done({OutcomeStatus::kOk, R"({"content":[]})"});
    }
  };
  Engine engine(settings(), std::make_shared<MessageDispatcher>());
  Conversation conversation(engine, sessions_, open_stages(counters_));
  StreamableHttp http(HttpPolicy{}, conversation);
  for (const char* version : {"2024-11-05", "2025-03-26"}) {
    auto events = std::make_shared<RecordingEvents>();
    auto send = [&](McpHttpRequest request) {
      std::promise<McpHttpReply> promise;
      http.handle(std::move(request), std::make_shared<CancelToken>(),
                  [&promise](McpHttpReply reply) { promise.set_value(std::move(reply)); }, events);
      return promise.get_future().get();
    };
    McpHttpRequest init = legacy_call("", "");
    init.session_id.reset();
    init.body = R"({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":")" + std::string(version) +
                R"(","capabilities":{},"clientInfo":{"name":"t","version":"1"}}})";
    McpHttpReply opened = send(std::move(init));
    std::string session;
    for (auto& [name, value] : opened.headers) {
      if (name == "Mcp-Session-Id") session = value;
    }
    send(legacy_call(session, R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"steps","_meta":{"progressToken":1}}})"));
    ASSERT_EQ(events->events().size(), 1u) << version;
    const json::object sent = event_message(events->events()[0]).at("params").as_object();
    EXPECT_EQ(sent.contains("message"), std::string_view(version) != "2024-11-05") << version;
  }
}

TEST_F(ProgressOverHttpTest, BatchItemsGetNoStream) {
  const std::string session = open_session("2025-03-26");
  McpHttpReply reply = post(legacy_call(
      session, R"([{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"steps","arguments":{"count":2},"_meta":{"progressToken":"b"}}}])"));
  EXPECT_TRUE(events_->events().empty());
  EXPECT_FALSE(reply.ends_event_stream);
  EXPECT_TRUE(json::parse(reply.body).is_array()) << reply.body;
  EXPECT_EQ(counted(metrics::Counter::kProgressDroppedUndeliverable), 2u);
}

}  // namespace
}  // namespace sandgate::mcp
