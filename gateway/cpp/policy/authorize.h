#pragma once
// The authorize stage: may this principal make this request? Everything is allowed until the policy file.
#include <optional>
#include <string>

#include "mcp/errors.h"
#include "mcp/jsonrpc.h"
#include "mcp/request_context.h"

namespace sandgate::policy {

enum class PolicyError {
  kDenied,  // the caller may see the tool but not make this call
  kHidden,  // the caller may not see the tool: answered exactly as an unknown tool
};

struct Denial {
  PolicyError error;
  std::string reason;  // a stable code for the client and the audit log, never policy internals
  std::string tool;    // kHidden: the name the caller asked for
  std::string challenge;  // kDenied: WWW-Authenticate auth-params when a scope step-up would help; else empty
};

class Authorizer {
 public:
  virtual ~Authorizer() = default;
  // Thread-safe; nullopt allows, and may leave what it decided in `context.admission` for the later stages.
  virtual std::optional<Denial> authorize(mcp::RequestContext& context, const mcp::Message& request) const = 0;
};

class AllowAll final : public Authorizer {
 public:
  std::optional<Denial> authorize(mcp::RequestContext&, const mcp::Message&) const override { return std::nullopt; }
};

mcp::Fault to_fault(const Denial& denial);

}  // namespace sandgate::policy
