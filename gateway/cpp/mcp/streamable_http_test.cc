// Over 600 lines: both eras share one fixture, fake runner and request builders, so they stay in one file.
#include "mcp/streamable_http.h"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace sandgate::mcp {
namespace {

using namespace std::chrono_literals;

constexpr std::string_view kCatalog = R"({
  "tools": [{"name":"add","inputSchema":{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"integer"}}}},
            {"name":"hello world"}],
  "resources": [{"uri":"mem://greeting","name":"greeting"}],
  "prompts": []
})";

// Answers like a tool runner would; `async` moves every answer to its own thread.
class FakeDispatcher final : public Dispatcher {
 public:
  explicit FakeDispatcher(bool async) : async_(async) {}
  ~FakeDispatcher() override { join(); }

  std::string catalog_json() override { return std::string(kCatalog); }

  void invoke(Invocation invocation, std::shared_ptr<CancelToken> cancel, OutcomeCallback done) override {
    Outcome outcome = answer(invocation);
    std::lock_guard lock(mutex_);
    invocations_.push_back(std::move(invocation));
    if (!async_) return done(std::move(outcome));
    threads_.emplace_back([done = std::move(done), outcome = std::move(outcome)] {
      std::this_thread::sleep_for(1ms);
      done(outcome);
    });
  }

  void join() {
    std::vector<std::thread> threads;
    {
      std::lock_guard lock(mutex_);
      threads.swap(threads_);
    }
    for (auto& t : threads) t.join();
  }

  std::vector<Invocation> invocations() {
    std::lock_guard lock(mutex_);
    return invocations_;
  }

 private:
  static Outcome answer(const Invocation& invocation) {
    if (invocation.kind == InvocationKind::kToolCall && invocation.name == "add") {
      const json::object args = json::parse(invocation.arguments_json).as_object();
      const std::int64_t sum = args.at("a").as_int64() + args.at("b").as_int64();
      json::object result{{"content", json::array{json::object{{"type", "text"}, {"text", std::to_string(sum)}}}}};
      return {OutcomeStatus::kOk, json::serialize(result)};
    }
    if (invocation.kind == InvocationKind::kToolCall && invocation.name == "echo") {
      // Hands back the arguments text inside a result that also tries to set the gateway's own fields.
      return {OutcomeStatus::kOk, R"({"content":[],"structuredContent":)" + invocation.arguments_json +
                                      R"(,"resultType":"forged","_meta":{"tool":115196.20000000001,")" +
                                      std::string(kMetaServerInfo) + R"(":"forged"}})"};
    }
    if (invocation.kind == InvocationKind::kToolCall && invocation.name == "hello world") {
      return {OutcomeStatus::kOk, R"({"content":[]})"};
    }
    if (invocation.kind == InvocationKind::kResourceRead && invocation.name == "mem://greeting") {
      return {OutcomeStatus::kOk, R"({"contents":[{"uri":"mem://greeting","text":"hi"}]})"};
    }
    if (invocation.kind == InvocationKind::kResourceRead) {
      return {OutcomeStatus::kResourceNotFound, R"({"message":"Resource not found","data":{"uri":"mem://missing"}})"};
    }
    return {OutcomeStatus::kInvalidParams, R"({"message":"Unknown tool"})"};
  }

  const bool async_;
  std::mutex mutex_;
  std::vector<std::thread> threads_;
  std::vector<Invocation> invocations_;
};

EngineSettings test_settings() {
  EngineSettings settings;
  settings.identity = {"sandgate-test", "1.2.3", ""};
  settings.list_ttl_ms = 60'000;
  settings.read_ttl_ms = 5'000;
  return settings;
}

json::object modern_meta(std::string_view version = kModernVersion) {
  return json::object{{kMetaProtocolVersion, version}, {kMetaClientCapabilities, json::object{}}};
}

// A well-formed modern POST: headers mirror the body, as a conforming client sends them.
McpHttpRequest modern_post(std::string_view method, json::object params = {}, json::value id = 1) {
  params["_meta"] = modern_meta();
  McpHttpRequest request;
  request.method = "POST";
  request.accept = "application/json, text/event-stream";
  request.content_type = "application/json";
  request.protocol_version = std::string(kModernVersion);
  request.mcp_method = std::string(method);
  for (const char* key : {"name", "uri"}) {
    if (const json::value* name = params.if_contains(key); name != nullptr && name->is_string()) {
      request.mcp_name = std::string(name->get_string());
    }
  }
  json::object body{{"jsonrpc", "2.0"}, {"method", method}, {"params", std::move(params)}};
  if (!id.is_null()) body["id"] = id;
  request.body = json::serialize(body);
  return request;
}

McpHttpRequest legacy_post(std::string body, std::optional<std::string> session_id) {
  McpHttpRequest request;
  request.method = "POST";
  request.accept = "application/json, text/event-stream";
  request.content_type = "application/json";
  request.session_id = std::move(session_id);
  request.body = std::move(body);
  return request;
}

