#pragma once
// Newline-delimited JSON-RPC over a pair of file descriptors (stdin/stdout), both eras.
#include <cstddef>

#include "mcp/engine.h"

namespace sandgate::server {

struct StdioSettings {
  std::size_t max_message_bytes = 4 * 1024 * 1024;
};

// Serves until EOF on `in_fd`, then waits for in-flight requests; only protocol messages go to `out_fd`.
void serve_stdio(const mcp::Engine& engine, int in_fd, int out_fd, StdioSettings settings);

}  // namespace sandgate::server
