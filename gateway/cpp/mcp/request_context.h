#pragma once
// What every stage of a request's path may know about it, on every transport.
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "auth/principal.h"
#include "mcp/notifications.h"
#include "mcp/protocol.h"

namespace sandgate::mcp {

enum class Transport { kStreamableHttp, kStdio };
std::string_view transport_name(Transport transport);

// Request headers a stage may read, names lower-cased; transports keep at most kMaxContextHeaders.
using Headers = std::vector<std::pair<std::string, std::string>>;
inline constexpr std::size_t kMaxContextHeaders = 64;
// The first value of `lower_name`, or null.
const std::string* find_header(const Headers& headers, std::string_view lower_name);

struct RequestContext {
  Era era = Era::kModern;
  std::string protocol_version;
  std::string session;  // legacy session id or stdio connection; empty when stateless
  Transport transport = Transport::kStreamableHttp;
  std::string peer;                        // "127.0.0.1:54321"; "stdio"
  std::shared_ptr<const Headers> headers;  // shared by a batch's requests; never null once received
  auth::Principal principal;
  // The transport's channel for this request's notifications; null when it has none (no progress token, a batch).
  std::shared_ptr<NotificationSink> notifications;
};

}  // namespace sandgate::mcp