std::string legacy_request(int id, std::string_view method, std::string_view params = "{}") {
  return R"({"jsonrpc":"2.0","id":)" + std::to_string(id) + R"(,"method":")" + std::string(method) +
         R"(","params":)" + std::string(params) + "}";
}

std::string initialize_body(std::string_view version) {
  return R"({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":")" + std::string(version) +
         R"(","capabilities":{"roots":{}},"clientInfo":{"name":"t","version":"1"}}})";
}

std::optional<std::string> header(const McpHttpReply& reply, std::string_view name) {
  for (const auto& [key, value] : reply.headers) {
    if (key == name) return value;
  }
  return std::nullopt;
}

json::value body_json(const McpHttpReply& reply) {
  boost::system::error_code ec;
  json::value value = json::parse(reply.body, ec);
  EXPECT_FALSE(ec) << "reply body is not JSON: " << reply.body;
  return value;
}

json::object body_object(const McpHttpReply& reply) {
  json::value value = body_json(reply);
  EXPECT_TRUE(value.is_object()) << reply.body;
  return value.is_object() ? value.get_object() : json::object{};
}

std::int64_t error_code(const McpHttpReply& reply) {
  const json::object body = body_object(reply);
  const json::value* error = body.if_contains("error");
  if (error == nullptr || !error->is_object()) {
    ADD_FAILURE() << "no error member: " << reply.body;
    return 0;
  }
  return error->at("code").as_int64();
}

// Every test runs twice: the dispatcher answers inline, then from another thread.
class StreamableHttpTest : public testing::TestWithParam<bool> {
 protected:
  StreamableHttpTest()
      : dispatcher_(std::make_shared<FakeDispatcher>(GetParam())),
        engine_(test_settings(), dispatcher_),
        sessions_(SessionTableLimits{16, 60s}, clock_),
        conversation_(engine_, sessions_, open_stages(counters_)),
        http_(HttpPolicy{}, conversation_) {}

  ~StreamableHttpTest() override { dispatcher_->join(); }

  McpHttpReply call(McpHttpRequest request) { return call_on(http_, std::move(request)); }

  McpHttpReply call_on(StreamableHttp& http, McpHttpRequest request) {
    struct State {
      std::promise<McpHttpReply> promise;
      std::atomic<int> calls{0};
    };
    auto state = std::make_shared<State>();
    auto future = state->promise.get_future();
    http.handle(std::move(request), std::make_shared<CancelToken>(), [state](McpHttpReply reply) {
      if (state->calls.fetch_add(1) == 0) state->promise.set_value(std::move(reply));
    });
    if (future.wait_for(10s) != std::future_status::ready) {
      ADD_FAILURE() << "no reply within 10 s";
      return {};
    }
    McpHttpReply reply = future.get();
    dispatcher_->join();
    EXPECT_EQ(state->calls.load(), 1) << "done must run exactly once";
    return reply;
  }

  // A legacy session at `version`; its id.
  std::string open_session(std::string_view version) {
    const McpHttpReply reply = call(legacy_post(initialize_body(version), std::nullopt));
    EXPECT_EQ(reply.status, 200) << reply.body;
    const auto id = header(reply, "Mcp-Session-Id");
    EXPECT_TRUE(id.has_value());
    return id.value_or("");
  }

  ManualClock clock_;
  std::shared_ptr<FakeDispatcher> dispatcher_;
  Engine engine_;
  SessionTable sessions_;
  std::shared_ptr<metrics::Counters> counters_ = std::make_shared<metrics::Counters>();
  Conversation conversation_;
  StreamableHttp http_;
};

INSTANTIATE_TEST_SUITE_P(Dispatch, StreamableHttpTest, testing::Values(false, true),
                         [](const testing::TestParamInfo<bool>& info) { return info.param ? "Threaded" : "Inline"; });

TEST_P(StreamableHttpTest, ModernToolCallHappyPath) {
  const McpHttpReply reply =
      call(modern_post("tools/call", json::object{{"name", "add"}, {"arguments", json::object{{"a", 2}, {"b", 3}}}}));
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.content_type, "application/json");
  EXPECT_FALSE(header(reply, "Mcp-Session-Id"));
  const json::object body = body_object(reply);
  EXPECT_EQ(body.at("jsonrpc").as_string(), "2.0");
  EXPECT_EQ(body.at("id").as_int64(), 1);
  const json::object& result = body.at("result").as_object();
  EXPECT_EQ(result.at("content").at(0).at("text").as_string(), "5");
  EXPECT_EQ(result.at("resultType").as_string(), "complete");
  const json::object& server_info = result.at("_meta").at(kMetaServerInfo).as_object();
  EXPECT_EQ(server_info.at("name").as_string(), "sandgate-test");
  EXPECT_EQ(server_info.at("version").as_string(), "1.2.3");
  // A tool call is not cacheable.
  EXPECT_FALSE(result.contains("ttlMs"));
  EXPECT_FALSE(result.contains("cacheScope"));

  const auto invocations = dispatcher_->invocations();
  ASSERT_EQ(invocations.size(), 1u);
  EXPECT_EQ(invocations[0].kind, InvocationKind::kToolCall);
  EXPECT_EQ(json::parse(invocations[0].arguments_json), json::parse(R"({"a":2,"b":3})"));
  EXPECT_TRUE(json::parse(invocations[0].meta_json).as_object().contains(kMetaProtocolVersion));
}

