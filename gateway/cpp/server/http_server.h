#pragma once
// Listener and I/O threads on Boost.Asio; connections live in http_connection.cc.
#include <atomic>
#include <cstdint>
#include <memory>

#include "mcp/streamable_http.h"
#include "server/settings.h"

namespace sandgate::server {

struct ServerCounters {
  std::uint64_t connections_accepted = 0;
  std::uint64_t connections_rejected = 0;
  std::uint64_t requests = 0;
  std::uint64_t read_timeouts = 0;
  std::uint64_t bodies_too_large = 0;
  std::uint64_t headers_too_large = 0;
  std::uint64_t cancelled_by_disconnect = 0;
};

class HttpServer {
 public:
  HttpServer(ListenerSettings settings, mcp::StreamableHttp& mcp);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds, listens and starts the I/O threads; returns the bound port. Throws on bind failure.
  std::uint16_t start();
  // Stops accepting, lets in-flight requests finish (up to the grace period), then stops.
  void shutdown();
  // Blocks until the server has stopped.
  void wait();
  bool ready() const;
  ServerCounters counters() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace sandgate::server
