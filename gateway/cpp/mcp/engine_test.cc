#include "mcp/engine.h"

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <vector>

#include "mcp/recording_sink_test.h"
#include "policy/tool_policy.h"

namespace sandgate::mcp {
namespace {

// Keeps what each invocation was planned to run under.
class PlanRecorder final : public Dispatcher {
 public:
  std::string catalog_json() override {
    return R"({"tools":[{"name":"fast"},{"name":"slow"}],"resources":[{"uri":"r://x","name":"x"}]})";
  }
  void invoke(Invocation invocation, std::shared_ptr<CancelToken>, OutcomeCallback done) override {
    plans.push_back(invocation.plan);
    done({OutcomeStatus::kOk, R"({"content":[]})"});
  }
  std::vector<std::optional<policy::SandboxPlan>> plans;
};

Message request(std::string_view method, std::string_view params) {
  auto body = decode_body(R"({"jsonrpc":"2.0","id":1,"method":")" + std::string(method) + R"(","params":)" +
                          std::string(params) + "}");
  return std::get<Message>(std::get<Body>(std::move(body)).messages.at(0));
}

void handle(const Engine& engine, const Message& message) {
  RequestContext context;
  context.era = Era::kLegacy;
  engine.handle(message, context, std::make_shared<CancelToken>(), [](Reply, const OutcomeFacts&) {});
}

TEST(EngineSandboxPlan, EachCallCarriesTheGrantsPlanForItsToolOrTheServer) {
  policy::SandboxSettings settings;
  settings.defaults = policy::SandboxLimits{30, 10, 1000, 1000, 64, 256, 1000, 1000};
  settings.ceiling = policy::SandboxLimits{60, 20, 2000, 2000, 128, 512, 2000, 2000};
  EngineSettings engine_settings;
  engine_settings.sandbox = std::make_shared<policy::SandboxGrant>(
      R"({"tools":{"fast":{"isolation":"per_session","sandbox":{"wall_time":5}}}})", settings);
  auto dispatcher = std::make_shared<PlanRecorder>();
  Engine engine(engine_settings, dispatcher);

  handle(engine, request("tools/call", R"({"name":"fast"})"));
  handle(engine, request("tools/call", R"({"name":"slow"})"));
  handle(engine, request("resources/read", R"({"uri":"r://x"})"));
  ASSERT_EQ(dispatcher->plans.size(), 3u);
  EXPECT_EQ(dispatcher->plans[0]->isolation, policy::Isolation::kPerSession);
  EXPECT_EQ(dispatcher->plans[0]->limits.wall_time, 5);
  EXPECT_EQ(dispatcher->plans[1], engine_settings.sandbox->server());
  EXPECT_EQ(dispatcher->plans[2], engine_settings.sandbox->server());
}

TEST(EngineLists, UnderAPolicyACallerListsOnlyWhatItMayCallAndTheListIsPrivate) {
  auto compiled = policy::ToolPolicy::compile(
      R"({"name":"t","rules":[{"id":"fast","effect":"allow","principals":["*"],"tools":["fast"]}]})");
  auto dispatcher = std::make_shared<PlanRecorder>();
  Engine engine(EngineSettings{}, dispatcher);
  auto list = [&](std::shared_ptr<const policy::ToolPolicy> policy) {
    RequestContext context;
    context.era = Era::kModern;
    context.admission.policy = std::move(policy);
    json::object result;
    engine.handle(request("tools/list", "{}"), context, std::make_shared<CancelToken>(),
                  [&](Reply reply, const OutcomeFacts&) { result = json::parse(std::get<std::string>(reply)).as_object(); });
    return result;
  };
  const json::object open = list(nullptr);
  EXPECT_EQ(open.at("tools").as_array().size(), 2u);
  EXPECT_EQ(open.at("cacheScope").as_string(), "public");
  const json::object filtered = list(std::get<std::shared_ptr<const policy::ToolPolicy>>(compiled));
  ASSERT_EQ(filtered.at("tools").as_array().size(), 1u);
  EXPECT_EQ(filtered.at("tools").as_array()[0].at("name").as_string(), "fast");
  EXPECT_EQ(filtered.at("cacheScope").as_string(), "private");
}

TEST(EngineSandboxPlan, ThePolicyRuleThatAllowedACallSetsItsLimitsOverTheModules) {
  auto compiled = policy::ToolPolicy::compile(
      R"({"name":"t","rules":[{"id":"slow-builds","effect":"allow","principals":["*"],"tools":["fast"],
          "isolation":"per_session","sandbox":{"wall_time":120,"memory":4096}}]})");
  const auto rules = std::get<std::shared_ptr<const policy::ToolPolicy>>(compiled);
  policy::SandboxSettings settings;
  settings.defaults = policy::SandboxLimits{30, 10, 1000, 1000, 64, 256, 1000, 1000};
  settings.ceiling = policy::SandboxLimits{60, 20, 2000, 2000, 128, 512, 2000, 2000};
  EngineSettings engine_settings;
  engine_settings.sandbox = std::make_shared<policy::SandboxGrant>(R"({"tools":{"fast":{"sandbox":{"cpu_time":5}}}})",
                                                                   settings);
  auto dispatcher = std::make_shared<PlanRecorder>();
  Engine engine(engine_settings, dispatcher);
  RequestContext context;
  context.era = Era::kLegacy;
  context.admission.policy = rules;
  context.admission.grant = &rules->rules()[0];
  engine.handle(request("tools/call", R"({"name":"fast"})"), context, std::make_shared<CancelToken>(),
                [](Reply, const OutcomeFacts&) {});
  ASSERT_EQ(dispatcher->plans.size(), 1u);
  const policy::SandboxPlan& plan = *dispatcher->plans[0];
  EXPECT_EQ(plan.isolation, policy::Isolation::kPerSession);
  EXPECT_EQ(plan.limits.wall_time, 120);  // the rule's, past the module ceiling of 60: the operator's word
  EXPECT_EQ(plan.limits.memory, 4096u);
  EXPECT_EQ(plan.limits.cpu_time, 5);     // the module's own request, within the ceiling
  EXPECT_EQ(plan.limits.max_processes, 64u);

