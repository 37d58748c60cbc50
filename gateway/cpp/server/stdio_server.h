#pragma once
// Newline-delimited JSON-RPC over a pair of file descriptors (stdin/stdout): framing only; what the lines
// mean is the Conversation's.
#include <cstddef>

#include "mcp/conversation.h"

namespace sandgate::server {

struct StdioSettings {
  std::size_t max_message_bytes = 4 * 1024 * 1024;
  // The connection's credential (an API key the client put in the server's environment, as MCP's stdio
  // authorization says); every message carries it as `x-api-key`. Empty: the local anonymous caller.
  std::string api_key{};
};

// Serves until EOF on `in_fd`, then waits for in-flight requests; only protocol messages go to `out_fd`.
void serve_stdio(mcp::Conversation& conversation, int in_fd, int out_fd, StdioSettings settings);

}  // namespace sandgate::server
