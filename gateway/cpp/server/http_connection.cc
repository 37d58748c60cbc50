// One HTTP/1.1 connection: bounded reads, routing, async replies, SSE streams, cancel on disconnect.
#include <sys/socket.h>

#include <deque>
#include <string_view>

#include "server/http_internal.h"

namespace sandgate::server {
namespace {

constexpr std::string_view kServerHeader = "sandgate";

std::optional<std::string> header(const http::fields& fields, std::string_view name) {
  auto it = fields.find(name);
  if (it == fields.end()) return std::nullopt;
  return std::string(it->value());
}

bool duplicated(const http::fields& fields, std::string_view name) {
  auto range = fields.equal_range(name);
  return range.first != range.second && std::next(range.first) != range.second;
}

std::string_view path_of(std::string_view target) { return target.substr(0, target.find('?')); }

// "address:port" ("[v6]:port"), for the request context; empty if the socket has no peer any more.
std::string peer_of(const tcp::socket& socket) {
  boost::system::error_code ec;
  const tcp::endpoint endpoint = socket.remote_endpoint(ec);
  if (ec) return {};
  const std::string address = endpoint.address().to_string();
  return (endpoint.address().is_v6() ? "[" + address + "]" : address) + ":" + std::to_string(endpoint.port());
}

}  // namespace

class Connection : public std::enable_shared_from_this<Connection>, public mcp::ResponseEvents {
 public:
  Connection(HttpServer::Impl& server, tcp::socket socket)
      : server_(server), peer_(peer_of(socket)), stream_(std::move(socket)) {}
  ~Connection() { server_.unregister_connection(this); }