  policy::SandboxPlan in_process{policy::Isolation::kNone, settings.defaults};
  EXPECT_EQ(policy::granted_plan(in_process, rules->rules()[0]), in_process);  // trusted code stays in-process
}

TEST(EngineSandboxPlan, WithoutAGrantNoPlanIsSent) {
  auto dispatcher = std::make_shared<PlanRecorder>();
  Engine engine(EngineSettings{}, dispatcher);
  handle(engine, request("tools/call", R"({"name":"fast"})"));
  ASSERT_EQ(dispatcher->plans.size(), 1u);
  EXPECT_EQ(dispatcher->plans[0], std::nullopt);
}

}  // namespace
}  // namespace sandgate::mcp

namespace sandgate::mcp {
namespace {

// Keeps what each completion invocation carried.
class InvocationRecorder final : public Dispatcher {
 public:
  std::string catalog_json() override { return R"({"prompts":[{"name":"p"}]})"; }
  void invoke(Invocation invocation, std::shared_ptr<CancelToken>, OutcomeCallback done) override {
    seen.push_back(std::move(invocation));
    done({OutcomeStatus::kOk, R"({"completion":{"values":["a"]}})"});
  }
  std::vector<Invocation> seen;
};

Reply reply_to(const Engine& engine, const Message& message) {
  Reply reply = std::string();
  RequestContext context;
  context.era = Era::kLegacy;
  engine.handle(message, context, std::make_shared<CancelToken>(), [&](Reply r, const OutcomeFacts&) { reply = r; });
  return reply;
}

TEST(EngineCompletion, APromptOrTemplateRefGoesToTheDispatcherWithTheParamsAsSent) {
  auto dispatcher = std::make_shared<InvocationRecorder>();
  Engine engine(EngineSettings{}, dispatcher);
  const std::string prompt_params =
      R"({"ref":{"type":"ref/prompt","name":"p"},"argument":{"name":"a","value":"x"},"context":{"arguments":{"b":"1"}}})";
  const Reply reply = reply_to(engine, request("completion/complete", prompt_params));
  ASSERT_TRUE(std::holds_alternative<std::string>(reply));
  EXPECT_EQ(json::parse(std::get<std::string>(reply)).at("completion").at("values").at(0), "a");
  reply_to(engine, request("completion/complete",
                           R"({"ref":{"type":"ref/resource","uri":"t://{id}"},"argument":{"name":"id","value":""}})"));
  ASSERT_EQ(dispatcher->seen.size(), 2u);
  EXPECT_EQ(dispatcher->seen[0].kind, InvocationKind::kCompletion);
  EXPECT_EQ(dispatcher->seen[0].name, "p");
  EXPECT_EQ(dispatcher->seen[0].arguments_json, prompt_params);
  EXPECT_EQ(dispatcher->seen[1].name, "t://{id}");
}

TEST(EngineCompletion, MalformedParamsAreInvalidParamsAndReachNoHandler) {
  auto dispatcher = std::make_shared<InvocationRecorder>();
  Engine engine(EngineSettings{}, dispatcher);
  for (const char* params : {
           R"({"argument":{"name":"a","value":"x"}})",
           R"({"ref":{"type":"ref/tool","name":"p"},"argument":{"name":"a","value":"x"}})",
           R"({"ref":{"type":"ref/prompt"},"argument":{"name":"a","value":"x"}})",
           R"({"ref":{"type":"ref/resource","uri":7},"argument":{"name":"a","value":"x"}})",
           R"({"ref":{"type":"ref/prompt","name":"p"}})",
           R"({"ref":{"type":"ref/prompt","name":"p"},"argument":{"name":"a","value":3}})",
           R"({"ref":{"type":"ref/prompt","name":"p"},"argument":{"name":"a","value":"x"},"context":[]})",
           R"({"ref":{"type":"ref/prompt","name":"p"},"argument":{"name":"a","value":"x"},"context":{"arguments":{"b":2}}})",
       }) {
    const Reply reply = reply_to(engine, request("completion/complete", params));
    ASSERT_TRUE(std::holds_alternative<Fault>(reply)) << params;
    EXPECT_EQ(std::get<Fault>(reply).kind, Failure::kInvalidParams) << params;
  }
  EXPECT_TRUE(dispatcher->seen.empty());
}

}  // namespace
}  // namespace sandgate::mcp

namespace sandgate::mcp {
namespace {

// Answers every call with the body it is given: a sandboxed child's reply is whatever it wrote.
class FixedReply final : public Dispatcher {
 public:
  explicit FixedReply(std::string body, OutcomeStatus status = OutcomeStatus::kOk)
      : body_(std::move(body)), status_(status) {}
  std::string catalog_json() override { return R"({"tools":[{"name":"t"}]})"; }
  void invoke(Invocation invocation, std::shared_ptr<CancelToken>, OutcomeCallback done) override {
    seen.push_back(std::move(invocation));
    done({status_, body_});
  }
  std::vector<Invocation> seen;