// Values the client wrote reach the tool as written, and the tool's come back as it wrote them.
TEST_P(StreamableHttpTest, ValuesPassAsWrittenBothWays) {
  const std::string arguments =
      R"({"f":115196.20000000001,"big":12345678901234567890123,"z":-0.0,"tiny":5e-324,"s":"\u00e9\ud83d\ude00","dup":1,"dup":2})";
  McpHttpRequest request = modern_post("tools/call", json::object{{"name", "echo"}});
  const std::string marker = R"("name":"echo")";
  // An earlier, escaped-key duplicate loses to the last, as in Python's json.
  request.body.insert(request.body.find(marker) + marker.size(),
                      R"(,"\u0061rguments":{"stale":1},"arguments":)" + arguments);
  const McpHttpReply reply = call(std::move(request));
  ASSERT_EQ(reply.status, 200) << reply.body;
  const auto invocations = dispatcher_->invocations();
  ASSERT_EQ(invocations.size(), 1u);
  EXPECT_EQ(invocations[0].arguments_json, arguments);
  EXPECT_NE(reply.body.find(R"("structuredContent":)" + arguments), std::string::npos) << reply.body;
  const json::object result = body_object(reply).at("result").as_object();
  EXPECT_EQ(result.at("resultType").as_string(), "complete");
  EXPECT_EQ(result.at("_meta").at(kMetaServerInfo).at("name").as_string(), "sandgate-test");
  EXPECT_NE(reply.body.find(R"("tool":115196.20000000001)"), std::string::npos) << reply.body;
  EXPECT_EQ(reply.body.find("forged"), std::string::npos) << reply.body;
}

TEST_P(StreamableHttpTest, ModernRepliesEchoTheIdExactly) {
  const json::object as_string = body_object(call(modern_post("tools/list", {}, json::value("1"))));
  ASSERT_TRUE(as_string.at("id").is_string());
  EXPECT_EQ(as_string.at("id").get_string(), "1");
  const json::object as_number = body_object(call(modern_post("tools/list", {}, json::value(1))));
  ASSERT_TRUE(as_number.at("id").is_int64());
  EXPECT_EQ(as_number.at("id").get_int64(), 1);
}

TEST_P(StreamableHttpTest, ModernHeaderMismatchesAreRejected) {
  const json::object params{{"name", "add"}, {"arguments", json::object{{"a", 1}, {"b", 1}}}};
  struct Case {
    std::string label;
    std::function<void(McpHttpRequest&)> edit;
    int status;
    std::int64_t code;
  };
  const std::vector<Case> cases = {
      {"conforming", [](McpHttpRequest&) {}, 200, 0},
      {"no MCP-Protocol-Version", [](McpHttpRequest& r) { r.protocol_version.reset(); }, 400, -32020},
      {"other MCP-Protocol-Version", [](McpHttpRequest& r) { r.protocol_version = "2026-07-29"; }, 400, -32020},
      {"no Mcp-Method", [](McpHttpRequest& r) { r.mcp_method.reset(); }, 400, -32020},
      {"other Mcp-Method", [](McpHttpRequest& r) { r.mcp_method = "tools/list"; }, 400, -32020},
      {"Mcp-Method case", [](McpHttpRequest& r) { r.mcp_method = "Tools/call"; }, 400, -32020},
      {"no Mcp-Name", [](McpHttpRequest& r) { r.mcp_name.reset(); }, 400, -32020},
      {"other Mcp-Name", [](McpHttpRequest& r) { r.mcp_name = "ad"; }, 400, -32020},
      {"Mcp-Name trailing space", [](McpHttpRequest& r) { r.mcp_name = "add "; }, 400, -32020},
      {"base64 Mcp-Name", [](McpHttpRequest& r) { r.mcp_name = "=?base64?YWRk?="; }, 200, 0},
      {"base64 of another name", [](McpHttpRequest& r) { r.mcp_name = "=?base64?YWRl?="; }, 400, -32020},
      {"malformed base64 Mcp-Name", [](McpHttpRequest& r) { r.mcp_name = "=?base64?YWRk=?="; }, 400, -32020},
      {"duplicated routing header", [](McpHttpRequest& r) { r.duplicate_routing_header = true; }, 400, -32020},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.label);
    McpHttpRequest request = modern_post("tools/call", params);
    c.edit(request);
    const McpHttpReply reply = call(std::move(request));
    EXPECT_EQ(reply.status, c.status) << reply.body;
    if (c.code != 0) {
      EXPECT_EQ(error_code(reply), c.code);
      EXPECT_EQ(body_object(reply).at("id").as_int64(), 1);
    } else {
      EXPECT_TRUE(body_object(reply).contains("result")) << reply.body;
    }
  }
}

