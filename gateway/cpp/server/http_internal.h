#pragma once
// Shared by the two Asio translation units only; nothing else includes Beast.
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <condition_variable>
#include <memory>
#include <string>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "server/http_server.h"

namespace sandgate::server {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

class Connection;

struct HttpServer::Impl {
  Impl(ListenerSettings s, mcp::StreamableHttp& m, std::shared_ptr<metrics::Counters> c)
      : settings(std::move(s)), mcp(m), counters(std::move(c)), acceptor(net::make_strand(ioc)) {}
  void count(metrics::Counter counter) { counters->add(counter); }
  // Every response the listener starts, by its status.
  void count_status(unsigned status) {
    metrics::Families& families = counters->families();
    families.http_requests.add(families.transports.find("streamable_http"), families.statuses.find(std::to_string(status)));
  }

  void accept_next();
  void register_connection(const std::shared_ptr<Connection>& connection);
  void unregister_connection(const Connection* connection);
  void request_started();
  void request_finished();

  ListenerSettings settings;
  mcp::StreamableHttp& mcp;
  const std::shared_ptr<metrics::Counters> counters;
  net::io_context ioc;
  tcp::acceptor acceptor;
  std::vector<std::thread> threads;
  std::mutex join_mutex;
  std::atomic<bool> accepting{false};
  std::atomic<bool> draining{false};
  std::atomic<bool> backend_ready{true};
  std::atomic<bool> stopped{false};

  std::mutex mutex;  // guards connections, in_flight, and the stop condition
  std::condition_variable changed;
  std::unordered_map<const Connection*, std::weak_ptr<Connection>> connections;
  std::size_t in_flight = 0;
};

void start_connection(HttpServer::Impl& server, tcp::socket socket);
// Closes the connection once it is idle (now, if it is waiting for a request).
void drain_connection(const std::shared_ptr<Connection>& connection);

}  // namespace sandgate::server
