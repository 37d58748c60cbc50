#include "server/stdio_server.h"

#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>

namespace sandgate::server {
namespace {

using mcp::Era;
using mcp::Fault;
using mcp::Message;
using mcp::MessageKind;

// One stdio process is one connection: its per-session state lives as long as stdin stays open.
constexpr std::string_view kStdioSession = "stdio";

// A request's notifications as lines written before its reply line; none once the reply is out.
// Holds the writer by reference: serve_stdio waits for every reply, so every sink finishes before it returns.
class LineNotifications final : public mcp::NotificationSink {
 public:
  explicit LineNotifications(std::function<void(std::string)> write) : write_(std::move(write)) {}

  bool deliver(std::string json_message) override {
    std::lock_guard lock(mutex_);
    if (finished_) return false;
    write_(std::move(json_message));
    return true;
  }
  // After this returns no notification is being or will be written: the reply line may follow.
  void finish() {
    std::lock_guard lock(mutex_);
    finished_ = true;
  }

 private:
  std::mutex mutex_;
  std::function<void(std::string)> write_;
  bool finished_ = false;
};

class StdioSession {
 public:
  StdioSession(const mcp::Engine& engine, int out_fd) : engine_(engine), out_fd_(out_fd) {}

  void on_line(std::string_view line) {
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) return;
    auto decoded = mcp::decode_body(line, engine_.settings().json_limits);
    if (auto* fault = std::get_if<Fault>(&decoded)) return write_fault(nullptr, *fault);
    mcp::Body& body = std::get<mcp::Body>(decoded);
    if (body.is_batch && legacy_version_ != mcp::kBatchVersion) {
      return write_fault(nullptr, Fault{mcp::Failure::kInvalidRequest, "Invalid Request: batches are only allowed in protocol version 2025-03-26"});
    }
    for (auto& item : body.messages) {
      if (auto* fault = std::get_if<Fault>(&item)) {
        write_fault(nullptr, *fault);
        continue;
      }
      on_message(std::get<Message>(item));
    }
  }

  void on_too_long(std::size_t limit) {
    write_fault(nullptr, Fault{mcp::Failure::kInvalidRequest,
                               "Invalid Request: message exceeds " + std::to_string(limit) + " bytes"});
  }

  void wait_idle() {
    std::unique_lock lock(mutex_);
    idle_.wait(lock, [this] { return running_ == 0; });
  }

 private:
  void on_message(const Message& message) {
    if (message.kind == MessageKind::kResponse) return;
    if (message.kind == MessageKind::kNotification) {
      if (message.method == "notifications/cancelled") cancel(message);
      return;
    }
    if (message.method == "initialize") {
      const json::value* requested = message.params.if_contains("protocolVersion");
      if (requested == nullptr || !requested->is_string()) {
        return write_fault(message.id, Fault{mcp::Failure::kInvalidParams, "Invalid params: 'protocolVersion' must be a string"});
      }
      legacy_version_ = std::string(mcp::negotiate_legacy_version(requested->get_string()));
      return write(mcp::encode_result(message.id, engine_.initialize_result(legacy_version_)));
    }
    mcp::RequestContext context;
    const json::object* meta = mcp::request_meta(message);
    if ((meta != nullptr && meta->contains(mcp::kMetaProtocolVersion)) || legacy_version_.empty()) {
      auto envelope = engine_.check_modern_envelope(message);
      if (auto* fault = std::get_if<Fault>(&envelope)) return write_fault(message.id, *fault);
      context = {Era::kModern, std::get<std::string>(envelope), std::string(kStdioSession), nullptr};
    } else {
      context = {Era::kLegacy, legacy_version_, std::string(kStdioSession), nullptr};
    }
    std::shared_ptr<LineNotifications> notifications;
    if (mcp::progress_token(message) != nullptr) {
      notifications = std::make_shared<LineNotifications>([this](std::string line) { write(std::move(line)); });
      context.notifications = notifications;
    }
    auto token = std::make_shared<mcp::CancelToken>();
    const std::string key = json::serialize(message.id);
    {
      std::lock_guard lock(mutex_);
      in_flight_[key] = token;
      ++running_;
    }
    engine_.handle(message, context, token, [this, id = message.id, era = context.era, key, notifications,
                                             mine = std::weak_ptr<mcp::CancelToken>(token)](mcp::Reply reply) {
      if (notifications) notifications->finish();
      if (auto* fault = std::get_if<Fault>(&reply)) {
        write(mcp::encode_error(id, mcp::to_wire(fault->kind, era).jsonrpc_code, fault->message, fault->data_json));
      } else {
        write(mcp::encode_result(id, std::move(std::get<std::string>(reply))));
      }
      std::lock_guard lock(mutex_);
      // A client may reuse an id while it is in flight; only the latest call owns the cancel entry.
      if (auto it = in_flight_.find(key); it != in_flight_.end() && it->second == mine.lock()) in_flight_.erase(it);
      --running_;
      idle_.notify_all();
    });
  }

  void cancel(const Message& message) {
    const json::value* id = message.params.if_contains("requestId");
    if (id == nullptr) return;
    std::shared_ptr<mcp::CancelToken> token;
    {
      std::lock_guard lock(mutex_);
      auto it = in_flight_.find(json::serialize(*id));
      if (it != in_flight_.end()) token = it->second;
    }
    if (token) token->cancel();
  }

  void write_fault(const json::value& id, const Fault& fault) {
    const Era era = legacy_version_.empty() ? Era::kModern : Era::kLegacy;
    write(mcp::encode_error(id, mcp::to_wire(fault.kind, era).jsonrpc_code, fault.message, fault.data_json));
  }

  void write(std::string line) {
    line.push_back('\n');
    std::lock_guard lock(write_mutex_);
    const char* data = line.data();
    std::size_t left = line.size();
    while (left > 0) {
      const ssize_t n = ::write(out_fd_, data, left);
      if (n < 0) {
        if (errno == EINTR) continue;
        return;  // The reader went away; nothing more can be delivered.
      }
      data += n;
      left -= static_cast<std::size_t>(n);
    }
  }

  const mcp::Engine& engine_;
  const int out_fd_;
  std::string legacy_version_;  // set by `initialize`: the process speaks that legacy revision from then on
  std::mutex mutex_;
  std::condition_variable idle_;
  std::map<std::string, std::shared_ptr<mcp::CancelToken>> in_flight_;
  std::size_t running_ = 0;  // calls whose reply is not yet written; counted apart because ids can repeat
  std::mutex write_mutex_;
};

}  // namespace

void serve_stdio(const mcp::Engine& engine, int in_fd, int out_fd, StdioSettings settings) {
  StdioSession session(engine, out_fd);
  std::string pending;
  bool discarding = false;  // inside an over-long line: drop bytes until its newline
  char chunk[65536];
  for (;;) {
    const ssize_t n = ::read(in_fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    std::string_view data(chunk, static_cast<std::size_t>(n));
    while (!data.empty()) {
      const auto newline = data.find('\n');
      const std::string_view piece = data.substr(0, newline);
      if (!discarding) pending.append(piece);
      if (!discarding && pending.size() > settings.max_message_bytes) {
        session.on_too_long(settings.max_message_bytes);
        pending.clear();
        discarding = true;
      }
      if (newline == std::string_view::npos) break;
      if (!discarding) session.on_line(pending);
      pending.clear();
      discarding = false;
      data.remove_prefix(newline + 1);
    }
  }
  if (!discarding && !pending.empty()) session.on_line(pending);
  session.wait_idle();
  engine.dispatcher().session_closed(std::string(kStdioSession));
}

}  // namespace sandgate::server
