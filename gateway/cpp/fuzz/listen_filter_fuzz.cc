// subscriptions/listen filter fuzz target: whatever JSON a client sends as `notifications` is checked; checking
// never crashes, and an accepted filter keeps to the bounds (URIs, their count and length).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string_view>
#include <variant>

#include "mcp/subscriptions.h"

namespace {

using namespace sandgate;
using namespace sandgate::mcp;

void require(bool condition) {
  if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  boost::system::error_code ec;
  const json::value notifications = json::parse(input, ec);
  if (ec) return 0;
  const SubscriptionLimits limits{4, 64, 2};
  Subscriptions subscriptions(limits, std::make_shared<metrics::Counters>());
  auto filter = subscriptions.listen_filter(&notifications);
  if (auto* accepted = std::get_if<ListenFilter>(&filter)) {
    require(accepted->resource_uris.size() <= limits.max_per_session);
    for (const std::string& uri : accepted->resource_uris) require(uri.size() <= limits.max_uri_bytes);
  }
  return 0;
}
