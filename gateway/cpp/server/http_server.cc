#include <chrono>

#include "server/http_internal.h"

namespace sandgate::server {

void HttpServer::Impl::accept_next() {
  acceptor.async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (ec == net::error::operation_aborted || !acceptor.is_open()) return;
      // Transient (EMFILE, ECONNABORTED): keep listening.
      return accept_next();
    }
    bool over_limit = false;
    {
      std::lock_guard lock(mutex);
      over_limit = connections.size() >= settings.max_connections;
    }
    if (over_limit) {
      count(metrics::Counter::kHttpConnectionsRejected);
      beast::error_code ignored;
      socket.close(ignored);
    } else {
      count(metrics::Counter::kHttpConnectionsAccepted);
      socket.set_option(tcp::no_delay(true), ec);
      start_connection(*this, std::move(socket));
    }
    accept_next();
  });
}

void HttpServer::Impl::register_connection(const std::shared_ptr<Connection>& connection) {
  std::lock_guard lock(mutex);
  connections.emplace(connection.get(), connection);
}

void HttpServer::Impl::unregister_connection(const Connection* connection) {
  std::lock_guard lock(mutex);
  connections.erase(connection);
  changed.notify_all();
}

void HttpServer::Impl::request_started() {
  std::lock_guard lock(mutex);
  ++in_flight;
}

void HttpServer::Impl::request_finished() {
  std::lock_guard lock(mutex);
  --in_flight;
  changed.notify_all();
}

HttpServer::HttpServer(ListenerSettings settings, mcp::StreamableHttp& mcp, std::shared_ptr<metrics::Counters> counters)
    : impl_(std::make_unique<Impl>(std::move(settings), mcp, std::move(counters))) {}

HttpServer::~HttpServer() {
  if (!impl_->threads.empty() && !impl_->stopped) shutdown();
  wait();
}

std::uint16_t HttpServer::start() {
  Impl& s = *impl_;
  const tcp::endpoint endpoint(net::ip::make_address(s.settings.host), s.settings.port);
  s.acceptor.open(endpoint.protocol());
  s.acceptor.set_option(net::socket_base::reuse_address(true));
  s.acceptor.bind(endpoint);
  s.acceptor.listen(net::socket_base::max_listen_connections);
  const std::uint16_t port = s.acceptor.local_endpoint().port();
  s.accepting = true;
  s.accept_next();
  unsigned threads = s.settings.io_threads;
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  for (unsigned i = 0; i < threads; ++i) s.threads.emplace_back([&s] { s.ioc.run(); });
  return port;
}

void HttpServer::shutdown() {
  Impl& s = *impl_;
  if (s.draining.exchange(true)) return;
  s.accepting = false;
  net::post(s.acceptor.get_executor(), [&s] {
    beast::error_code ignored;
    s.acceptor.close(ignored);
  });
  {
    // Scoped: holding these references while waiting would keep the connections alive.
    std::vector<std::shared_ptr<Connection>> live;
    {
      std::lock_guard lock(s.mutex);
      for (auto& [key, weak] : s.connections) {
        if (auto c = weak.lock()) live.push_back(std::move(c));
      }
    }
    for (auto& c : live) drain_connection(c);
  }
  {
    std::unique_lock lock(s.mutex);
    s.changed.wait_for(lock, s.settings.shutdown_grace, [&s] { return s.in_flight == 0 && s.connections.empty(); });
  }
  s.stopped = true;
  s.ioc.stop();
}

void HttpServer::wait() {
  // Several threads may wait at once (the host's waiter and shutdown()); exactly one joins.
  std::lock_guard lock(impl_->join_mutex);
  for (auto& t : impl_->threads) {
    if (t.joinable()) t.join();
  }
}

bool HttpServer::ready() const {
  return impl_->accepting.load() && !impl_->draining.load() && impl_->backend_ready.load();
}

void HttpServer::set_backend_ready(bool ready) { impl_->backend_ready.store(ready); }

}  // namespace sandgate::server
