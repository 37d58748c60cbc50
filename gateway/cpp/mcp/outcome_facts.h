#pragma once
// How a dispatched call ended beyond its status and body: what the record stage and the audit line read.
#include <cstdint>
#include <string>
#include <string_view>

namespace sandgate::mcp {

struct OutcomeFacts {
  std::string reason;                   // the sandbox's stable reason ("timeout", "memory", ...); empty: ran to its end
  double duration_s = -1;               // the runner's time for the call; -1 unknown
  double cpu_time_s = -1;               // CPU time the kernel counted for the call's process; -1 unknown
  std::int64_t peak_memory_bytes = -1;  // its peak resident memory; -1 unknown
  std::string isolation;                // "per_call", "per_session"; empty: it ran in-process
  std::string sandbox_json;             // the sandbox's details (signal, syscall, limit hit, ...) as a JSON object; empty: none
  bool operator==(const OutcomeFacts&) const = default;
};

// Reads the runner's facts object: {"reason"?, "duration_s"?, "cpu_time_s"?, "peak_memory_bytes"?, "isolation"?,
// "sandbox"?}. A member of the wrong type, or text that is not a JSON object, leaves that part unknown: facts never
// fail a call.
OutcomeFacts parse_outcome_facts(std::string_view facts_json);

}  // namespace sandgate::mcp
