#include "mcp/errors.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace sandgate::mcp {
namespace {

struct Row {
  Failure kind;
  WireError modern;
  WireError legacy;
};

// The whole switch, spelled out: a change to any status or code must show up here.
const Row kTable[] = {
    {Failure::kParseError, {400, -32700}, {400, -32700}},
    {Failure::kInvalidRequest, {400, -32600}, {400, -32600}},
    {Failure::kMethodNotFound, {404, -32601}, {200, -32601}},
    {Failure::kInvalidParams, {400, -32602}, {200, -32602}},
    {Failure::kInternalError, {500, -32603}, {200, -32603}},
    {Failure::kHeaderMismatch, {400, -32020}, {400, -32020}},
    {Failure::kMissingClientCapability, {400, -32021}, {400, -32021}},
    {Failure::kUnsupportedProtocolVersion, {400, -32022}, {400, -32022}},
    {Failure::kResourceNotFound, {400, -32602}, {200, -32002}},
    {Failure::kSessionRequired, {400, -32600}, {400, -32600}},
    {Failure::kSessionNotFound, {404, -32600}, {404, -32600}},
    {Failure::kBodyTooLarge, {413, -32600}, {413, -32600}},
    {Failure::kOriginForbidden, {403, -32600}, {403, -32600}},
    {Failure::kNotAcceptable, {406, -32600}, {406, -32600}},
    {Failure::kUnsupportedMediaType, {415, -32600}, {415, -32600}},
    {Failure::kHttpMethodNotAllowed, {405, -32600}, {405, -32600}},
    {Failure::kShuttingDown, {503, -32603}, {503, -32603}},
    {Failure::kServerBusy, {503, -32603}, {503, -32603}},
    {Failure::kUnauthenticated, {401, -32001}, {401, -32001}},
    {Failure::kForbidden, {403, -32003}, {403, -32003}},
    {Failure::kRateLimited, {429, -32029}, {429, -32029}},
    {Failure::kCancelled, {499, -32800}, {200, -32800}},
    {Failure::kUrlElicitationRequired, {500, -32603}, {200, -32042}},
};

TEST(ToWire, MapsEveryFailureForBothEras) {
  for (const Row& row : kTable) {
    SCOPED_TRACE(failure_name(row.kind));
    const WireError modern = to_wire(row.kind, Era::kModern);
    const WireError legacy = to_wire(row.kind, Era::kLegacy);
    EXPECT_EQ(modern.http_status, row.modern.http_status);
    EXPECT_EQ(modern.jsonrpc_code, row.modern.jsonrpc_code);
    EXPECT_EQ(legacy.http_status, row.legacy.http_status);
    EXPECT_EQ(legacy.jsonrpc_code, row.legacy.jsonrpc_code);
  }
}

TEST(ToWire, LegacyMethodErrorsRideInA200) {
  for (Failure kind : {Failure::kMethodNotFound, Failure::kInvalidParams, Failure::kInternalError, Failure::kResourceNotFound}) {
    SCOPED_TRACE(failure_name(kind));
    EXPECT_EQ(to_wire(kind, Era::kLegacy).http_status, 200);
    EXPECT_NE(to_wire(kind, Era::kModern).http_status, 200);
  }
}

std::string header_of(const WireError& wire, std::string_view name) {
  for (const auto& [key, value] : wire.headers) {
    if (key == name) return value;
  }
  return "<absent>";
}

TEST(ToWire, StageFailuresCarryTheirHeaders) {
  Fault unauthenticated{Failure::kUnauthenticated, "Unauthorized"};
  EXPECT_EQ(header_of(to_wire(unauthenticated, Era::kModern), "WWW-Authenticate"), "Bearer");
  unauthenticated.detail.challenge = R"(error="invalid_token")";
  EXPECT_EQ(header_of(to_wire(unauthenticated, Era::kLegacy), "WWW-Authenticate"), R"(Bearer error="invalid_token")");

  // A 403 challenges only when new credentials would lift it (a scope step-up).
  Fault forbidden{Failure::kForbidden, "Forbidden"};
  EXPECT_EQ(header_of(to_wire(forbidden, Era::kModern), "WWW-Authenticate"), "<absent>");
  forbidden.detail.challenge = R"(error="insufficient_scope", scope="a")";
  EXPECT_EQ(header_of(to_wire(forbidden, Era::kModern), "WWW-Authenticate"), R"(Bearer error="insufficient_scope", scope="a")");

  Fault limited{Failure::kRateLimited, "Too Many Requests"};
  EXPECT_EQ(header_of(to_wire(limited, Era::kModern), "Retry-After"), "<absent>");
  limited.detail.retry_after_s = 3;
  limited.detail.rate_limit_policy = "10;w=1";
  const WireError wire = to_wire(limited, Era::kModern);
  EXPECT_EQ(wire.http_status, 429);
  EXPECT_EQ(header_of(wire, "Retry-After"), "3");
  EXPECT_EQ(header_of(wire, "RateLimit-Policy"), "10;w=1");
  EXPECT_EQ(header_of(wire, "RateLimit"), "<absent>");

  EXPECT_EQ(header_of(to_wire(Fault{Failure::kHttpMethodNotAllowed, "x"}, Era::kModern), "Allow"), "GET, POST, DELETE");
  Fault verbs{Failure::kHttpMethodNotAllowed, "x"};
  verbs.detail.allow = "POST";
  EXPECT_EQ(header_of(to_wire(verbs, Era::kModern), "Allow"), "POST");
  EXPECT_TRUE(to_wire(Fault{Failure::kInvalidParams, "x"}, Era::kModern).headers.empty());
}

TEST(FailureName, EveryKindHasADistinctStableSlug) {
  std::set<std::string> names;
  for (const Row& row : kTable) {
    const std::string name = failure_name(row.kind);
    EXPECT_NE(name, "unknown");
    EXPECT_TRUE(names.insert(name).second) << "duplicate slug " << name;
  }
  EXPECT_EQ(names.size(), std::size(kTable));
  EXPECT_EQ(std::size(kTable), static_cast<std::size_t>(kLastFailure) + 1);  // the table covers every kind
  EXPECT_STREQ(failure_name(Failure::kHeaderMismatch), "header_mismatch");
  EXPECT_STREQ(failure_name(Failure::kResourceNotFound), "resource_not_found");
}

}  // namespace
}  // namespace sandgate::mcp
