#pragma once
// What one audit line says (docs/audit-line.schema.json): who, what, what the policy decided, how it ended.
// Never a credential: the principal is named, its token or key never appears.
#include <optional>
#include <string>
#include <string_view>

#include "common/json.h"
#include "mcp/errors.h"
#include "mcp/jsonrpc.h"
#include "mcp/outcome_facts.h"
#include "mcp/request_context.h"

namespace sandgate::audit {

class AuditLog;

// What the line says of the request itself, taken after the authorize stage (whose rule says whether the
// arguments go in full).
struct RequestFacts {
  json::value id = nullptr;
  std::string target;            // the tool or prompt name, or the resource URI; empty: none
  std::string arguments_json;    // in full, as the client sent them: only when the allowing rule asks
  std::string arguments_sha256;  // else their salted digest; both empty: no arguments
};

RequestFacts request_facts(const AuditLog& log, const mcp::Message& request, const mcp::RequestContext& context);

// Whether a request's end is audited: every call of a tool, resource or prompt, and every refusal of any request.
bool audited(std::string_view method, std::optional<mcp::Failure> failure);

// Appends (without a newline) the line for a request that ran or was refused in the request path.
void append_request_line(std::string& out, const AuditLog& log, const mcp::RequestContext& context,
                         std::string_view method, const RequestFacts& request, std::optional<mcp::Failure> failure,
                         const mcp::OutcomeFacts& facts, std::optional<double> duration_ms);

// Appends the line for a delivery the authenticate stage refused (no principal, no request yet).
void append_auth_failure_line(std::string& out, const AuditLog& log, const mcp::RequestContext& who,
                              std::string_view reason);

}  // namespace sandgate::audit
