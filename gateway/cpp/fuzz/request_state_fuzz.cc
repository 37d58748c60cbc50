// requestState fuzz target: whatever a client echoes back is opened by the gateway. Every input is used as a
// state: opening it never crashes and never yields a payload (only the gateway's own seals open), and the
// input's sealed form opens to exactly it, for its binding only.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <variant>

#include "mcp/request_state.h"

namespace {

using namespace sandgate;
using namespace sandgate::mcp;

void require(bool condition) {
  if (!condition) std::abort();
}

const RequestStateSeal& seal() {
  static const RequestStateSeal instance(std::string(kRequestStateKeyBytes, 'k'),
                                         std::make_shared<SystemWallClock>(), std::chrono::seconds(60));
  return instance;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const StateBinding binding{"token:alice", "tools/call", "t"};
  require(std::holds_alternative<StateRefused>(seal().open(input, binding)));
  const std::string sealed = seal().seal(input, binding);
  const auto opened = seal().open(sealed, binding);
  require(std::holds_alternative<std::string>(opened) && std::get<std::string>(opened) == input);
  require(std::holds_alternative<StateRefused>(seal().open(sealed, StateBinding{"token:mallory", "tools/call", "t"})));
  return 0;
}
