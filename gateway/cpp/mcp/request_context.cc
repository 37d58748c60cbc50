#include "mcp/request_context.h"

namespace sandgate::mcp {

std::string_view transport_name(Transport transport) {
  switch (transport) {
    case Transport::kStreamableHttp: return "streamable_http";
    case Transport::kStdio: return "stdio";
  }
  return "unknown";
}

const std::string* find_header(const Headers& headers, std::string_view lower_name) {
  for (const auto& [name, value] : headers) {
    if (name == lower_name) return &value;
  }
  return nullptr;
}

}  // namespace sandgate::mcp
