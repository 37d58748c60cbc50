#pragma once
// Where and under which limits each call runs: the module's requests over the operator's defaults, clamped to
// the operator's ceiling, isolation "none" only for a module the operator trusts. Compiled at load and again
// for each policy a reload swaps in (the policy's defaults are the operator's part).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace sandgate::policy {

enum class Isolation { kPerCall, kPerSession, kNone };
std::string_view isolation_name(Isolation isolation);
std::optional<Isolation> parse_isolation(std::string_view name);

// Named as the Python `Sandbox` fields: seconds and bytes.
struct SandboxLimits {
  double wall_time = 0;
  double cpu_time = 0;
  std::uint64_t memory = 0;
  std::uint64_t max_output = 0;
  std::uint64_t max_processes = 0;
  std::uint64_t max_open_files = 0;
  std::uint64_t max_file_size = 0;
  std::uint64_t scratch = 0;
  bool operator==(const SandboxLimits&) const = default;
};

struct SandboxPlan {
  Isolation isolation = Isolation::kPerCall;
  SandboxLimits limits;
  bool operator==(const SandboxPlan&) const = default;
};

// The operator's word on every module request.
struct SandboxSettings {
  SandboxLimits defaults;  // what a module that asks for nothing gets
  SandboxLimits ceiling;   // the most a module may ask for
  bool trust_module = false;  // whether isolation "none" (in-process) is honoured
  Isolation isolation = Isolation::kPerCall;  // what a module that asks for no isolation gets
};

// Parses `{"wall_time": 30, "memory": 536870912, ...}`; `partial` allows fields to be missing (a request),
// otherwise every field is required (defaults, ceiling). Throws std::invalid_argument naming the field.
struct LimitsRequest {
  std::optional<double> wall_time, cpu_time;
  std::optional<std::uint64_t> memory, max_output, max_processes, max_open_files, max_file_size, scratch;
};
LimitsRequest parse_limits_request(std::string_view json_text, std::string_view owner);
SandboxLimits parse_limits(std::string_view json_text, std::string_view owner);

class SandboxGrant {
 public:
  // `requests_json`: {"isolation"?: "per_call"|"per_session"|"none", "sandbox"?: {<limits>},
  //                   "tools"?: {"<name>": {"isolation"?: ..., "sandbox"?: {<limits>}}}}.
  // A tool's request falls back to the server-wide one field by field. Throws std::invalid_argument.
  SandboxGrant(std::string_view requests_json, const SandboxSettings& settings);

  // The tool's plan; the server-wide plan for a name the module did not declare.
  const SandboxPlan& tool(std::string_view name) const;
  // Resources and prompts run under the server-wide plan.
  const SandboxPlan& server() const { return server_; }
  // One line per request refused or lowered, for the log at start.
  const std::vector<std::string>& refusals() const { return refusals_; }

 private:
  struct NameHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view name) const { return std::hash<std::string_view>{}(name); }
  };
  SandboxPlan decide(std::string_view owner, Isolation isolation, SandboxLimits limits, const SandboxSettings& settings);

  SandboxPlan server_;
  std::unordered_map<std::string, SandboxPlan, NameHash, std::equal_to<>> tools_;
  std::vector<std::string> refusals_;
};

}  // namespace sandgate::policy
