#include "policy/authorize.h"

namespace sandgate::policy {

mcp::Fault to_fault(const Denial& denial) {
  mcp::Fault fault{mcp::Failure::kForbidden, "Forbidden: " + denial.reason};
  fault.detail.challenge = R"(error="insufficient_scope")";
  return fault;
}

}  // namespace sandgate::policy
