#pragma once
// Every way a request can fail, and the one function that maps a failure to the wire.
#include <string>

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
};

struct Fault {
  Failure kind;
  std::string message;
  std::string data_json{};  // the `data` member's JSON text, as it goes out; empty: none
};

struct WireError {
  int http_status;
  int jsonrpc_code;
};

// Modern-era errors carry their own HTTP status; legacy-era method errors ride in a 200.
WireError to_wire(Failure kind, Era era);

const char* failure_name(Failure kind);

}  // namespace sandgate::mcp
