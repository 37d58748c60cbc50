#include "mcp/conversation.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "mcp/connection.h"
#include "mcp/streamable_http.h"

namespace sandgate::mcp {
namespace {

using namespace std::chrono_literals;

// `hold` parks its call until released by its `tag` argument; everything else answers at once.
class HoldingDispatcher final : public Dispatcher {
 public:
  std::string catalog_json() override { return R"({"tools":[{"name":"hold"}]})"; }

  void invoke(Invocation invocation, std::shared_ptr<CancelToken> cancel, OutcomeCallback done) override {
    const json::object args = json::parse(invocation.arguments_json).as_object();
    if (invocation.name != "hold") return done({OutcomeStatus::kOk, R"({"content":[]})"});
    std::lock_guard lock(mutex_);
    held_.push_back({std::string(args.at("tag").as_string()), std::move(cancel), std::move(done)});
    changed_.notify_all();
  }

  void session_closed(const std::string& session) override {
    std::lock_guard lock(mutex_);
    closed_.push_back(session);
  }

  bool wait_for_held(std::size_t count) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, 10s, [&] { return held_.size() >= count; });
  }
  std::shared_ptr<CancelToken> token(std::string_view tag) {
    std::lock_guard lock(mutex_);
    for (const Held& held : held_) {
      if (held.tag == tag) return held.cancel;
    }
    return nullptr;
  }
  void release(std::string_view tag) {
    OutcomeCallback done;
    {
      std::lock_guard lock(mutex_);
      for (Held& held : held_) {
        if (held.tag == tag && held.done) done = std::exchange(held.done, nullptr);
      }
    }
    if (done) done({OutcomeStatus::kOk, R"({"content":[{"type":"text","text":")" + std::string(tag) + R"("}]})"});
  }
  std::vector<std::string> closed() {
    std::lock_guard lock(mutex_);
    return closed_;
  }

 private:
  struct Held {
    std::string tag;
    std::shared_ptr<CancelToken> cancel;
    OutcomeCallback done;
  };
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<Held> held_;
  std::vector<std::string> closed_;
};

class Recorder final : public Responder {
 public:
  std::shared_ptr<NotificationSink> notifications() override { return nullptr; }
  void answer(Answer answer) override { promise_.set_value(std::move(answer)); }
  Answer get() {
    auto future = promise_.get_future();
    EXPECT_EQ(future.wait_for(10s), std::future_status::ready);
    return future.get();
  }

 private:
  std::promise<Answer> promise_;
};

std::string initialize_body(std::string_view version) {
  return R"({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":")" + std::string(version) +
         R"(","capabilities":{}}})";
}

std::string hold_body(std::string_view id, std::string_view tag) {
  return R"({"jsonrpc":"2.0","id":)" + std::string(id) + R"(,"method":"tools/call","params":{"name":"hold","arguments":{"tag":")" +
         std::string(tag) + R"("}}})";
}

// A POST of `body` as a conforming client sends it, with no version or session header.
McpHttpRequest post_request(std::string body, std::optional<std::string> session = std::nullopt) {
  McpHttpRequest request;
  request.method = "POST";
  request.accept = "application/json, text/event-stream";
  request.content_type = "application/json";
  request.session_id = std::move(session);
  request.body = std::move(body);
  return request;
}

std::future<McpHttpReply> send(StreamableHttp& http, McpHttpRequest request) {
  auto reply = std::make_shared<std::promise<McpHttpReply>>();
  http.handle(std::move(request), std::make_shared<CancelToken>(), [reply](McpHttpReply r) { reply->set_value(std::move(r)); });
  return reply->get_future();
}

std::string header_of(const McpHttpReply& reply, std::string_view name) {
  for (const auto& [key, value] : reply.headers) {
    if (key == name) return value;
  }
  return "<absent>";
}

class ConversationTest : public testing::Test {
 protected:
  ConversationTest()
      : dispatcher_(std::make_shared<HoldingDispatcher>()),
        engine_(EngineSettings{}, dispatcher_),
        sessions_(SessionTableLimits{16, 60s}, clock_),
        conversation_(engine_, sessions_, open_stages(counters_)) {}

  Answer receive(Delivery delivery) {
    auto recorder = std::make_shared<Recorder>();
    conversation_.receive(std::move(delivery), recorder);
    return recorder->get();
  }
  static Delivery http(std::string body, std::optional<std::string> session = std::nullopt) {
    Delivery delivery;
    delivery.body = std::move(body);
    delivery.session_id = std::move(session);
    delivery.routing = RoutingHeaders{};
    return delivery;
  }
  static Delivery stdio(std::string body, std::optional<std::string> session = std::nullopt) {
    Delivery delivery;
    delivery.body = std::move(body);
    delivery.session_id = std::move(session);
    delivery.connection = "stdio";
    delivery.legacy_unless_stated = false;
    return delivery;
  }
  static std::int64_t code_of(const Answer& answer) {
    return json::parse(answer.messages.at(0)).at("error").at("code").as_int64();
  }

