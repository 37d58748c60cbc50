#pragma once
// SEP-2243 (2026-07-28, Streamable HTTP): a tool's inputSchema may mark a top-level argument with
// `x-mcp-header: Name`; the client then mirrors the argument into an `Mcp-Param-Name` header so
// intermediaries can route on it, and the gateway holds the two to agreement before anything runs.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/json.h"
#include "mcp/errors.h"
#include "mcp/request_context.h"

namespace sandgate::mcp {

struct ParamHeader {
  std::string property;  // the argument's name in inputSchema.properties
  std::string header;    // "mcp-param-<name>", lower-cased as the listener stores header names
};

// The annotated arguments of one tool's inputSchema. Throws std::invalid_argument when an annotation is
// malformed: a name that is no HTTP token, one used twice (names are case-insensitive), or on an argument that
// is not a string, integer, number or boolean.
std::vector<ParamHeader> param_headers_of(const json::value& input_schema, std::string_view tool);

// nullopt when every annotated argument and its header agree: a header for each argument present and not null,
// carrying its value (plain, or `=?base64?…?=`), and none for an argument absent or null. Else the
// HeaderMismatch fault.
std::optional<Fault> check_param_headers(const std::vector<ParamHeader>& params, const json::value* arguments,
                                         const Headers& headers);

}  // namespace sandgate::mcp
