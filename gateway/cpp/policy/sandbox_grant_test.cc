#include "policy/sandbox_grant.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace sandgate::policy {
namespace {

constexpr std::uint64_t kMi = 1024 * 1024;

SandboxSettings settings(bool trust_module) {
  SandboxSettings s;
  s.defaults = SandboxLimits{30, 10, 512 * kMi, 4 * kMi, 64, 256, 64 * kMi, 64 * kMi};
  s.ceiling = SandboxLimits{60, 20, 1024 * kMi, 16 * kMi, 128, 1024, 128 * kMi, 128 * kMi};
  s.trust_module = trust_module;
  return s;
}

TEST(SandboxGrant, NothingRequestedRunsPerCallUnderTheDefaults) {
  SandboxGrant grant("{}", settings(false));
  EXPECT_EQ(grant.server(), (SandboxPlan{Isolation::kPerCall, settings(false).defaults}));
  EXPECT_EQ(grant.tool("anything"), grant.server());
  EXPECT_TRUE(grant.refusals().empty());
}

TEST(SandboxGrant, UntrustedNoneRunsPerCallAndIsReported) {
  SandboxGrant grant(R"({"isolation":"none","tools":{"t":{},"u":{"isolation":"per_session","sandbox":{"wall_time":2}}}})",
                     settings(false));
  EXPECT_EQ(grant.server().isolation, Isolation::kPerCall);
  EXPECT_EQ(grant.tool("t").isolation, Isolation::kPerCall);
  EXPECT_EQ(grant.tool("u").isolation, Isolation::kPerSession);
  EXPECT_EQ(grant.tool("u").limits.wall_time, 2);
  EXPECT_EQ(grant.tool("u").limits.memory, 512 * kMi);
  ASSERT_EQ(grant.refusals().size(), 2u);
  EXPECT_NE(grant.refusals()[0].find("the server asked for isolation=\"none\""), std::string::npos);
  EXPECT_NE(grant.refusals()[1].find("tool 't' asked for isolation=\"none\""), std::string::npos);
}

TEST(SandboxGrant, TrustedNoneHoldsAndLimitsStillClamp) {
  SandboxGrant grant(R"({"sandbox":{"memory":2147483648},"tools":{"fast":{"isolation":"none"}}})", settings(true));
  EXPECT_EQ(grant.tool("fast").isolation, Isolation::kNone);
  EXPECT_EQ(grant.server().limits.memory, 1024 * kMi);
  const std::string lowered = "limits above the operator's ceiling lowered: memory 2147483648 -> 1073741824";
  EXPECT_EQ(grant.refusals(), (std::vector<std::string>{"the server: " + lowered, "tool 'fast': " + lowered}));
}

TEST(SandboxGrant, ClampLowersOnlyWhatIsAboveTheCeiling) {
  SandboxGrant grant(R"({"sandbox":{"wall_time":60.000001,"cpu_time":1,"max_output":33554432}})", settings(false));
  EXPECT_EQ(grant.server().limits.wall_time, 60);
  EXPECT_EQ(grant.server().limits.cpu_time, 1);
  EXPECT_EQ(grant.server().limits.max_output, 16 * kMi);
  ASSERT_EQ(grant.refusals().size(), 1u);
  EXPECT_NE(grant.refusals()[0].find("wall_time 60.000001 -> 60, max_output 33554432 -> 16777216"), std::string::npos);
}

TEST(SandboxGrant, ToolRequestsMergeOverTheServerRequestFieldByField) {
  SandboxGrant grant(R"({"sandbox":{"wall_time":3,"memory":67108864},"tools":{"t":{"sandbox":{"memory":134217728}}}})",
                     settings(false));
  EXPECT_EQ(grant.tool("t").limits.wall_time, 3);
  EXPECT_EQ(grant.tool("t").limits.memory, 128 * kMi);
  EXPECT_EQ(grant.tool("t").limits.scratch, 64 * kMi);
  EXPECT_TRUE(grant.refusals().empty());
}

TEST(SandboxGrant, MalformedRequestsAreRefusedByName) {
  const SandboxSettings s = settings(false);
  auto message = [&](const char* text) {
    try {
      SandboxGrant grant(text, s);
    } catch (const std::invalid_argument& error) {
      return std::string(error.what());
    }
    return std::string("accepted");
  };
  EXPECT_NE(message("[]").find("must be an object"), std::string::npos);
  EXPECT_NE(message("{").find("not JSON"), std::string::npos);
  EXPECT_NE(message(R"({"isolation":"sometimes"})").find("isolation must be one of"), std::string::npos);
  EXPECT_NE(message(R"({"sandbox":{"memroy":1}})").find("unknown sandbox limit 'memroy'"), std::string::npos);
  EXPECT_NE(message(R"({"sandbox":{"memory":-1}})").find("memory: must be a positive integer"), std::string::npos);
  EXPECT_NE(message(R"({"sandbox":{"memory":1.5}})").find("must be a positive integer"), std::string::npos);
  EXPECT_NE(message(R"({"sandbox":{"wall_time":0}})").find("wall_time: must be more than 0"), std::string::npos);
  EXPECT_NE(message(R"({"sandbox":{"wall_time":1e9}})").find("at most 86400"), std::string::npos);
  EXPECT_NE(message(R"({"tools":{"t":{"isolaton":"none"}}})").find("tool 't': unknown request key 'isolaton'"),
            std::string::npos);
  EXPECT_NE(message(R"({"tools":[]})").find("tools must be an object"), std::string::npos);
  EXPECT_NE(message(R"({"extra":1})").find("unknown request key 'extra'"), std::string::npos);
}

TEST(SandboxLimitsParsing, OperatorLimitsNeedEveryField) {
  const SandboxLimits limits = parse_limits(
      R"({"wall_time":1.5,"cpu_time":1,"memory":1,"max_output":2,"max_processes":3,"max_open_files":16,)"
      R"("max_file_size":4,"scratch":5})",
      "ceiling");
  EXPECT_EQ(limits, (SandboxLimits{1.5, 1, 1, 2, 3, 16, 4, 5}));
  EXPECT_THROW(parse_limits(R"({"wall_time":1})", "ceiling"), std::invalid_argument);
}

TEST(Isolation, NamesRoundTrip) {
  for (Isolation isolation : {Isolation::kPerCall, Isolation::kPerSession, Isolation::kNone}) {
    EXPECT_EQ(parse_isolation(isolation_name(isolation)), isolation);
  }
  EXPECT_EQ(parse_isolation("None"), std::nullopt);
}

}  // namespace
}  // namespace sandgate::policy