TEST_P(StreamableHttpTest, Base64McpNameCarriesNonAsciiNames) {
  McpHttpRequest request = modern_post("tools/call", json::object{{"name", "hello world"}});
  request.mcp_name = "=?base64?aGVsbG8gd29ybGQ=?=";
  EXPECT_EQ(call(std::move(request)).status, 200);
}

TEST_P(StreamableHttpTest, UnsupportedModernVersionListsWhatWeSpeak) {
  McpHttpRequest request = modern_post("tools/list");
  json::object body = json::parse(request.body).as_object();
  body["params"].as_object()["_meta"] = modern_meta("2099-01-01");
  request.body = json::serialize(body);
  request.protocol_version = "2099-01-01";
  const McpHttpReply reply = call(std::move(request));
  EXPECT_EQ(reply.status, 400);
  EXPECT_EQ(error_code(reply), -32022);
  const json::object data = body_object(reply).at("error").at("data").as_object();
  EXPECT_EQ(data.at("requested").as_string(), "2099-01-01");
  const json::array& supported = data.at("supported").as_array();
  EXPECT_EQ(supported, (json::array{"2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"}));
}

TEST_P(StreamableHttpTest, HeaderDisagreementIsReportedBeforeAnUnsupportedVersion) {
  McpHttpRequest request = modern_post("tools/list");
  json::object body = json::parse(request.body).as_object();
  body["params"].as_object()["_meta"] = modern_meta("2099-01-02");
  request.body = json::serialize(body);
  request.protocol_version = "2099-01-01";
  const McpHttpReply reply = call(std::move(request));
  EXPECT_EQ(reply.status, 400);
  EXPECT_EQ(error_code(reply), -32020);
}

TEST_P(StreamableHttpTest, MalformedModernEnvelopeIsInvalidParams) {
  const std::vector<std::pair<std::string, json::value>> metas = {
      {"no _meta", nullptr},
      {"no capabilities", json::object{{kMetaProtocolVersion, kModernVersion}}},
      {"no version", json::object{{kMetaClientCapabilities, json::object{}}}},
      {"numeric version", json::object{{kMetaProtocolVersion, 2026}, {kMetaClientCapabilities, json::object{}}}},
      {"capabilities not an object", json::object{{kMetaProtocolVersion, kModernVersion}, {kMetaClientCapabilities, "x"}}},
  };
  for (const auto& [label, meta] : metas) {
    SCOPED_TRACE(label);
    McpHttpRequest request = modern_post("tools/list");
    json::object body = json::parse(request.body).as_object();
    json::object& params = body["params"].as_object();
    if (meta.is_null()) {
      params.erase("_meta");
    } else {
      params["_meta"] = meta;
    }
    request.body = json::serialize(body);
    const McpHttpReply reply = call(std::move(request));
    EXPECT_EQ(reply.status, 400);
    EXPECT_EQ(error_code(reply), -32602);
    EXPECT_EQ(body_object(reply).at("id").as_int64(), 1);
  }
}

TEST_P(StreamableHttpTest, ModernUnknownMethodIs404) {
  for (std::string_view method : {"tools/unknown", "initialize", "logging/setLevel"}) {
    SCOPED_TRACE(method);
    const McpHttpReply reply = call(modern_post(method, json::object{{"protocolVersion", "2025-06-18"}}));
    EXPECT_EQ(reply.status, 404);
    EXPECT_EQ(error_code(reply), -32601);
  }
}

TEST_P(StreamableHttpTest, ModernNotificationIsAccepted) {
  const McpHttpReply reply = call(modern_post("notifications/cancelled", json::object{{"requestId", 3}}, nullptr));
  EXPECT_EQ(reply.status, 202);
  EXPECT_TRUE(reply.body.empty());
  EXPECT_TRUE(reply.content_type.empty());

  McpHttpRequest unsupported = modern_post("notifications/cancelled", json::object{{"requestId", 3}}, nullptr);
  unsupported.protocol_version = "2099-01-01";
  const McpHttpReply rejected = call(std::move(unsupported));
  EXPECT_EQ(rejected.status, 400);
  EXPECT_EQ(error_code(rejected), -32022);
}

TEST_P(StreamableHttpTest, ModernBatchIsRejected) {
  McpHttpRequest request = modern_post("tools/list");
  request.body = "[" + request.body + "]";
  const McpHttpReply reply = call(std::move(request));
  EXPECT_EQ(reply.status, 400);
  EXPECT_EQ(error_code(reply), -32600);
}

