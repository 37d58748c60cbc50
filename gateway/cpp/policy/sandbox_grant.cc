#include "policy/sandbox_grant.h"

#include <array>
#include <charconv>
#include <cmath>
#include <stdexcept>

#include "common/json.h"

namespace sandgate::policy {
namespace {

constexpr double kMaxSeconds = 86'400;  // as the Python `Sandbox` model bounds them
constexpr std::uint64_t kMaxCount = std::uint64_t(1) << 62;

struct Field {
  std::string_view name;
  bool seconds;
};
constexpr std::array<Field, 8> kFields = {{{"wall_time", true},
                                           {"cpu_time", true},
                                           {"memory", false},
                                           {"max_output", false},
                                           {"max_processes", false},
                                           {"max_open_files", false},
                                           {"max_file_size", false},
                                           {"scratch", false}}};

[[noreturn]] void fail(std::string_view owner, std::string_view what) {
  throw std::invalid_argument(std::string(owner) + ": " + std::string(what));
}

json::value parse(std::string_view text, std::string_view owner) {
  boost::system::error_code error;
  json::value value = json::parse(json::string_view(text.data(), text.size()), error);
  if (error) fail(owner, "not JSON (" + error.message() + ")");
  return value;
}

std::optional<double>& seconds_slot(LimitsRequest& r, std::string_view name) {
  return name == "wall_time" ? r.wall_time : r.cpu_time;
}

std::optional<std::uint64_t>& count_slot(LimitsRequest& r, std::string_view name) {
  if (name == "memory") return r.memory;
  if (name == "max_output") return r.max_output;
  if (name == "max_processes") return r.max_processes;
  if (name == "max_open_files") return r.max_open_files;
  if (name == "max_file_size") return r.max_file_size;
  return r.scratch;
}

LimitsRequest limits_request(const json::value& value, std::string_view owner) {
  const json::object* object = value.if_object();
  if (object == nullptr) fail(owner, "sandbox limits must be an object");
  LimitsRequest request;
  for (const auto& [key, field_value] : *object) {
    const Field* field = nullptr;
    for (const Field& candidate : kFields) {
      if (candidate.name == std::string_view(key)) field = &candidate;
    }
    if (field == nullptr) fail(owner, "unknown sandbox limit '" + std::string(key) + "'");
    const std::string where = std::string(owner) + ": " + std::string(field->name);
    if (field->seconds) {
      if (!field_value.is_number()) fail(where, "must be a number of seconds");
      const double seconds = field_value.to_number<double>();
      if (!std::isfinite(seconds) || seconds <= 0 || seconds > kMaxSeconds) {
        fail(where, "must be more than 0 and at most 86400 seconds");
      }
      seconds_slot(request, field->name) = seconds;
    } else {
      const bool positive = (field_value.is_int64() && field_value.get_int64() > 0) ||
                            (field_value.is_uint64() && field_value.get_uint64() > 0);
      if (!positive) fail(where, "must be a positive integer");
      const std::uint64_t count = field_value.to_number<std::uint64_t>();
      if (count > kMaxCount) fail(where, "is too large");
      count_slot(request, field->name) = count;
    }
  }
  return request;
}

SandboxLimits over(const LimitsRequest& request, const SandboxLimits& base) {
  return SandboxLimits{request.wall_time.value_or(base.wall_time),
                       request.cpu_time.value_or(base.cpu_time),
                       request.memory.value_or(base.memory),
                       request.max_output.value_or(base.max_output),
                       request.max_processes.value_or(base.max_processes),
                       request.max_open_files.value_or(base.max_open_files),
                       request.max_file_size.value_or(base.max_file_size),
                       request.scratch.value_or(base.scratch)};
}

LimitsRequest merged(const LimitsRequest& request, const LimitsRequest& base) {
  LimitsRequest out = base;
  if (request.wall_time) out.wall_time = request.wall_time;
  if (request.cpu_time) out.cpu_time = request.cpu_time;
  if (request.memory) out.memory = request.memory;
  if (request.max_output) out.max_output = request.max_output;
  if (request.max_processes) out.max_processes = request.max_processes;
  if (request.max_open_files) out.max_open_files = request.max_open_files;
  if (request.max_file_size) out.max_file_size = request.max_file_size;
  if (request.scratch) out.scratch = request.scratch;
  return out;
}

std::string number_text(double value) {
  std::array<char, 32> buffer{};
  auto [end, error] = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
  return std::string(buffer.data(), end);
}

Isolation isolation_of(const json::object& object, std::string_view owner, Isolation fallback) {
  const json::value* value = object.if_contains("isolation");
  if (value == nullptr) return fallback;
  const json::string* name = value->if_string();
  std::optional<Isolation> isolation = name ? parse_isolation(std::string_view(*name)) : std::nullopt;
  if (!isolation) fail(owner, "isolation must be one of per_call, per_session, none");
  return *isolation;
}

void check_keys(const json::object& object, std::string_view owner, std::initializer_list<std::string_view> known) {
  for (const auto& member : object) {
    bool found = false;
    for (std::string_view key : known) found = found || key == std::string_view(member.key());
    if (!found) fail(owner, "unknown request key '" + std::string(member.key()) + "'");
  }
}

}  // namespace

std::string_view isolation_name(Isolation isolation) {
  switch (isolation) {
    case Isolation::kPerCall: return "per_call";
    case Isolation::kPerSession: return "per_session";
    case Isolation::kNone: return "none";
  }
  return "per_call";
}

std::optional<Isolation> parse_isolation(std::string_view name) {
  if (name == "per_call") return Isolation::kPerCall;
  if (name == "per_session") return Isolation::kPerSession;
  if (name == "none") return Isolation::kNone;
  return std::nullopt;
}

LimitsRequest parse_limits_request(std::string_view json_text, std::string_view owner) {
  return limits_request(parse(json_text, owner), owner);
}

SandboxLimits parse_limits(std::string_view json_text, std::string_view owner) {
  const LimitsRequest r = parse_limits_request(json_text, owner);
  if (!(r.wall_time && r.cpu_time && r.memory && r.max_output && r.max_processes && r.max_open_files &&
        r.max_file_size && r.scratch)) {
    fail(owner, "every sandbox limit must be given (wall_time, cpu_time, memory, max_output, max_processes, "
                "max_open_files, max_file_size, scratch)");
  }
  return over(r, SandboxLimits{});
}

SandboxGrant::SandboxGrant(std::string_view requests_json, const SandboxSettings& settings) {
  const json::value requests = parse(requests_json, "sandbox requests");
  const json::object* object = requests.if_object();
  if (object == nullptr) fail("sandbox requests", "must be an object");
  check_keys(*object, "sandbox requests", {"isolation", "sandbox", "tools"});
  const Isolation server_isolation = isolation_of(*object, "the server", settings.isolation);
  const json::value* server_sandbox = object->if_contains("sandbox");
  const LimitsRequest server_request =
      server_sandbox ? limits_request(*server_sandbox, "the server") : LimitsRequest{};
  server_ = decide("the server", server_isolation, over(server_request, settings.defaults), settings);

  const json::value* tools = object->if_contains("tools");
  if (tools == nullptr) return;
  if (!tools->is_object()) fail("sandbox requests", "tools must be an object");
  for (const auto& [name, request] : tools->get_object()) {
    const std::string owner = "tool '" + std::string(name) + "'";
    if (!request.is_object()) fail(owner, "its request must be an object");
    check_keys(request.get_object(), owner, {"isolation", "sandbox"});
    const Isolation isolation = isolation_of(request.get_object(), owner, server_isolation);
    const json::value* sandbox = request.get_object().if_contains("sandbox");
    const LimitsRequest wanted = sandbox ? merged(limits_request(*sandbox, owner), server_request) : server_request;
    tools_.insert_or_assign(std::string(name), decide(owner, isolation, over(wanted, settings.defaults), settings));
  }
}

const SandboxPlan& SandboxGrant::tool(std::string_view name) const {
  auto found = tools_.find(name);
  return found == tools_.end() ? server_ : found->second;
}

SandboxPlan SandboxGrant::decide(std::string_view owner, Isolation isolation, SandboxLimits limits,
                                 const SandboxSettings& settings) {
  if (isolation == Isolation::kNone && !settings.trust_module) {
    isolation = settings.isolation;
    refusals_.push_back(std::string(owner) +
                        " asked for isolation=\"none\": refused, the operator does not run it in the gateway "
                        "(sandgate serve --trust, and the policy's defaults.trustModules); it runs " +
                        std::string(isolation_name(isolation)));
  }
  std::string lowered;
  auto clamp_seconds = [&](std::string_view name, double& value, double ceiling) {
    if (value <= ceiling) return;
    lowered += (lowered.empty() ? "" : ", ") + std::string(name) + " " + number_text(value) + " -> " + number_text(ceiling);
    value = ceiling;
  };
  auto clamp_count = [&](std::string_view name, std::uint64_t& value, std::uint64_t ceiling) {
    if (value <= ceiling) return;
    lowered += (lowered.empty() ? "" : ", ") + std::string(name) + " " + std::to_string(value) + " -> " +
               std::to_string(ceiling);
    value = ceiling;
  };
  const SandboxLimits& ceiling = settings.ceiling;
  clamp_seconds("wall_time", limits.wall_time, ceiling.wall_time);
  clamp_seconds("cpu_time", limits.cpu_time, ceiling.cpu_time);
  clamp_count("memory", limits.memory, ceiling.memory);
  clamp_count("max_output", limits.max_output, ceiling.max_output);
  clamp_count("max_processes", limits.max_processes, ceiling.max_processes);
  clamp_count("max_open_files", limits.max_open_files, ceiling.max_open_files);
  clamp_count("max_file_size", limits.max_file_size, ceiling.max_file_size);
  clamp_count("scratch", limits.scratch, ceiling.scratch);
  if (!lowered.empty()) refusals_.push_back(std::string(owner) + ": limits above the operator's ceiling lowered: " + lowered);
  return SandboxPlan{isolation, limits};
}

}  // namespace sandgate::policy
