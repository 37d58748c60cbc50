#include "audit/audit_log.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "audit/audit_line.h"
#include "common/json_text.h"
#include "policy/tool_policy.h"

namespace sandgate::audit {
namespace {

using namespace std::chrono_literals;

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

struct Fixture {
  std::filesystem::path dir = std::filesystem::temp_directory_path() / ("audit-test-" + std::to_string(getpid()));
  std::shared_ptr<ManualWallClock> clock = std::make_shared<ManualWallClock>(std::chrono::seconds(1'800'000'000));
  std::shared_ptr<metrics::Counters> counters = std::make_shared<metrics::Counters>();
  Fixture() { std::filesystem::create_directories(dir); }
  ~Fixture() { std::filesystem::remove_all(dir); }
  std::unique_ptr<AuditLog> open(std::size_t max_queued = 100) {
    return std::make_unique<AuditLog>(AuditSettings{(dir / "audit.log").string(), max_queued, "salt"}, clock, counters);
  }
};

TEST(AuditLogTest, LinesAreAppendedOnePerLineAndTheFileIsReopenedAfterRotation) {
  Fixture f;
  auto log = f.open();
  log->write(R"({"n":1})");
  log->write(R"({"n":2})");
  log->flush();
  EXPECT_EQ(read_file(f.dir / "audit.log"), "{\"n\":1}\n{\"n\":2}\n");
  std::filesystem::rename(f.dir / "audit.log", f.dir / "audit.log.1");  // logrotate's move
  log->reopen();
  log->write(R"({"n":3})");
  log->flush();
  EXPECT_EQ(read_file(f.dir / "audit.log"), "{\"n\":3}\n");
  EXPECT_EQ(read_file(f.dir / "audit.log.1"), "{\"n\":1}\n{\"n\":2}\n");
  EXPECT_EQ(f.counters->get(metrics::Counter::kAuditLinesWritten), 3u);
  EXPECT_EQ(std::filesystem::status(f.dir / "audit.log").permissions() & std::filesystem::perms::others_read,
            std::filesystem::perms::none);
}

TEST(AuditLogTest, AFullQueueDropsAndCountsRatherThanWaiting) {
  Fixture f;
  auto log = f.open(0);
  log->write(R"({"n":1})");
  log->flush();
  EXPECT_EQ(read_file(f.dir / "audit.log"), "");
  EXPECT_EQ(f.counters->get(metrics::Counter::kAuditLinesDropped), 1u);
}

TEST(AuditLogTest, AnUnopenablePathIsRefusedAtStart) {
  Fixture f;
  EXPECT_THROW(AuditLog(AuditSettings{(f.dir / "missing" / "audit.log").string(), 10, ""}, f.clock, f.counters),
               std::runtime_error);
}

std::string request_line(const AuditLog& log, const mcp::RequestContext& context, const RequestFacts& request,
                         std::optional<mcp::Failure> failure, const mcp::OutcomeFacts& facts, double duration_ms) {
  std::string line = "x";  // appended to what is there
  append_request_line(line, log, context, "tools/call", request, failure, facts, duration_ms);
  EXPECT_EQ(line[0], 'x');
  return line.substr(1);
}

TEST(AuditLineTest, ACallLineNamesWhoWhatTheDecisionAndTheOutcomeButNoArgumentValue) {
  Fixture f;
  auto log = f.open();
  EXPECT_EQ(log->timestamp().view(), "2027-01-15T08:00:00.000Z");
  const std::string text = R"({"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"add","arguments":{"a":1,
    "b":2}}})";
  const mcp::Message request = std::get<mcp::Message>(mcp::decode_message(json::parse(text), text));
  mcp::RequestContext context;
  context.peer = "127.0.0.1:5000";
  context.principal = auth::Principal{.kind = auth::Principal::Kind::kApiKey, .name = "alice"};
  context.admission.decision = "allow";
  context.admission.rule = "eng-all";
  context.admission.reason = "allowed";
  const RequestFacts hashed = request_facts(*log, request, context);
  EXPECT_EQ(hashed.arguments_sha256, log->arguments_digest("{\"a\":1,\n    \"b\":2}"));
  EXPECT_TRUE(hashed.arguments_json.empty());
  mcp::OutcomeFacts facts;
  facts.reason = "timeout";
  facts.cpu_time_s = 0.5;
  facts.isolation = "per_call";
  const json::value line = json::parse(request_line(*log, context, hashed, std::nullopt, facts, 12.5));
  EXPECT_EQ(line.at("event"), "call");
  EXPECT_EQ(line.at("request_id"), 7);
  EXPECT_EQ(line.at("target"), "add");
  EXPECT_EQ(line.at("principal").at("name"), "alice");
  EXPECT_EQ(line.at("principal").at("kind"), "api_key");
  EXPECT_EQ(line.at("rule"), "eng-all");
  EXPECT_EQ(line.at("outcome"), "timeout");
  EXPECT_EQ(line.at("reason"), "timeout");
  EXPECT_EQ(line.at("duration_ms"), 12.5);
  EXPECT_EQ(line.at("cpu_time_s"), 0.5);
  EXPECT_EQ(line.at("peak_memory_bytes"), nullptr);
  EXPECT_FALSE(line.as_object().contains("arguments"));