TEST_P(StreamableHttpTest, ModernListsCarryCacheHints) {
  const json::object tools = body_object(call(modern_post("tools/list"))).at("result").as_object();
  EXPECT_EQ(tools.at("tools").as_array().size(), 2u);
  EXPECT_EQ(tools.at("ttlMs").as_int64(), 60'000);
  EXPECT_EQ(tools.at("cacheScope").as_string(), "public");
  EXPECT_EQ(tools.at("resultType").as_string(), "complete");

  const json::object read =
      body_object(call(modern_post("resources/read", json::object{{"uri", "mem://greeting"}}))).at("result").as_object();
  EXPECT_EQ(read.at("contents").at(0).at("text").as_string(), "hi");
  EXPECT_EQ(read.at("ttlMs").as_int64(), 5'000);
}

TEST_P(StreamableHttpTest, ServerDiscover) {
  const McpHttpReply reply = call(modern_post("server/discover"));
  EXPECT_EQ(reply.status, 200);
  const json::object result = body_object(reply).at("result").as_object();
  EXPECT_EQ(result.at("supportedVersions"),
            (json::array{"2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"}));
  EXPECT_TRUE(result.at("capabilities").as_object().contains("tools"));
  EXPECT_EQ(result.at("resultType").as_string(), "complete");
  EXPECT_EQ(result.at("_meta").at(kMetaServerInfo).at("name").as_string(), "sandgate-test");
}

TEST_P(StreamableHttpTest, ResourceNotFoundIsNumberedPerEra) {
  const McpHttpReply modern = call(modern_post("resources/read", json::object{{"uri", "mem://missing"}}));
  EXPECT_EQ(modern.status, 400);
  EXPECT_EQ(error_code(modern), -32602);
  EXPECT_EQ(body_object(modern).at("error").at("data").at("uri").as_string(), "mem://missing");

  const std::string session = open_session("2025-06-18");
  const McpHttpReply legacy = call(legacy_post(legacy_request(4, "resources/read", R"({"uri":"mem://missing"})"), session));
  EXPECT_EQ(legacy.status, 200);
  EXPECT_EQ(error_code(legacy), -32002);
  EXPECT_EQ(body_object(legacy).at("id").as_int64(), 4);
}

TEST_P(StreamableHttpTest, UnknownToolIsInvalidParams) {
  const McpHttpReply reply = call(modern_post("tools/call", json::object{{"name", "nope"}}));
  EXPECT_EQ(reply.status, 400);
  EXPECT_EQ(error_code(reply), -32602);
  EXPECT_EQ(body_object(reply).at("error").at("message").as_string(), "Unknown tool");
}

TEST_P(StreamableHttpTest, LegacyInitializeOpensASession) {
  const McpHttpReply reply = call(legacy_post(initialize_body("2025-06-18"), std::nullopt));
  EXPECT_EQ(reply.status, 200);
  const auto id = header(reply, "Mcp-Session-Id");
  ASSERT_TRUE(id);
  EXPECT_EQ(id->size(), 32u);
  const json::object result = body_object(reply).at("result").as_object();
  EXPECT_EQ(result.at("protocolVersion").as_string(), "2025-06-18");
  EXPECT_EQ(result.at("serverInfo").at("name").as_string(), "sandgate-test");
  EXPECT_TRUE(result.at("capabilities").as_object().contains("logging"));
  EXPECT_FALSE(result.contains("resultType"));

  auto record = sessions_.touch(*id);
  ASSERT_TRUE(record);
  EXPECT_EQ(record->protocol_version, "2025-06-18");
  EXPECT_EQ(record->client_capabilities_json, R"({"roots":{}})");
}

TEST_P(StreamableHttpTest, LegacyInitializeNegotiatesDownToOurNewest) {
  for (std::string_view asked : {"1999-01-01", "2026-07-28"}) {
    SCOPED_TRACE(asked);
    const McpHttpReply reply = call(legacy_post(initialize_body(asked), std::nullopt));
    EXPECT_EQ(body_object(reply).at("result").at("protocolVersion").as_string(), "2025-11-25");
  }
}

TEST_P(StreamableHttpTest, LegacyInitializeWithoutVersionIsInBandInvalidParams) {
  const McpHttpReply reply = call(legacy_post(R"({"jsonrpc":"2.0","id":0,"method":"initialize","params":{}})", std::nullopt));
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(error_code(reply), -32602);
  EXPECT_FALSE(header(reply, "Mcp-Session-Id"));
  EXPECT_EQ(sessions_.size(), 0u);
}

TEST_P(StreamableHttpTest, LegacySessionFlow) {
  const std::string session = open_session("2025-06-18");
  EXPECT_EQ(call(legacy_post(R"({"jsonrpc":"2.0","method":"notifications/initialized"})", session)).status, 202);
  auto record = sessions_.touch(session);
  ASSERT_TRUE(record);
  EXPECT_TRUE(record->initialized);

  const McpHttpReply reply =
      call(legacy_post(legacy_request(2, "tools/call", R"({"name":"add","arguments":{"a":40,"b":2}})"), session));
  EXPECT_EQ(reply.status, 200);
  const json::object result = body_object(reply).at("result").as_object();
  EXPECT_EQ(result.at("content").at(0).at("text").as_string(), "42");
  EXPECT_FALSE(result.contains("resultType"));
  EXPECT_FALSE(result.contains("_meta"));

  const McpHttpReply ping = call(legacy_post(legacy_request(3, "ping"), session));
  EXPECT_EQ(body_object(ping).at("result"), json::object{});

  // Legacy method errors ride in a 200.
  const McpHttpReply unknown = call(legacy_post(legacy_request(5, "tools/unknown"), session));
  EXPECT_EQ(unknown.status, 200);
  EXPECT_EQ(error_code(unknown), -32601);

}

TEST_P(StreamableHttpTest, LegacyListsCarryNoCacheHints) {
  const std::string session = open_session("2025-11-25");
  McpHttpRequest request = legacy_post(legacy_request(1, "tools/list"), session);
  request.protocol_version = "2025-11-25";
  const json::object result = body_object(call(std::move(request))).at("result").as_object();
  EXPECT_EQ(result.at("tools").as_array().size(), 2u);
  EXPECT_FALSE(result.contains("ttlMs"));
  EXPECT_FALSE(result.contains("cacheScope"));
  EXPECT_FALSE(result.contains("resultType"));

  const McpHttpReply discover = call(legacy_post(legacy_request(2, "server/discover"), session));
  EXPECT_EQ(discover.status, 200);
  EXPECT_EQ(error_code(discover), -32601);
}

TEST_P(StreamableHttpTest, LegacySessionRequiredAndKnown) {
  const McpHttpReply missing = call(legacy_post(legacy_request(1, "tools/list"), std::nullopt));
  EXPECT_EQ(missing.status, 400);
  EXPECT_EQ(error_code(missing), -32600);

  const McpHttpReply unknown = call(legacy_post(legacy_request(1, "tools/list"), std::string(32, 'a')));
  EXPECT_EQ(unknown.status, 404);

  // A legacy version header without a session is still a legacy request.
  McpHttpRequest headed = legacy_post(legacy_request(1, "tools/list"), std::nullopt);
  headed.protocol_version = "2025-06-18";
  EXPECT_EQ(call(std::move(headed)).status, 400);
}

TEST_P(StreamableHttpTest, IdleSessionsExpireOnTheInjectedClock) {
  const std::string session = open_session("2025-06-18");
  clock_.advance(60s);
  EXPECT_EQ(call(legacy_post(legacy_request(1, "ping"), session)).status, 200);
  clock_.advance(60s + std::chrono::nanoseconds(1));
  EXPECT_EQ(call(legacy_post(legacy_request(2, "ping"), session)).status, 404);
}

TEST_P(StreamableHttpTest, DeleteEndsTheSession) {
  const std::string session = open_session("2025-06-18");
  McpHttpRequest del;
  del.method = "DELETE";
  del.session_id = session;
  EXPECT_EQ(call(del).status, 200);
  EXPECT_EQ(call(legacy_post(legacy_request(1, "ping"), session)).status, 404);
  EXPECT_EQ(call(del).status, 404);
  EXPECT_EQ(sessions_.counters().get(metrics::Counter::kSessionsClosed), 1u);
}

TEST_P(StreamableHttpTest, GetOpensTheSessionEventStream) {
  const std::string session = open_session("2025-06-18");
  McpHttpRequest get;
  get.method = "GET";
  get.accept = "text/event-stream";
  get.session_id = session;
  const McpHttpReply stream = call(get);
  EXPECT_EQ(stream.status, 200);
  EXPECT_EQ(stream.content_type, "text/event-stream");
  EXPECT_EQ(stream.event_stream_session, session);

  get.accept = "application/json";
  EXPECT_EQ(call(get).status, 406);
  get.accept = "text/event-stream";
  get.session_id = std::string(32, 'f');
  EXPECT_EQ(call(get).status, 404);
}

TEST_P(StreamableHttpTest, OtherVerbsAreNotAllowed) {
  McpHttpRequest get;
  get.method = "GET";
  get.accept = "text/event-stream";
  const McpHttpReply no_session = call(get);
  EXPECT_EQ(no_session.status, 405);
  EXPECT_EQ(header(no_session, "Allow"), "POST");

  // A modern client has no session stream either.
  const std::string session = open_session("2025-06-18");
  get.session_id = session;
  get.protocol_version = std::string(kModernVersion);
  EXPECT_EQ(call(get).status, 405);

  McpHttpRequest put = legacy_post(legacy_request(1, "ping"), session);
  put.method = "PUT";
  const McpHttpReply reply = call(put);
  EXPECT_EQ(reply.status, 405);
  EXPECT_EQ(header(reply, "Allow"), "GET, POST, DELETE");
}

TEST_P(StreamableHttpTest, BatchesOnlyForSessionsAt2025_03_26) {
  const std::string batch_body = "[" + legacy_request(1, "tools/call", R"({"name":"add","arguments":{"a":1,"b":2}})") + "," +
                                 legacy_request(2, "tools/list") + R"(,{"jsonrpc":"2.0","method":"notifications/initialized"},7])";

  const std::string old_session = open_session("2025-03-26");
  const McpHttpReply reply = call(legacy_post(batch_body, old_session));
  EXPECT_EQ(reply.status, 200);
  const json::value answers = body_json(reply);
  ASSERT_TRUE(answers.is_array()) << reply.body;
  ASSERT_EQ(answers.as_array().size(), 3u);
  std::map<std::string, json::object> by_id;
  for (const json::value& answer : answers.as_array()) by_id[json::serialize(answer.at("id"))] = answer.as_object();
  ASSERT_EQ(by_id.count("1"), 1u);
  ASSERT_EQ(by_id.count("2"), 1u);
  ASSERT_EQ(by_id.count("null"), 1u);
  EXPECT_EQ(by_id["1"].at("result").at("content").at(0).at("text").as_string(), "3");
  EXPECT_EQ(by_id["2"].at("result").at("tools").as_array().size(), 2u);
  EXPECT_EQ(by_id["null"].at("error").at("code").as_int64(), -32600);

  const McpHttpReply notifications_only =
      call(legacy_post(R"([{"jsonrpc":"2.0","method":"notifications/initialized"}])", old_session));
  EXPECT_EQ(notifications_only.status, 202);

  const McpHttpReply batched_initialize = call(legacy_post("[" + initialize_body("2025-03-26") + "]", old_session));
  EXPECT_EQ(body_json(batched_initialize).at(0).at("error").at("code").as_int64(), -32600);

  for (std::string_view version : {"2025-06-18", "2025-11-25", "2024-11-05"}) {
    SCOPED_TRACE(version);
    const McpHttpReply rejected = call(legacy_post(batch_body, open_session(version)));
    EXPECT_EQ(rejected.status, 400);
    EXPECT_EQ(error_code(rejected), -32600);
  }
  EXPECT_EQ(call(legacy_post(batch_body, std::nullopt)).status, 400);
}

TEST_P(StreamableHttpTest, OriginsAreCheckedFirst) {
  McpHttpRequest request = modern_post("tools/list");
  request.origin = "http://evil.example";
  const McpHttpReply reply = call(request);
  EXPECT_EQ(reply.status, 403);
  EXPECT_EQ(error_code(reply), -32600);

  request.origin = "http://localhost:6274";
  EXPECT_EQ(call(request).status, 200);
}

TEST_P(StreamableHttpTest, OnlyLoopbackOriginsByDefault) {
  for (std::string_view origin : {"http://localhost", "http://localhost:3000", "https://LOCALHOST:8443", "http://127.0.0.1",
                                  "http://127.0.0.1:8000/", "http://[::1]", "http://[::1]:8080"}) {
    SCOPED_TRACE(origin);
    EXPECT_TRUE(http_.origin_allowed(origin));
  }
  for (std::string_view origin : {"http://localhost.evil.example", "http://evil.localhost", "http://127.0.0.2",
                                  "http://[::2]", "http://[::1", "null", "localhost", "", "http://0.0.0.0"}) {
    SCOPED_TRACE(origin);
    EXPECT_FALSE(http_.origin_allowed(origin));
  }
}

TEST_P(StreamableHttpTest, ConfiguredOriginsAreExactAndAddToLoopback) {
  StreamableHttp http(HttpPolicy{{"https://app.example"}, ResponseMode::kJson}, conversation_);
  for (std::string_view origin : {"https://app.example", "http://localhost:3000", "http://127.0.0.1"}) {
    SCOPED_TRACE(origin);
    EXPECT_TRUE(http.origin_allowed(origin));
  }
  for (std::string_view origin : {"https://app.example:443", "http://app.example", "https://app.example/",
                                  "https://APP.example", "https://evil.example"}) {
    SCOPED_TRACE(origin);
    EXPECT_FALSE(http.origin_allowed(origin));
  }
}

TEST_P(StreamableHttpTest, WildcardOriginAllowsAny) {
  StreamableHttp http(HttpPolicy{{"*"}, ResponseMode::kJson}, conversation_);
  EXPECT_TRUE(http.origin_allowed("https://evil.example"));
  EXPECT_TRUE(http.origin_allowed("null"));
  McpHttpRequest request = modern_post("tools/list");
  request.origin = "https://evil.example";
  EXPECT_EQ(call_on(http, std::move(request)).status, 200);
}

TEST_P(StreamableHttpTest, AcceptNegotiation) {
  struct Case {
    std::optional<std::string> accept;
    int status;
    std::string content_type;
  };
  const Case cases[] = {
      {std::nullopt, 406, "application/json"},
      {"text/html", 406, "application/json"},
      {"application/json", 200, "application/json"},
      {"text/event-stream", 200, "text/event-stream"},
      {"Application/JSON, text/event-stream", 200, "application/json"},
      {"*/*", 200, "application/json"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.accept.value_or("<none>"));
    McpHttpRequest request = modern_post("tools/list");
    request.accept = c.accept;
    const McpHttpReply reply = call(std::move(request));
    EXPECT_EQ(reply.status, c.status);
    EXPECT_EQ(reply.content_type, c.content_type);
    if (c.status == 406) {
      EXPECT_EQ(error_code(reply), -32600);
    }
  }
}

TEST_P(StreamableHttpTest, SseRepliesAreOneMessageEvent) {
  McpHttpRequest request = modern_post("tools/list");
  request.accept = "text/event-stream";
  const McpHttpReply reply = call(std::move(request));
  EXPECT_EQ(reply.content_type, "text/event-stream");
  const std::string prefix = "event: message\ndata: ";
  ASSERT_EQ(reply.body.rfind(prefix, 0), 0u) << reply.body;
  ASSERT_GE(reply.body.size(), prefix.size() + 2);
  EXPECT_EQ(reply.body.substr(reply.body.size() - 2), "\n\n");
  const json::value message = json::parse(reply.body.substr(prefix.size(), reply.body.size() - prefix.size() - 2));
  EXPECT_EQ(message.at("id").as_int64(), 1);
  EXPECT_EQ(header(reply, "Cache-Control"), "no-cache, no-transform");

  StreamableHttp sse(HttpPolicy{{}, ResponseMode::kSse}, conversation_);
  EXPECT_EQ(call_on(sse, modern_post("tools/list")).content_type, "text/event-stream");
  McpHttpRequest json_only = modern_post("tools/list");
  json_only.accept = "application/json";
  EXPECT_EQ(call_on(sse, std::move(json_only)).content_type, "application/json");
}

TEST_P(StreamableHttpTest, ContentTypeMustBeJson) {
  struct Case {
    std::optional<std::string> content_type;
    int status;
  };
  const Case cases[] = {
      {std::nullopt, 415},        {"text/plain", 415},          {"application/jsonx", 415},
      {"application/json-seq", 415}, {"application/x-json", 415}, {"application/json", 200},
      {"application/json; charset=utf-8", 200}, {"Application/JSON", 200},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.content_type.value_or("<none>"));
    McpHttpRequest request = modern_post("tools/list");
    request.content_type = c.content_type;
    const McpHttpReply reply = call(std::move(request));
    EXPECT_EQ(reply.status, c.status);
    if (c.status == 415) {
      EXPECT_EQ(error_code(reply), -32600);
    }
  }
}

TEST_P(StreamableHttpTest, UnparsableBodyIsAParseError) {
  for (std::string_view body : {"{", "", "[]"}) {
    SCOPED_TRACE(body);
    McpHttpRequest request = modern_post("tools/list");
    request.body = std::string(body);
    const McpHttpReply reply = call(std::move(request));
    EXPECT_EQ(reply.status, 400);
    EXPECT_EQ(error_code(reply), body == "[]" ? -32600 : -32700);
    EXPECT_TRUE(body_object(reply).at("id").is_null());
  }
}

TEST_P(StreamableHttpTest, SessionLimitAnswers503) {
  SessionTable one(SessionTableLimits{1, 60s}, clock_);
  Conversation conversation(engine_, one, open_stages(counters_));
  StreamableHttp http(HttpPolicy{}, conversation);
  EXPECT_EQ(call_on(http, legacy_post(initialize_body("2025-06-18"), std::nullopt)).status, 200);
  const McpHttpReply full = call_on(http, legacy_post(initialize_body("2025-06-18"), std::nullopt));
  EXPECT_EQ(full.status, 503);
  EXPECT_FALSE(header(full, "Mcp-Session-Id"));
  EXPECT_EQ(one.counters().get(metrics::Counter::kSessionsRejectedFull), 1u);
}

TEST(FaultReply, CarriesStatusCodeAndAllowHeader) {
  const McpHttpReply reply = StreamableHttp::fault_reply({Failure::kHttpMethodNotAllowed, "no"}, Era::kModern, json::value("7"));
  EXPECT_EQ(reply.status, 405);
  EXPECT_EQ(reply.content_type, "application/json");
  EXPECT_EQ(header(reply, "Allow"), "GET, POST, DELETE");
  EXPECT_EQ(json::parse(reply.body).at("id").as_string(), "7");

  const McpHttpReply large = StreamableHttp::fault_reply({Failure::kBodyTooLarge, "big"}, Era::kLegacy);
  EXPECT_EQ(large.status, 413);
  EXPECT_TRUE(large.headers.empty());
}

TEST(SseEvent, FramesOneMessage) {
  EXPECT_EQ(sse_event(R"({"a":1})"), "event: message\ndata: {\"a\":1}\n\n");
}

}  // namespace
}  // namespace sandgate::mcp
