#pragma once
// Every way a request can fail, and the one function that maps a failure to the wire.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/json.h"
#include "mcp/protocol.h"

namespace sandgate::mcp {

enum class Failure {
  kParseError,
  kInvalidRequest,
  kMethodNotFound,
  kInvalidParams,
  kInternalError,
  kHeaderMismatch,
  kMissingClientCapability,
  kUnsupportedProtocolVersion,
  kResourceNotFound,
  kSessionRequired,
  kSessionNotFound,
  kBodyTooLarge,
  kOriginForbidden,
  kNotAcceptable,
  kUnsupportedMediaType,
  kHttpMethodNotAllowed,
  kShuttingDown,
  kServerBusy,
  kUnauthenticated,  // the authenticate stage: no or bad credentials
  kForbidden,        // the authorize stage: this principal may not make this request
  kRateLimited,      // the rate-limit stage
  kCancelled,        // the client cancelled the request (notifications/cancelled, or it left)
  kUrlElicitationRequired,  // a handler needs the user at a URL first (2025-11-25's -32042; none in 2026-07-28)
};
inline constexpr Failure kLastFailure = Failure::kUrlElicitationRequired;

// What only some failures carry: the wire mapping turns it into headers.
struct FaultDetail {
  std::string challenge;           // kUnauthenticated, kForbidden: WWW-Authenticate auth-params
  std::int64_t retry_after_s = 0;  // kRateLimited, kServerBusy, kShuttingDown: Retry-After when > 0
  std::string rate_limit_policy;   // kRateLimited: RateLimit-Policy
  std::string rate_limit;          // kRateLimited: RateLimit
  std::string allow;               // kHttpMethodNotAllowed: Allow (default "GET, POST, DELETE")
};

struct Fault {
  Failure kind;
  std::string message;
  std::string data_json{};  // the `data` member's JSON text, as it goes out; empty: none
  FaultDetail detail{};
};

struct WireError {
  int http_status;
  int jsonrpc_code;
  std::vector<std::pair<std::string, std::string>> headers{};
};

// Modern-era errors carry their own HTTP status; legacy-era method errors ride in a 200.
WireError to_wire(Failure kind, Era era);
// The same, with the headers the failure's detail calls for: the one place faults meet the wire.
WireError to_wire(const Fault& fault, Era era);

const char* failure_name(Failure kind);

}  // namespace sandgate::mcp