  // A rule that asks for the arguments in full gets them as sent, on the same line.
  auto policy = std::get<std::shared_ptr<const policy::ToolPolicy>>(policy::ToolPolicy::compile(
      R"({"name":"t","rules":[{"id":"r","effect":"allow","principals":["*"],"tools":["add"],"auditArguments":"full"}]})"));
  context.admission.grant = &policy->rules()[0];
  const RequestFacts full = request_facts(*log, request, context);
  const std::string full_line = request_line(*log, context, full, mcp::Failure::kForbidden, {}, 1.0);
  EXPECT_EQ(full_line.find('\n'), std::string::npos);
  EXPECT_EQ(json::parse(full_line).at("arguments"), json::parse(R"({"a":1,"b":2})"));
  EXPECT_EQ(json::parse(full_line).at("event"), "denied");
  EXPECT_EQ(json::parse(full_line).at("arguments_sha256"), nullptr);

  std::string refused_text;
  append_auth_failure_line(refused_text, *log, context, "expired");
  const json::value refused = json::parse(refused_text);
  EXPECT_EQ(refused.at("event"), "auth_failure");
  EXPECT_EQ(refused.at("reason"), "expired");
  EXPECT_EQ(refused.at("principal"), nullptr);
  EXPECT_EQ(refused.at("peer"), "127.0.0.1");
}

}  // namespace
}  // namespace sandgate::audit

namespace sandgate::audit {
namespace {

TEST(AuditLineTest, WhatAClientNamedIsEscapedAndReadsBackAsItWas) {
  Fixture f;
  auto log = f.open();
  // A token's subject and a tool name are the client's text: quotes, backslashes, control characters, UTF-8.
  const std::string hostile = "al\"ice\\\n\t\x01 caf\xc3\xa9 \xf0\x9f\x94\x91";
  mcp::RequestContext context;
  context.principal = auth::Principal{.kind = auth::Principal::Kind::kToken, .name = hostile,
                                      .issuer = "https://idp", .subject = hostile};
  RequestFacts request;
  request.id = "req\"1";
  request.target = hostile;
  std::string line;
  append_request_line(line, *log, context, "tools/call", request, std::nullopt, mcp::OutcomeFacts{}, std::nullopt);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  const json::value parsed = json::parse(line);
  EXPECT_EQ(parsed.at("principal").at("name").as_string(), hostile);
  EXPECT_EQ(parsed.at("principal").at("subject").as_string(), hostile);
  EXPECT_EQ(parsed.at("target").as_string(), hostile);
  EXPECT_EQ(parsed.at("request_id").as_string(), "req\"1");
  EXPECT_EQ(parsed.at("duration_ms"), nullptr);
}

}  // namespace
}  // namespace sandgate::audit
