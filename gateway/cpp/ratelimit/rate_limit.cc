#include "ratelimit/rate_limit.h"

#include <algorithm>

#include "common/json.h"

namespace sandgate::ratelimit {

namespace {

// A structured-field string (RFC 8941): policy names are plain, but quotes and backslashes are escaped anyway.
std::string sf_string(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    if (c >= 0x20 && c < 0x7f) out += c;
  }
  return out + "\"";
}

}  // namespace

mcp::Fault to_fault(const Limited& limited) {
  const std::int64_t retry_ms = std::max<std::int64_t>(0, limited.retry_after.count());
  const std::int64_t retry_s = std::max<std::int64_t>(1, (retry_ms + 999) / 1000);  // never "retry now"
  mcp::Fault fault{mcp::Failure::kRateLimited, "Too Many Requests: retry after " + std::to_string(retry_s) + " s"};
  fault.detail.retry_after_s = retry_s;
  fault.detail.rate_limit_policy = sf_string(limited.policy) + ";q=" + std::to_string(limited.quota) +
                                   ";w=" + std::to_string(limited.window_s);
  fault.detail.rate_limit = sf_string(limited.policy) + ";r=" + std::to_string(limited.remaining) +
                            ";t=" + std::to_string(limited.reset_s);
  json::object data;
  data["retryAfterMs"] = retry_ms;
  data["limit"] = limited.quota;
  data["policy"] = limited.policy;
  fault.data_json = json::serialize(data);
  return fault;
}

}  // namespace sandgate::ratelimit
