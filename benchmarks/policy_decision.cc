// By hand, not a test: what one policy decision costs for a policy of 100 rules with argument
// constraints (target: at most 1 us). Built with the C++ tests (`make cpp-tests`), run as
//
//   build/cpp/policy_decision_bench [iterations]
//
// Prints the median over 15 batches of ns per decision for: a call the last allow grants (every rule
// considered, a glob and an enum checked), a call a conditional deny refuses, a call no rule names,
// and the first case again with the arguments parsed from their JSON text, as the request path must.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "median_ns.h"
#include "common/json_text.h"
#include "policy/tool_policy.h"

namespace {

using sandgate::bench::median_ns;

using sandgate::policy::ToolPolicy;

std::string hundred_rules() {
  std::string rules;
  auto add = [&](const std::string& rule) { rules += (rules.empty() ? "" : ",") + rule; };
  for (int i = 0; i < 40; ++i) {  // allows on exact tools, per group, with path and enum constraints
    add(R"({"id":"read-)" + std::to_string(i) + R"(","effect":"allow","principals":["team)" + std::to_string(i % 8) +
        R"("],"tools":["svc)" + std::to_string(i) + R"(.read"],"args":{"path":{"glob":["/srv/t)" + std::to_string(i) +
        R"(/**"],"notGlob":["**/*.pem","**/.git/**"]},"mode":{"enum":["r","rw"]}}})");
  }
  for (int i = 0; i < 30; ++i) {  // namespace globs with numeric bounds
    add(R"({"id":"ns-)" + std::to_string(i) + R"(","effect":"allow","principals":["*"],"tools":["ns)" +
        std::to_string(i) + R"(.*"],"args":{"n":{"min":0,"max":1000}}})");
  }
  for (int i = 0; i < 29; ++i) {  // conditional denies
    add(R"({"id":"deny-)" + std::to_string(i) + R"(","effect":"deny","principals":["*"],"tools":["svc)" +
        std::to_string(i) + R"(.read"],"args":{"path":{"prefix":["/srv/t)" + std::to_string(i) + R"(/secret"]}}})");
  }
  add(R"({"id":"last","effect":"allow","principals":["team3"],"tools":["svc99.read"],)"
      R"("args":{"path":{"glob":["/srv/t99/**"],"notGlob":["**/*.pem"]},"mode":{"enum":["r","rw"]}}})");
  std::string selectors;
  for (int i = 0; i < 8; ++i) {
    if (i > 0) selectors += ',';
    selectors.append(R"("team)").append(std::to_string(i)).append(R"(":{"anyGroup":["g)").append(std::to_string(i));
    selectors.append(R"("]})");
  }
  return R"({"name":"bench","revision":"1","selectors":{)" + selectors + R"(},"rules":[)" + rules + "]}";
}

}  // namespace

int main(int argc, char** argv) {
  const long iterations = argc > 1 ? std::atol(argv[1]) : 200'000;
  auto compiled = ToolPolicy::compile(hundred_rules());
  if (auto* errors = std::get_if<std::vector<sandgate::policy::PolicyCompileError>>(&compiled)) {
    for (const auto& error : *errors) std::fprintf(stderr, "%s: %s\n", error.where.c_str(), error.message.c_str());
    return 1;
  }
  const auto policy = std::get<std::shared_ptr<const ToolPolicy>>(compiled);
  std::printf("rules: %zu\n", policy->rules().size());
  const sandgate::auth::Principal member{sandgate::auth::Principal::Kind::kApiKey, "alice", {"g1", "g3"}};
  const std::string granted_text = R"({"path":"/srv/t99/reports/2026/q3.csv","mode":"r"})";
  const sandgate::json::value granted = sandgate::json::parse(granted_text);
  const sandgate::json::value secret = sandgate::json::parse(R"({"path":"/srv/t5/secret/key","mode":"r"})");
  const sandgate::json::value none = sandgate::json::parse("{}");

  volatile bool sink = false;
  if (!policy->decide(member, "svc99.read", granted).allowed) {
    std::fprintf(stderr, "the benchmark's call was not allowed\n");
    return 1;
  }
  const double allowed = median_ns(iterations, [&] { sink = policy->decide(member, "svc99.read", granted).allowed; });
  const double denied = median_ns(iterations, [&] { sink = policy->decide(member, "svc5.read", secret).allowed; });
  const double unnamed = median_ns(iterations, [&] { sink = policy->decide(member, "unknown.tool", none).allowed; });
  const double parsed = median_ns(iterations, [&] {
    auto value = sandgate::parse_json_text(granted_text, sandgate::JsonLimits{});
    sink = policy->decide(member, "svc99.read", std::get<sandgate::json::value>(value)).allowed;
  });
  std::printf("allowed by the last rule: %.0f ns\n", allowed);
  std::printf("denied by a conditional deny: %.0f ns\n", denied);
  std::printf("no rule names the tool: %.0f ns\n", unnamed);
  std::printf("allowed, arguments parsed from text: %.0f ns\n", parsed);
  return sink ? 0 : 0;
}
