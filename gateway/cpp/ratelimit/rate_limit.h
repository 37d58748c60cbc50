#pragma once
// The rate-limit stage: is this request within its principal's and tool's rate? No limit until the policy file.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "mcp/errors.h"
#include "mcp/jsonrpc.h"
#include "mcp/request_context.h"

namespace sandgate::ratelimit {

enum class RateLimitError { kExhausted };

struct Limited {
  RateLimitError error = RateLimitError::kExhausted;
  std::chrono::milliseconds retry_after{1000};  // until the next request of this key would be admitted
  std::string policy;           // the policy file's rate-limit name
  std::uint64_t quota = 0;      // requests per window...
  std::int64_t window_s = 1;    // ...of this many seconds
  std::uint64_t remaining = 0;  // requests still admitted now
  std::int64_t reset_s = 0;     // seconds until the bucket is full again
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

// HTTP: 429 with Retry-After, RateLimit-Policy and RateLimit (draft-ietf-httpapi-ratelimit-headers);
// JSON-RPC: data {retryAfterMs, limit, policy}, for stdio and streams where no status can be sent any more.
mcp::Fault to_fault(const Limited& limited);

}  // namespace sandgate::ratelimit
