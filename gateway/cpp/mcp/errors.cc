#include "mcp/errors.h"

namespace sandgate::mcp {
namespace {

constexpr int kParseError = -32700;
constexpr int kInvalidRequest = -32600;
constexpr int kMethodNotFound = -32601;
constexpr int kInvalidParams = -32602;
constexpr int kInternalError = -32603;
constexpr int kHeaderMismatch = -32020;
constexpr int kMissingClientCapability = -32021;
constexpr int kUnsupportedProtocolVersion = -32022;
constexpr int kLegacyResourceNotFound = -32002;
constexpr int kUrlElicitationRequired = -32042;  // 2025-11-25's URLElicitationRequiredError
// Implementation-defined server errors (JSON-RPC reserves -32000..-32099); MCP names none for these.
constexpr int kUnauthenticated = -32001;
constexpr int kForbidden = -32003;
constexpr int kRateLimited = -32029;
// As LSP numbers it: the request was cancelled, nothing failed.
constexpr int kRequestCancelled = -32800;

}  // namespace

WireError to_wire(Failure kind, Era era) {
  const bool modern = era == Era::kModern;
  switch (kind) {
    case Failure::kParseError: return {400, kParseError};
    case Failure::kInvalidRequest: return {400, kInvalidRequest};
    case Failure::kMethodNotFound: return {modern ? 404 : 200, kMethodNotFound};
    case Failure::kInvalidParams: return {modern ? 400 : 200, kInvalidParams};
    case Failure::kInternalError: return {modern ? 500 : 200, kInternalError};
    case Failure::kHeaderMismatch: return {400, kHeaderMismatch};
    case Failure::kMissingClientCapability: return {400, kMissingClientCapability};
    case Failure::kUnsupportedProtocolVersion: return {400, kUnsupportedProtocolVersion};
    // 2026-07-28 renumbered "resource not found" to Invalid params.
    case Failure::kResourceNotFound: return modern ? WireError{400, kInvalidParams} : WireError{200, kLegacyResourceNotFound};
    case Failure::kSessionRequired: return {400, kInvalidRequest};
    case Failure::kSessionNotFound: return {404, kInvalidRequest};
    case Failure::kBodyTooLarge: return {413, kInvalidRequest};
    case Failure::kOriginForbidden: return {403, kInvalidRequest};
    case Failure::kNotAcceptable: return {406, kInvalidRequest};
    case Failure::kUnsupportedMediaType: return {415, kInvalidRequest};
    case Failure::kHttpMethodNotAllowed: return {405, kInvalidRequest};
    case Failure::kShuttingDown: return {503, kInternalError};
    case Failure::kServerBusy: return {503, kInternalError};
    case Failure::kUnauthenticated: return {401, kUnauthenticated};
    case Failure::kForbidden: return {403, kForbidden};
    case Failure::kRateLimited: return {429, kRateLimited};
    // A modern client cancels by closing its stream: nobody reads this status (499, as proxies log it).
    case Failure::kCancelled: return {modern ? 499 : 200, kRequestCancelled};
    // 2026-07-28 has no such error (a call asks through input_required): the engine answers it as internal there.
    case Failure::kUrlElicitationRequired: return modern ? WireError{500, kInternalError} : WireError{200, kUrlElicitationRequired};
  }
  return {500, kInternalError};
}

WireError to_wire(const Fault& fault, Era era) {
  WireError wire = to_wire(fault.kind, era);
  const FaultDetail& detail = fault.detail;
  switch (fault.kind) {
    case Failure::kUnauthenticated:
      wire.headers.emplace_back("WWW-Authenticate", detail.challenge.empty() ? "Bearer" : "Bearer " + detail.challenge);
      break;
    case Failure::kForbidden:  // a challenge only when new credentials would help (a scope step-up)
      if (!detail.challenge.empty()) wire.headers.emplace_back("WWW-Authenticate", "Bearer " + detail.challenge);
      break;
    case Failure::kRateLimited:
      if (!detail.rate_limit_policy.empty()) wire.headers.emplace_back("RateLimit-Policy", detail.rate_limit_policy);
      if (!detail.rate_limit.empty()) wire.headers.emplace_back("RateLimit", detail.rate_limit);
      [[fallthrough]];
    case Failure::kServerBusy:
    case Failure::kShuttingDown:
      if (detail.retry_after_s > 0) wire.headers.emplace_back("Retry-After", std::to_string(detail.retry_after_s));
      break;
    case Failure::kHttpMethodNotAllowed:
      wire.headers.emplace_back("Allow", detail.allow.empty() ? "GET, POST, DELETE" : detail.allow);
      break;
    default: break;
  }
  return wire;
}

const char* failure_name(Failure kind) {
  switch (kind) {
    case Failure::kParseError: return "parse_error";
    case Failure::kInvalidRequest: return "invalid_request";
    case Failure::kMethodNotFound: return "method_not_found";
    case Failure::kInvalidParams: return "invalid_params";
    case Failure::kInternalError: return "internal_error";
    case Failure::kHeaderMismatch: return "header_mismatch";
    case Failure::kMissingClientCapability: return "missing_client_capability";
    case Failure::kUnsupportedProtocolVersion: return "unsupported_protocol_version";
    case Failure::kResourceNotFound: return "resource_not_found";
    case Failure::kSessionRequired: return "session_required";
    case Failure::kSessionNotFound: return "session_not_found";
    case Failure::kBodyTooLarge: return "body_too_large";
    case Failure::kOriginForbidden: return "origin_forbidden";
    case Failure::kNotAcceptable: return "not_acceptable";
    case Failure::kUnsupportedMediaType: return "unsupported_media_type";
    case Failure::kHttpMethodNotAllowed: return "http_method_not_allowed";
    case Failure::kShuttingDown: return "shutting_down";
    case Failure::kServerBusy: return "server_busy";
    case Failure::kUnauthenticated: return "unauthenticated";
    case Failure::kForbidden: return "forbidden";
    case Failure::kRateLimited: return "rate_limited";
    case Failure::kCancelled: return "cancelled";
    case Failure::kUrlElicitationRequired: return "url_elicitation_required";
  }
  return "unknown";
}

}  // namespace sandgate::mcp