  ManualClock clock_;
  std::shared_ptr<HoldingDispatcher> dispatcher_;
  Engine engine_;
  SessionTable sessions_;
  std::shared_ptr<metrics::Counters> counters_ = std::make_shared<metrics::Counters>();
  Conversation conversation_;
};

// Over HTTP, the first of two calls sharing an id finishing must leave the second cancellable by that id.
TEST_F(ConversationTest, HttpLegacyReusedIdStaysCancellable) {
  StreamableHttp http(HttpPolicy{}, conversation_);
  auto post = [&](std::string body, std::optional<std::string> session) {
    return send(http, post_request(std::move(body), std::move(session)));
  };
  const std::string session = header_of(post(initialize_body("2025-06-18"), std::nullopt).get(), "Mcp-Session-Id");
  ASSERT_NE(session, "<absent>");
  auto first = post(hold_body("7", "a"), session);
  auto second = post(hold_body("7", "b"), session);
  ASSERT_TRUE(dispatcher_->wait_for_held(2));
  dispatcher_->release("a");
  ASSERT_EQ(first.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(post(R"({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":7}})", session).get().status, 202);
  EXPECT_TRUE(dispatcher_->token("b")->cancelled());
  EXPECT_FALSE(dispatcher_->token("a")->cancelled());
  dispatcher_->release("b");
  EXPECT_EQ(second.wait_for(10s), std::future_status::ready);
}

TEST_F(ConversationTest, EraFollowsTheVersionHeaderThenTheBody) {
  const std::string modern_list =
      R"({"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}})";
  const std::string bare_list = R"({"jsonrpc":"2.0","id":1,"method":"tools/list"})";
  // HTTP: no version header and no session means the 2025-03-26 fallback, which needs a session.
  EXPECT_EQ(receive(http(bare_list)).http_status, 400);
  EXPECT_EQ(code_of(receive(http(bare_list))), -32600);
  Delivery with_header = http(modern_list);
  with_header.routing = RoutingHeaders{"2026-07-28", "tools/list", std::nullopt, false};
  const Answer modern = receive(std::move(with_header));
  EXPECT_EQ(modern.http_status, 200);
  EXPECT_NE(modern.messages.at(0).find(R"("resultType":"complete")"), std::string::npos);
  // stdio: without a session a request is modern, and a bare one lacks its envelope.
  EXPECT_EQ(code_of(receive(stdio(bare_list))), -32602);
  EXPECT_NE(receive(stdio(modern_list)).messages.at(0).find(R"("resultType":"complete")"), std::string::npos);
}

TEST_F(ConversationTest, ClientResponsesAreAcceptedAndNeverAnswered) {
  const std::string response = R"({"jsonrpc":"2.0","id":1,"result":{}})";
  EXPECT_TRUE(receive(stdio(response)).messages.empty());
  const Answer opened = receive(stdio(initialize_body("2025-06-18")));
  ASSERT_TRUE(opened.opened_session);
  EXPECT_TRUE(receive(stdio(response, opened.opened_session)).messages.empty());
  EXPECT_TRUE(receive(http(response, opened.opened_session)).messages.empty());
}

TEST_F(ConversationTest, InitializeOpensASessionAndClosingItTellsTheDispatcher) {
  const Answer first = receive(stdio(initialize_body("2025-03-26")));
  ASSERT_TRUE(first.opened_session);
  EXPECT_TRUE(conversation_.session_alive(*first.opened_session));
  // A batch is answered as one array, here in a 2025-03-26 session.
  const Answer batch = receive(stdio(R"([{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","id":2,"method":"ping"}])",
                                     first.opened_session));
  EXPECT_TRUE(batch.batch);
  EXPECT_EQ(batch.messages.size(), 2u);
  EXPECT_TRUE(conversation_.close_session(*first.opened_session));
  EXPECT_FALSE(conversation_.close_session(*first.opened_session));
  EXPECT_EQ(dispatcher_->closed(), std::vector<std::string>{*first.opened_session});
  EXPECT_EQ(code_of(receive(stdio(R"({"jsonrpc":"2.0","id":3,"method":"ping"})", first.opened_session))), -32600);
}

