#pragma once
// Network bounds of the HTTP listener; every one is configurable from Python.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace sandgate::server {

struct ListenerSettings {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8000;
  unsigned io_threads = 0;  // 0: one per core
  std::size_t max_body_bytes = 4 * 1024 * 1024;
  std::size_t max_header_bytes = 16 * 1024;
  std::size_t max_header_fields = 100;  // more is refused (431): every one reaches the request's context
  std::chrono::milliseconds read_timeout{30'000};   // a request must arrive whole within this
  std::chrono::milliseconds idle_timeout{120'000};  // a kept-alive connection may sit idle this long
  std::chrono::milliseconds shutdown_grace{10'000};
  std::chrono::milliseconds stream_keepalive{15'000};
  std::size_t max_stream_backlog = 1000;  // events waiting on a session's GET stream; more are undeliverable
  std::size_t max_connections = 10'000;
  // JSON documents served to GET at paths besides /mcp (the OAuth protected-resource metadata); nullopt: 404.
  std::function<std::optional<std::string>(std::string_view path)> documents;
};

}  // namespace sandgate::server