 private:
  std::string body_;
  OutcomeStatus status_;
};

Reply modern_call(const Engine& engine, std::string_view extra_params = "",
                  std::string_view capabilities = R"({"sampling":{}})") {
  const std::string params = R"({"name":"t","_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28",)"
                             R"("io.modelcontextprotocol/clientCapabilities":)" + std::string(capabilities) + "}" +
                             std::string(extra_params) + "}";
  Reply reply = std::string();
  RequestContext context;
  context.era = Era::kModern;
  context.principal.name = "alice";
  engine.handle(request("tools/call", params), context, std::make_shared<CancelToken>(),
                [&](Reply r, const OutcomeFacts&) { reply = r; });
  return reply;
}

constexpr std::string_view kSampling = R"({"method":"sampling/createMessage","params":{"maxTokens":1,"messages":[]}})";

TEST(EngineInputRequired, TheStateIsSealedAndOpensOnlyOnTheRetry) {
  auto dispatcher = std::make_shared<FixedReply>(R"({"resultType":"input_required","inputRequests":{"s":)" +
                                                 std::string(kSampling) + R"(},"requestState":"round-1"})");
  Engine engine(EngineSettings{}, dispatcher);
  const Reply first = modern_call(engine);
  ASSERT_TRUE(std::holds_alternative<std::string>(first));
  const json::value result = json::parse(std::get<std::string>(first));
  EXPECT_EQ(result.at("resultType"), "input_required");
  const std::string state(result.at("requestState").as_string());
  EXPECT_EQ(state.find("round-1"), std::string::npos);
  modern_call(engine, R"(,"inputResponses":{"s":{"role":"assistant"}},"requestState":")" + state + "\"");
  ASSERT_EQ(dispatcher->seen.size(), 2u);
  EXPECT_TRUE(dispatcher->seen[0].round_trip_json.empty());
  EXPECT_EQ(json::parse(dispatcher->seen[1].round_trip_json),
            json::parse(R"({"inputResponses":{"s":{"role":"assistant"}},"requestState":"round-1"})"));
  const Reply forged = modern_call(engine, R"(,"requestState":"round-1")");
  ASSERT_TRUE(std::holds_alternative<Fault>(forged));
  EXPECT_EQ(std::get<Fault>(forged).kind, Failure::kInvalidParams);
  EXPECT_EQ(dispatcher->seen.size(), 2u);  // a refused state runs nothing
}

TEST(EngineInputRequired, AChildsMalformedOrUndeclaredRequestsNeverReachTheClient) {
  const std::string undeclared = R"({"resultType":"input_required","inputRequests":{"e":{"method":"elicitation/create","params":{}}}})";
  Engine asks_elicitation(EngineSettings{}, std::make_shared<FixedReply>(undeclared));
  const Reply missing = modern_call(asks_elicitation);
  ASSERT_TRUE(std::holds_alternative<Fault>(missing));
  EXPECT_EQ(std::get<Fault>(missing).kind, Failure::kMissingClientCapability);
  EXPECT_EQ(json::parse(std::get<Fault>(missing).data_json),
            json::parse(R"({"requiredCapabilities":{"elicitation":{}}})"));
  for (const char* body : {
           R"({"resultType":"input_required"})",
           R"({"resultType":"input_required","inputRequests":{}})",
           R"({"resultType":"input_required","inputRequests":[]})",
           R"({"resultType":"input_required","inputRequests":{"x":{"method":"tools/call","params":{}}}})",
           R"({"resultType":"input_required","inputRequests":{"x":{"method":"roots/list"}}})",
           R"({"resultType":"input_required","inputRequests":{"x":{"method":"roots/list","params":{}}},"requestState":7})",
       }) {
    Engine engine(EngineSettings{}, std::make_shared<FixedReply>(body));
    const Reply reply = modern_call(engine, "", R"({"sampling":{},"roots":{}})");
    ASSERT_TRUE(std::holds_alternative<Fault>(reply)) << body;
    EXPECT_EQ(std::get<Fault>(reply).kind, Failure::kInternalError) << body;
  }
}

// What one request was answered, once it is.
struct Answered {
  std::optional<Reply> reply;
  int count = 0;
  ReplyCallback callback() {
    return [this](Reply r, const OutcomeFacts&) {
      reply = std::move(r);
      ++count;
    };
  }
};

TEST(EngineInputRequired, AUrlElicitationNeedsTheClientsElicitationUrl) {
  const std::string asks = R"({"resultType":"input_required","inputRequests":{)"
                           R"("f":{"method":"elicitation/create","params":{"message":"m","requestedSchema":{}}},)"
                           R"("u":{"method":"elicitation/create","params":{"mode":"url","message":"m",)"
                           R"("url":"https://x","elicitationId":"e"}}}})";
  Engine engine(EngineSettings{}, std::make_shared<FixedReply>(asks));
  const Reply forms_only = modern_call(engine, "", R"({"elicitation":{}})");
  ASSERT_TRUE(std::holds_alternative<Fault>(forms_only));
  EXPECT_EQ(json::parse(std::get<Fault>(forms_only).data_json),
            json::parse(R"({"requiredCapabilities":{"elicitation":{"url":{}}}})"));
  const Reply urls_only = modern_call(engine, "", R"({"elicitation":{"url":{}}})");
  EXPECT_EQ(json::parse(std::get<Fault>(urls_only).data_json),
            json::parse(R"({"requiredCapabilities":{"elicitation":{"form":{}}}})"));
  const Reply neither = modern_call(engine, "", R"({})");
  EXPECT_EQ(json::parse(std::get<Fault>(neither).data_json),
            json::parse(R"({"requiredCapabilities":{"elicitation":{"url":{}}}})"));
  EXPECT_TRUE(std::holds_alternative<std::string>(modern_call(engine, "", R"({"elicitation":{"form":{},"url":{}}})")));
}

TEST(EngineUrlElicitation, AHandlersNeedGoesOutAs32042OnlyWellFormedAndToAClientThatTakesUrls) {
  auto legacy_call = [](const Engine& engine, std::string capabilities) {
    RequestContext context;
    context.era = Era::kLegacy;
    context.session = "s";
    context.client_capabilities_json = std::move(capabilities);
    Reply reply = std::string();
    engine.handle(request("tools/call", R"({"name":"t"})"), context, std::make_shared<CancelToken>(),
                  [&](Reply r, const OutcomeFacts&) { reply = r; });
    return reply;
  };
  const std::string needed = R"({"message":"sign in","data":{"elicitations":[)"
                             R"({"mode":"url","message":"m","url":"https://x","elicitationId":"e"}]}})";
  Engine engine(EngineSettings{}, std::make_shared<FixedReply>(needed, OutcomeStatus::kUrlElicitationRequired));
  const Reply sent = legacy_call(engine, R"({"elicitation":{"url":{}}})");
  ASSERT_TRUE(std::holds_alternative<Fault>(sent));
  EXPECT_EQ(std::get<Fault>(sent).kind, Failure::kUrlElicitationRequired);
  EXPECT_EQ(to_wire(std::get<Fault>(sent), Era::kLegacy).jsonrpc_code, -32042);
  EXPECT_EQ(std::get<Fault>(legacy_call(engine, R"({"elicitation":{}})")).kind, Failure::kInternalError);
  EXPECT_EQ(std::get<Fault>(modern_call(engine, "", R"({"elicitation":{"url":{}}})")).kind, Failure::kInternalError);
  for (const char* body : {
           R"({"message":"m"})",
           R"({"message":"m","data":{"elicitations":[]}})",
           R"({"message":"m","data":{"elicitations":[{"mode":"form","message":"m","url":"u","elicitationId":"e"}]}})",
           R"({"message":"m","data":{"elicitations":[{"mode":"url","message":"m","url":7,"elicitationId":"e"}]}})",
           R"({"message":"m","data":{"elicitations":[{"mode":"url","message":"m","url":"u","elicitationId":"e","x":1}]}})",
           R"({"message":"m","data":{"elicitations":[{"mode":"url","message":"m","url":"javascript:void","elicitationId":"e"}]}})",
           R"({"message":"m","data":{"elicitations":[{"mode":"url","message":"m","url":"https:///x","elicitationId":"e"}]}})",
           R"({"message":"m","data":{"elicitations":[{"mode":"url","message":"m","url":"https://a b","elicitationId":"e"}]}})",
       }) {
    Engine malformed(EngineSettings{}, std::make_shared<FixedReply>(body, OutcomeStatus::kUrlElicitationRequired));
    const Reply reply = legacy_call(malformed, R"({"elicitation":{"url":{}}})");
    EXPECT_EQ(std::get<Fault>(reply).kind, Failure::kInternalError) << body;
  }
}

TEST(EngineSubscriptions, ALegacySessionSubscribesAndHearsOnItsStream) {
  Engine engine(EngineSettings{}, std::make_shared<PlanRecorder>());
  auto stream = std::make_shared<RecordingSink>();
  engine.subscriptions()->attach("s1", stream);
  RequestContext context;
  context.era = Era::kLegacy;
  context.session = "s1";
  Answered answered;
  engine.handle(request("resources/subscribe", R"({"uri":"r://x"})"), context, nullptr, answered.callback());
  ASSERT_TRUE(answered.reply);
  EXPECT_EQ(std::get<std::string>(*answered.reply), "{}");
  engine.handle(request("resources/subscribe", R"({"uri":5})"), context, nullptr, answered.callback());
  EXPECT_EQ(std::get<Fault>(*answered.reply).kind, Failure::kInvalidParams);
  EXPECT_EQ(engine.subscriptions()->announce(Change::kResourceUpdated, "r://x"), 1u);
  ASSERT_EQ(stream->messages().size(), 1u);
  engine.session_ended("s1");
  EXPECT_EQ(engine.subscriptions()->announce(Change::kResourceUpdated, "r://x"), 0u);
  // The modern era has no resources/subscribe: subscriptions/listen replaces it.
  context.era = Era::kModern;
  engine.handle(request("resources/subscribe", R"({"uri":"r://x"})"), context, nullptr, answered.callback());
  EXPECT_EQ(std::get<Fault>(*answered.reply).kind, Failure::kMethodNotFound);
}

TEST(EngineSubscriptions, AListenStreamIsAcknowledgedFirstAndAnsweredWhenCancelled) {
  Engine engine(EngineSettings{}, std::make_shared<PlanRecorder>());
  auto stream = std::make_shared<RecordingSink>();
  RequestContext context;
  context.era = Era::kModern;
  context.notifications = stream;
  auto cancel = std::make_shared<CancelToken>();
  Answered answered;
  engine.handle(request("subscriptions/listen", R"({"notifications":{"toolsListChanged":true,"other":1}})"), context,
                cancel, answered.callback());
  EXPECT_FALSE(answered.reply);  // open until it ends
  ASSERT_EQ(stream->messages().size(), 1u);
  const json::value ack = json::parse(stream->messages()[0]);
  EXPECT_EQ(ack.at("method"), "notifications/subscriptions/acknowledged");
  EXPECT_EQ(ack.at("params").at("notifications"), json::parse(R"({"toolsListChanged":true})"));
  EXPECT_EQ(ack.at("params").at("_meta").at(kMetaSubscriptionId), 1);
  engine.subscriptions()->announce(Change::kToolsListChanged);
  ASSERT_EQ(stream->messages().size(), 2u);
  cancel->cancel();
  ASSERT_EQ(answered.count, 1);
  const json::value result = json::parse(std::get<std::string>(*answered.reply));
  EXPECT_EQ(result.at("resultType"), "complete");
  EXPECT_EQ(result.at("_meta").at(kMetaSubscriptionId), 1);
  EXPECT_EQ(engine.subscriptions()->listener_count(), 0u);
  engine.end_listen_streams();
  EXPECT_EQ(answered.count, 1);  // answered once only
}

TEST(EngineSubscriptions, TheServerEndsEveryListenStreamAndAStreamlessRequestCannotListen) {
  Engine engine(EngineSettings{}, std::make_shared<PlanRecorder>());
  RequestContext context;
  context.era = Era::kModern;
  Answered refused;
  engine.handle(request("subscriptions/listen", R"({"notifications":{}})"), context, nullptr, refused.callback());
  EXPECT_EQ(std::get<Fault>(*refused.reply).kind, Failure::kInvalidRequest);
  context.notifications = std::make_shared<RecordingSink>(false);  // a client that takes no event stream
  engine.handle(request("subscriptions/listen", R"({"notifications":{}})"), context, nullptr, refused.callback());
  EXPECT_EQ(std::get<Fault>(*refused.reply).kind, Failure::kInvalidRequest);
  context.notifications = std::make_shared<RecordingSink>();
  Answered open;
  engine.handle(request("subscriptions/listen", R"({"notifications":{}})"), context, std::make_shared<CancelToken>(),
                open.callback());
  EXPECT_EQ(engine.subscriptions()->listener_count(), 1u);
  engine.end_listen_streams();
  ASSERT_EQ(open.count, 1);
  EXPECT_TRUE(std::holds_alternative<std::string>(*open.reply));
  EXPECT_EQ(engine.subscriptions()->listener_count(), 0u);
}

}  // namespace
}  // namespace sandgate::mcp
