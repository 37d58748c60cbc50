#pragma once
// Listener and I/O threads on Boost.Asio; connections live in http_connection.cc.
#include <atomic>
#include <cstdint>
#include <memory>

#include "mcp/streamable_http.h"
#include "metrics/counters.h"
#include "server/settings.h"

namespace sandgate::server {

class HttpServer {
 public:
  // Counts its connections and requests into `counters`.
  HttpServer(ListenerSettings settings, mcp::StreamableHttp& mcp, std::shared_ptr<metrics::Counters> counters);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds, listens and starts the I/O threads; returns the bound port. Throws on bind failure.
  std::uint16_t start();
  // Stops accepting, lets in-flight requests finish (up to the grace period), then stops.
  void shutdown();
  // Blocks until the server has stopped.
  void wait();
  // Accepting, not draining, and the backend says it can run calls (the sandbox's zygote is up).
  bool ready() const;
  // Set by the backend as it goes down and comes back; /readyz answers 503 meanwhile.
  void set_backend_ready(bool ready);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace sandgate::server
