#pragma once
// The `requestState` of a 2026-07-28 multi-round-trip request (an `input_required` result, then the client's
// retry): what the call needs to resume, sealed by the gateway. The client only echoes it and must not read or
// change it, and one principal's state must not resume another's call: AES-256-GCM under a key of the gateway's,
// with the principal, the method and the target as associated data, and an expiry inside. Whatever a client
// sends back is attacker-controlled until `open` says otherwise.
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <variant>

#include "common/clock.h"

namespace sandgate::mcp {

inline constexpr std::size_t kRequestStateKeyBytes = 32;

// Who and what a state belongs to: only the same principal's retry of the same method and target opens it.
struct StateBinding {
  std::string_view principal;  // auth::identity_of
  std::string_view method;
  std::string_view target;     // the tool or prompt name, the resource URI
};

struct StateRefused {
  std::string reason;  // "requestState integrity check failed", "requestState expired", ...
};

class RequestStateSeal {
 public:
  // `key` must hold kRequestStateKeyBytes bytes (std::invalid_argument otherwise). Replicas behind one load
  // balancer share it; a restart with a new key refuses the states of the old one (their calls start over).
  RequestStateSeal(std::string key, std::shared_ptr<const WallClock> clock, std::chrono::seconds lifetime);

  // The sealed, base64url text of `payload` for `binding`, valid for the lifetime from now.
  std::string seal(std::string_view payload, const StateBinding& binding) const;
  // The payload, or why the state is refused: not ours, changed, another principal's or target's, or expired.
  std::variant<std::string, StateRefused> open(std::string_view state, const StateBinding& binding) const;

  // A fresh random key.
  static std::string random_key();

 private:
  const std::string key_;
  const std::shared_ptr<const WallClock> clock_;
  const std::chrono::seconds lifetime_;
};

}  // namespace sandgate::mcp