// Stages that act on what the context carries: a token header names the principal, `deny` is refused for
// anyone but "root", and every principal gets two requests.
class TokenAuthenticator final : public auth::Authenticator {
 public:
  auth::AuthOutcome authenticate(const RequestContext& context) const override {
    const std::optional<std::string_view> token = context.headers->find("x-token");
    if (!token) return auth::AuthFailure{auth::AuthError::kMissingCredentials, "Unauthorized", R"(error="invalid_request")"};
    return auth::Principal{.kind = auth::Principal::Kind::kToken, .name = std::string(*token) + "@" + std::string(transport_name(context.transport))};
  }
};
class RootOnly final : public policy::Authorizer {
 public:
  std::optional<policy::Denial> authorize(RequestContext& context, const Message& request) const override {
    if (request.method == "ping" || context.principal.name.rfind("root@", 0) == 0) return std::nullopt;
    return policy::Denial{policy::PolicyError::kDenied, "tool_denied", ""};
  }
};
class TwoEach final : public ratelimit::RateLimiter {
 public:
  std::optional<ratelimit::Limited> admit(const RequestContext& context, const Message&) override {
    std::lock_guard lock(mutex_);
    if (++seen_[context.principal.name] <= 2) return std::nullopt;
    return ratelimit::Limited{ratelimit::RateLimitError::kExhausted, std::chrono::milliseconds(6'500), "two-a-minute", 2,
                              60, 0, 45};
  }

 private:
  std::mutex mutex_;
  std::map<std::string, int> seen_;
};

TEST_F(ConversationTest, StagesStopRequestsWithTheirOwnStatusCodeAndHeaders) {
  auto counters = std::make_shared<metrics::Counters>();
  Stages stages{std::make_shared<TokenAuthenticator>(), std::make_shared<RootOnly>(), std::make_shared<TwoEach>(),
                std::make_shared<metrics::Recorder>(counters)};
  Conversation conversation(engine_, sessions_, std::move(stages));
  StreamableHttp http(HttpPolicy{}, conversation);
  auto post = [&](std::string_view method, std::optional<std::string> token) {
    McpHttpRequest request = post_request(R"({"jsonrpc":"2.0","id":1,"method":")" + std::string(method) +
                                          R"(","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}})");
    request.accept = "application/json";
    request.protocol_version = std::string(kModernVersion);
    request.mcp_method = std::string(method);
    if (token) request.headers.add("X-Token", *token);
    return send(http, std::move(request)).get();
  };
  auto code = [](const McpHttpReply& reply) { return json::parse(reply.body).at("error").at("code").as_int64(); };

  const McpHttpReply anonymous = post("tools/list", std::nullopt);
  EXPECT_EQ(anonymous.status, 401);
  EXPECT_EQ(code(anonymous), -32001);
  EXPECT_EQ(header_of(anonymous, "WWW-Authenticate"), R"(Bearer error="invalid_request")");

  const McpHttpReply denied = post("tools/list", "alice");
  EXPECT_EQ(denied.status, 403);
  EXPECT_EQ(code(denied), -32003);
  EXPECT_NE(denied.body.find("tool_denied"), std::string::npos);

  EXPECT_EQ(post("tools/list", "root").status, 200);
  EXPECT_EQ(post("ping", "root").status, 404);  // admitted (second), then not a modern method
  const McpHttpReply limited = post("tools/list", "root");
  EXPECT_EQ(limited.status, 429);
  EXPECT_EQ(code(limited), -32029);
  EXPECT_EQ(header_of(limited, "Retry-After"), "7");
  EXPECT_EQ(header_of(limited, "RateLimit-Policy"), R"("two-a-minute";q=2;w=60)");
  EXPECT_EQ(header_of(limited, "RateLimit"), R"("two-a-minute";r=0;t=45)");
  EXPECT_EQ(json::parse(limited.body).at("error").at("data"),
            json::parse(R"({"retryAfterMs":6500,"limit":2,"policy":"two-a-minute"})"));

  // A session's GET and DELETE pass the authenticate stage too.
  for (const char* verb : {"GET", "DELETE"}) {
    McpHttpRequest request;
    request.method = verb;
    request.accept = "text/event-stream";
    request.session_id = "0123456789abcdef0123456789abcdef";
    const McpHttpReply refused = send(http, std::move(request)).get();
    EXPECT_EQ(refused.status, 401) << verb;
    EXPECT_EQ(header_of(refused, "WWW-Authenticate"), R"(Bearer error="invalid_request")") << verb;
  }

