#include "ratelimit/rate_limit.h"

namespace sandgate::ratelimit {

mcp::Fault to_fault(const Limited& limited) {
  mcp::Fault fault{mcp::Failure::kRateLimited, "Too Many Requests: retry after " + std::to_string(limited.retry_after_s) + " s"};
  fault.detail.retry_after_s = limited.retry_after_s;
  fault.detail.rate_limit_policy = limited.policy;
  return fault;
}

}  // namespace sandgate::ratelimit
