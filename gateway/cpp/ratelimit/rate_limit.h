#pragma once
// The rate-limit stage: is this request within its principal's and tool's rate? No limit until the policy file.
#include <cstdint>
#include <optional>
#include <string>

#include "mcp/errors.h"
#include "mcp/jsonrpc.h"
#include "mcp/request_context.h"

namespace sandgate::ratelimit {

enum class RateLimitError { kExhausted };

struct Limited {
  RateLimitError error;
  std::int64_t retry_after_s = 1;
  std::string policy;  // RateLimit-Policy, e.g. "10;w=1"
};

class RateLimiter {
 public:
  virtual ~RateLimiter() = default;
  // Thread-safe; nullopt admits (and spends what the request costs).
  virtual std::optional<Limited> admit(const mcp::RequestContext& context, const mcp::Message& request) = 0;
};

class Unlimited final : public RateLimiter {
 public:
  std::optional<Limited> admit(const mcp::RequestContext&, const mcp::Message&) override { return std::nullopt; }
};

mcp::Fault to_fault(const Limited& limited);

}  // namespace sandgate::ratelimit