  EXPECT_EQ(counters->get(metrics::Counter::kDeliveries), 5u);
  EXPECT_EQ(counters->get(metrics::Counter::kAuthFailures), 3u);
  EXPECT_EQ(counters->get(metrics::Counter::kPolicyDenials), 1u);
  EXPECT_EQ(counters->get(metrics::Counter::kRateLimited), 1u);
  EXPECT_EQ(counters->get(metrics::Counter::kJsonRpcRequests), 4u);
  EXPECT_EQ(counters->get(metrics::Counter::kJsonRpcRequestsFailed), 3u);
}

TEST_F(ConversationTest, ALegacySessionServesOnlyTheCallerWhoOpenedIt) {
  Stages stages = open_stages(std::make_shared<metrics::Counters>());
  stages.authenticate = std::make_shared<TokenAuthenticator>();
  Conversation conversation(engine_, sessions_, std::move(stages));
  StreamableHttp http(HttpPolicy{}, conversation);
  auto as = [](McpHttpRequest request, std::string_view token) {
    request.headers.add("X-Token", std::string(token));
    return request;
  };
  const McpHttpReply opened = send(http, as(post_request(initialize_body("2025-06-18")), "root")).get();
  const std::string session = header_of(opened, "Mcp-Session-Id");
  ASSERT_FALSE(session.empty());
  const std::string ping = R"({"jsonrpc":"2.0","id":2,"method":"ping"})";
  // Another caller holding the id is told what a stranger with a made-up id is told.
  const McpHttpReply foreign = send(http, as(post_request(ping, session), "mallory")).get();
  EXPECT_EQ(foreign.status, 404);
  EXPECT_NE(foreign.body.find("Session not found"), std::string::npos);
  for (const char* verb : {"GET", "DELETE"}) {
    McpHttpRequest request;
    request.method = verb;
    request.accept = "text/event-stream";
    request.session_id = session;
    EXPECT_EQ(send(http, as(std::move(request), "mallory")).get().status, 404) << verb;
  }
  EXPECT_TRUE(conversation.session_alive(session));  // mallory's DELETE ended nothing
  EXPECT_EQ(send(http, as(post_request(ping, session), "root")).get().status, 200);
  McpHttpRequest end;
  end.method = "DELETE";
  end.session_id = session;
  EXPECT_EQ(send(http, as(std::move(end), "root")).get().status, 200);
  EXPECT_FALSE(conversation.session_alive(session));
}

TEST_F(ConversationTest, StdioRequestsCarryTheirTransportAndPeer) {
  struct Seen final : policy::Authorizer {
    std::optional<policy::Denial> authorize(RequestContext& context, const Message&) const override {
      std::lock_guard lock(mutex);
      transports.push_back(std::string(transport_name(context.transport)) + " " + context.peer + " " + context.principal.name);
      return std::nullopt;
    }
    mutable std::mutex mutex;
    mutable std::vector<std::string> transports;
  };
  auto seen = std::make_shared<Seen>();
  Stages stages = open_stages(std::make_shared<metrics::Counters>());
  stages.authorize = seen;
  Conversation conversation(engine_, sessions_, std::move(stages));
  Delivery delivery = stdio(R"({"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}})");
  delivery.transport = Transport::kStdio;
  delivery.peer = "stdio";
  auto recorder = std::make_shared<Recorder>();
  conversation.receive(std::move(delivery), recorder);
  recorder->get();
  EXPECT_EQ(seen->transports, std::vector<std::string>{"stdio stdio anonymous"});
}

// A connected client's `initialize` opens the session its later messages carry; another replaces it
// (the old one closes), and the connection ending closes the last.
TEST_F(ConversationTest, AConnectionKeepsTheSessionItsInitializeOpened) {
  ConnectionSession client(conversation_, Transport::kStdio, "stdio");
  EXPECT_FALSE(client.delivery("x").session_id);
  EXPECT_EQ(client.delivery("x").connection, "stdio");
  const Answer first = receive(client.delivery(initialize_body("2025-06-18")));
  client.answered(first);
  ASSERT_TRUE(first.opened_session);
  EXPECT_EQ(client.delivery("x").session_id, first.opened_session);
  const Answer second = receive(client.delivery(initialize_body("2025-11-25")));
  client.answered(second);
  EXPECT_EQ(client.delivery("x").session_id, second.opened_session);
  EXPECT_FALSE(conversation_.session_alive(*first.opened_session));
  client.close();
  EXPECT_FALSE(conversation_.session_alive(*second.opened_session));
  EXPECT_EQ(dispatcher_->closed(), (std::vector<std::string>{*first.opened_session, *second.opened_session, "stdio"}));
}

}  // namespace
}  // namespace sandgate::mcp
