#pragma once
// The authorize stage: may this principal make this request? Everything is allowed until the policy file.
#include <optional>
#include <string>

#include "mcp/errors.h"
#include "mcp/jsonrpc.h"
#include "mcp/request_context.h"

namespace sandgate::policy {

enum class PolicyError { kDenied };

struct Denial {
  PolicyError error;
  std::string reason;  // a stable code for the client and the audit log, never policy internals
};

class Authorizer {
 public:
  virtual ~Authorizer() = default;
  // Thread-safe; nullopt allows.
  virtual std::optional<Denial> authorize(const mcp::RequestContext& context, const mcp::Message& request) const = 0;
};

class AllowAll final : public Authorizer {
 public:
  std::optional<Denial> authorize(const mcp::RequestContext&, const mcp::Message&) const override { return std::nullopt; }
};

mcp::Fault to_fault(const Denial& denial);

}  // namespace sandgate::policy
