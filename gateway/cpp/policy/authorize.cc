#include "policy/authorize.h"

#include "common/json.h"

namespace sandgate::policy {

mcp::Fault to_fault(const Denial& denial) {
  if (denial.error == PolicyError::kHidden) {
    // Word for word what the dispatcher answers for a tool it does not have.
    json::object data;
    data["name"] = denial.tool;
    return mcp::Fault{mcp::Failure::kInvalidParams, "Unknown tool: " + denial.tool, json::serialize(data)};
  }
  mcp::Fault fault{mcp::Failure::kForbidden, "Forbidden: " + denial.reason};
  fault.detail.challenge = denial.challenge;
  return fault;
}

}  // namespace sandgate::policy