  void start() {
    server_.register_connection(shared_from_this());
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read_request(); });
  }

  void drain() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] {
      if (self->state_ == State::kReading || self->state_ == State::kStreaming) self->close();
    });
  }

  // From any thread (a tool's progress): the event joins this connection's strand behind what came before.
  void send_event(std::string event) override {
    net::post(stream_.get_executor(), [self = shared_from_this(), event = std::move(event)]() mutable {
      self->on_event(std::move(event));
    });
  }

  // From any thread (a call's announcement), for a session's GET stream; bounded by what still waits to be written.
  bool send_stream_event(std::string event) override {
    if (stream_backlog_.fetch_add(1) >= server_.settings.max_stream_backlog) {
      --stream_backlog_;
      return false;
    }
    net::post(stream_.get_executor(), [self = shared_from_this(), event = std::move(event)]() mutable {
      if (self->state_ != State::kStreaming) return void(--self->stream_backlog_);
      self->sse_queue_.push_back(std::move(event));
      self->pump_sse_reply();
    });
    return true;
  }

 private:
  enum class State { kReading, kBusy, kStreaming, kClosed };

  void read_request() {
    if (server_.draining) return close();
    state_ = State::kReading;
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(server_.settings.max_header_bytes));
    parser_->body_limit(server_.settings.max_body_bytes);
    // The first request gets the read timeout; a kept-alive connection may idle longer before its next.
    arm_read_deadline(requests_served_ == 0 && buffer_.size() == 0 ? server_.settings.read_timeout
                                                                   : server_.settings.idle_timeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_header(ec); });
  }

  void on_header(beast::error_code ec) {
    if (ec) return on_read_error(ec);
    arm_read_deadline(server_.settings.read_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_request(ec); });
  }

  // Our own timer, not tcp_stream's: Beast closes the socket on its timeout, and a stalled client is owed a 408.
  void arm_read_deadline(std::chrono::milliseconds timeout) {
    if (!read_deadline_) read_deadline_.emplace(stream_.get_executor());
    read_deadline_->expires_after(timeout);
    read_deadline_->async_wait([self = shared_from_this(), generation = ++deadline_generation_](beast::error_code ec) {
      if (ec || generation != self->deadline_generation_ || self->state_ != State::kReading) return;
      self->read_timed_out_ = true;
      beast::error_code ignored;
      self->stream_.socket().cancel(ignored);
    });
  }

  void disarm_read_deadline() {
    ++deadline_generation_;
    if (read_deadline_) read_deadline_->cancel();
  }

  void on_read_error(beast::error_code ec) {
    disarm_read_deadline();
    if (read_timed_out_) {
      read_timed_out_ = false;
      server_.count(metrics::Counter::kHttpReadTimeouts);
      // Only a client that started a request is owed a 408; an idle keep-alive just closes.
      if (buffer_.size() > 0 || (parser_ && parser_->got_some())) return write_simple(http::status::request_timeout, "", true);
      return close();
    }
    if (ec == http::error::body_limit) {
      server_.count(metrics::Counter::kHttpBodiesTooLarge);
      return reply_fault_and_close(mcp::Fault{mcp::Failure::kBodyTooLarge, "Payload Too Large: body exceeds " +
                                                                               std::to_string(server_.settings.max_body_bytes) + " bytes"});
    }
    if (ec == http::error::header_limit) {
      server_.count(metrics::Counter::kHttpHeadersTooLarge);
      return write_simple(http::status::request_header_fields_too_large, "", true);
    }
    if (ec == http::error::end_of_stream || ec == net::error::eof || ec == net::error::connection_reset ||
        ec == net::error::operation_aborted) {
      return close();
    }
    // Malformed HTTP.
    write_simple(http::status::bad_request, "", true);
  }

  void on_request(beast::error_code ec) {
    if (ec) return on_read_error(ec);
    disarm_read_deadline();
    server_.count(metrics::Counter::kHttpRequests);
    ++requests_served_;
    state_ = State::kBusy;
    auto& req = parser_->get();
    keep_alive_ = req.keep_alive();
    const std::string_view path = path_of(req.target());
    if (path == "/healthz") return write_simple(http::status::ok, R"({"status":"ok"})", false);
    if (path == "/readyz") {
      const bool ready = server_.accepting && !server_.draining && server_.backend_ready;
      return write_simple(ready ? http::status::ok : http::status::service_unavailable,
                          ready ? R"({"status":"ready"})" : R"({"status":"not_ready"})", false);
    }
    if (path != "/mcp") {
      std::optional<std::string> document = server_.settings.documents ? server_.settings.documents(path) : std::nullopt;
      if (!document) return write_simple(http::status::not_found, R"({"error":"not found"})", false);
      if (req.method() != http::verb::get) return write_simple(http::status::method_not_allowed, "", false);
      return write_simple(http::status::ok, *document, false);
    }

    std::size_t fields = 0, bytes = 0;
    for (const auto& field : req) {
      ++fields;
      bytes += field.name_string().size() + field.value().size();
    }
    if (fields > server_.settings.max_header_fields) {
      server_.count(metrics::Counter::kHttpHeadersTooLarge);
      return write_simple(http::status::request_header_fields_too_large, "", true);
    }
    mcp::McpHttpRequest request;
    request.method = std::string(req.method_string());
    request.accept = header(req, "Accept");
    request.content_type = header(req, "Content-Type");
    request.origin = header(req, "Origin");
    request.protocol_version = header(req, "MCP-Protocol-Version");
    request.mcp_method = header(req, "Mcp-Method");
    request.mcp_name = header(req, "Mcp-Name");
    request.session_id = header(req, "Mcp-Session-Id");
    request.duplicate_routing_header =
        duplicated(req, "MCP-Protocol-Version") || duplicated(req, "Mcp-Method") || duplicated(req, "Mcp-Name");
    request.body = std::move(req.body());
    request.peer = peer_;
    request.headers.reserve(fields, bytes);
    for (const auto& field : req) request.headers.add(field.name_string(), field.value());

    cancel_ = std::make_shared<mcp::CancelToken>();
    server_.request_started();
    awaiting_reply_ = true;
    watch_for_disconnect();
    // HTTP/1.0 has no chunked encoding, so its POSTs cannot turn into event streams.
    std::weak_ptr<mcp::ResponseEvents> events;
    if (req.version() >= 11) events = std::static_pointer_cast<mcp::ResponseEvents>(shared_from_this());
    server_.mcp.handle(
        std::move(request), cancel_,
        [self = shared_from_this()](mcp::McpHttpReply reply) {
          net::post(self->stream_.get_executor(), [self, reply = std::move(reply)]() mutable { self->on_reply(std::move(reply)); });
        },
        std::move(events));
  }

  // While a call runs nobody reads the socket; a readable EOF means the client left, so cancel its call.
  void watch_for_disconnect() {
    stream_.socket().async_wait(tcp::socket::wait_read, [self = shared_from_this()](beast::error_code ec) {
      if (ec || !self->awaiting_reply_) return;
      char probe;
      const ssize_t n = ::recv(self->stream_.socket().native_handle(), &probe, 1, MSG_PEEK | MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
        self->server_.count(metrics::Counter::kHttpCancelledByDisconnect);
        self->peer_gone_ = true;
        self->cancel_->cancel();
      }
      // Pipelined bytes: leave them for the next read.
    });
  }

  void on_reply(mcp::McpHttpReply reply) {
    awaiting_reply_ = false;
    server_.request_finished();
    if (peer_gone_ || state_ == State::kClosed) return close();
    if (reply.event_stream_session) return start_event_stream(std::move(reply));
    if (reply.ends_event_stream) {
      if (!sse_reply_open_) open_sse_reply();
      sse_queue_.push_back(std::move(reply.body));
      sse_ending_ = true;
      return pump_sse_reply();
    }
    server_.count_status(reply.status);
    auto res = std::make_shared<http::response<http::string_body>>(static_cast<http::status>(reply.status), 11);
    res->set(http::field::server, kServerHeader);
    for (auto& [name, value] : reply.headers) res->set(name, value);
    if (!reply.content_type.empty()) res->set(http::field::content_type, reply.content_type);
    res->body() = std::move(reply.body);
    write(std::move(res), !keep_alive_ || server_.draining);
  }

  void start_event_stream(mcp::McpHttpReply reply) {
    state_ = State::kStreaming;
    stream_session_ = *reply.event_stream_session;
    server_.count_status(200);
    auto res = std::make_shared<http::response<http::empty_body>>(http::status::ok, 11);
    res->set(http::field::server, kServerHeader);
    res->set(http::field::content_type, reply.content_type);
    for (auto& [name, value] : reply.headers) res->set(name, value);
    res->chunked(true);
    auto serializer = std::make_shared<http::response_serializer<http::empty_body>>(*res);
    stream_.expires_after(server_.settings.read_timeout);
    sse_writing_ = true;  // events wait behind the headers
    http::async_write_header(stream_, *serializer, [self = shared_from_this(), res, serializer](beast::error_code ec, std::size_t) {
      if (ec) return self->close();
      if (self->state_ != State::kStreaming) return;
      self->stream_attachment_ = self->server_.mcp.stream_opened(
          self->stream_session_, std::static_pointer_cast<mcp::ResponseEvents>(self->shared_from_this()));
      self->schedule_keepalive();
      self->on_sse_written(ec);
    });
  }

  // A comment now and then keeps proxies from timing a stream out (a session's GET stream, or a POST's event
  // stream while its request runs: a subscriptions/listen stream may be quiet for hours); it queues behind events.
  void schedule_keepalive() {
    if (!keepalive_timer_) keepalive_timer_.emplace(stream_.get_executor());
    keepalive_timer_->expires_after(server_.settings.stream_keepalive);
    keepalive_timer_->async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec) return;
      const bool session_stream = self->state_ == State::kStreaming;
      const bool reply_stream = self->state_ == State::kBusy && self->sse_reply_open_ && self->awaiting_reply_ &&
                                !self->peer_gone_;
      if (!session_stream && !reply_stream) return;
      if (session_stream &&
          (self->server_.draining || !self->server_.mcp.session_alive(self->stream_session_))) {
        return self->close();
      }
      if (session_stream) ++self->stream_backlog_;
      self->sse_queue_.emplace_back(":\n\n");
      self->pump_sse_reply();
      self->schedule_keepalive();
    });
  }

  // A notification of the request in flight; only its own response may carry it.
  void on_event(std::string event) {
    if (!awaiting_reply_ || peer_gone_ || state_ != State::kBusy) return;
    if (!sse_reply_open_) open_sse_reply();
    sse_queue_.push_back(std::move(event));
    pump_sse_reply();
  }

  // The POST's response becomes a chunked event stream; its events follow the headers as they come.
  void open_sse_reply() {
    sse_reply_open_ = true;
    sse_writing_ = true;
    schedule_keepalive();
    mcp::McpHttpReply head = mcp::event_stream_reply();
    server_.count_status(200);
    auto res = std::make_shared<http::response<http::empty_body>>(http::status::ok, 11);
    res->set(http::field::server, kServerHeader);
    res->set(http::field::content_type, head.content_type);
    for (auto& [name, value] : head.headers) res->set(name, value);
    res->keep_alive(keep_alive_);
    res->chunked(true);
    auto serializer = std::make_shared<http::response_serializer<http::empty_body>>(*res);
    stream_.expires_after(server_.settings.read_timeout);
    http::async_write_header(stream_, *serializer, [self = shared_from_this(), res, serializer](beast::error_code ec, std::size_t) {
      self->on_sse_written(ec);
    });
  }

  // One write at a time; whatever queued meanwhile goes out as one chunk.
  void pump_sse_reply() {
    if (sse_writing_ || state_ == State::kClosed) return;
    if (sse_queue_.empty()) {
      if (sse_ending_) end_sse_reply();
      return;
    }
    // A GET stream's backlog counts its events until they are handed to a write.
    if (state_ == State::kStreaming) stream_backlog_ -= sse_queue_.size();
    auto chunk = std::make_shared<std::string>(std::move(sse_queue_.front()));
    sse_queue_.pop_front();
    while (!sse_queue_.empty()) {
      chunk->append(sse_queue_.front());
      sse_queue_.pop_front();
    }
    sse_writing_ = true;
    stream_.expires_after(server_.settings.read_timeout);
    net::async_write(stream_, http::make_chunk(net::buffer(*chunk)), [self = shared_from_this(), chunk](beast::error_code ec, std::size_t) {
      self->on_sse_written(ec);
    });
  }

  void on_sse_written(beast::error_code ec) {
    sse_writing_ = false;
    if (ec) {
      // A client that stops reading (write timeout) or left: its call is cancelled like on a disconnect.
      if (awaiting_reply_ && !peer_gone_) {
        server_.count(metrics::Counter::kHttpCancelledByDisconnect);
        peer_gone_ = true;
        cancel_->cancel();
      }
      return close();
    }
    stream_.expires_never();
    pump_sse_reply();
  }

  void end_sse_reply() {
    sse_writing_ = true;
    stream_.expires_after(server_.settings.read_timeout);
    net::async_write(stream_, http::make_chunk_last(), [self = shared_from_this()](beast::error_code ec, std::size_t) {
      self->sse_writing_ = false;
      self->sse_reply_open_ = false;
      self->sse_ending_ = false;
      if (ec || !self->keep_alive_ || self->server_.draining) return self->close();
      self->stream_.expires_never();
      self->read_request();
    });
  }

  template <class Body>
  void write(std::shared_ptr<http::response<Body>> res, bool close_after) {
    res->keep_alive(!close_after);
    res->prepare_payload();
    stream_.expires_after(server_.settings.read_timeout);
    http::async_write(stream_, *res, [self = shared_from_this(), res, close_after](beast::error_code ec, std::size_t) {
      if (ec || close_after) return self->close();
      self->stream_.expires_never();  // the write deadline must not govern the next read
      self->read_request();
    });
  }

  void write_simple(http::status status, std::string_view body, bool close_after) {
    server_.count_status(static_cast<unsigned>(status));
    auto res = std::make_shared<http::response<http::string_body>>(status, 11);
    res->set(http::field::server, kServerHeader);
    if (!body.empty()) {
      res->set(http::field::content_type, "application/json");
      res->body() = std::string(body);
    }
    write(std::move(res), close_after || !keep_alive_ || server_.draining);
  }

  void reply_fault_and_close(const mcp::Fault& fault) {
    mcp::McpHttpReply reply = mcp::StreamableHttp::fault_reply(fault, mcp::Era::kLegacy);
    server_.count_status(reply.status);
    auto res = std::make_shared<http::response<http::string_body>>(static_cast<http::status>(reply.status), 11);
    res->set(http::field::server, kServerHeader);
    res->set(http::field::content_type, reply.content_type);
    res->body() = std::move(reply.body);
    write(std::move(res), true);
  }

  void close() {
    if (state_ == State::kClosed) return;
    if (stream_attachment_ != 0) server_.mcp.stream_closed(stream_session_, stream_attachment_);
    state_ = State::kClosed;
    if (keepalive_timer_) keepalive_timer_->cancel();
    disarm_read_deadline();
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

  HttpServer::Impl& server_;
  const std::string peer_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<net::steady_timer> keepalive_timer_;
  std::optional<net::steady_timer> read_deadline_;
  std::uint64_t deadline_generation_ = 0;
  bool read_timed_out_ = false;
  std::shared_ptr<mcp::CancelToken> cancel_;
  std::string stream_session_;
  std::uint64_t stream_attachment_ = 0;  // nonzero: this GET stream is attached to stream_session_
  std::atomic<std::size_t> stream_backlog_{0};  // a GET stream's events posted or queued, not yet being written
  State state_ = State::kReading;
  std::uint64_t requests_served_ = 0;
  bool keep_alive_ = true;
  bool awaiting_reply_ = false;
  bool peer_gone_ = false;
  // A POST whose notifications opened an event stream (a GET's stream is kStreaming instead).
  bool sse_reply_open_ = false;
  bool sse_writing_ = false;
  bool sse_ending_ = false;  // the reply is queued: after it, the terminating chunk
  std::deque<std::string> sse_queue_;
};

void start_connection(HttpServer::Impl& server, tcp::socket socket) {
  std::make_shared<Connection>(server, std::move(socket))->start();
}

void drain_connection(const std::shared_ptr<Connection>& connection) { connection->drain(); }

}  // namespace sandgate::server
