#include "server/stdio_server.h"

#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

namespace sandgate::server {
namespace {

using mcp::Fault;

// One stdio process is one connection: the session and cancel scope of everything it sends.
constexpr std::string_view kStdioConnection = "stdio";

// A request's notifications as lines written before its reply line; none once the reply is out.
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

class StdioConnection {
 public:
  StdioConnection(mcp::Conversation& conversation, int out_fd) : conversation_(conversation), out_fd_(out_fd) {}

  void on_line(std::string_view line) {
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) return;
    mcp::Delivery delivery;
    delivery.body = std::string(line);
    delivery.transport = mcp::Transport::kStdio;
    delivery.peer = std::string(kStdioConnection);
    delivery.connection = std::string(kStdioConnection);
    delivery.legacy_unless_stated = false;  // before `initialize`, a stdio client speaks the modern era
    {
      std::lock_guard lock(mutex_);
      delivery.session_id = session_;
      ++pending_;
    }
    conversation_.receive(std::move(delivery), std::make_shared<LineResponder>(*this));
  }

  void on_too_long(std::size_t limit) {
    write_answer(mcp::Conversation::fault_answer(
        Fault{mcp::Failure::kInvalidRequest, "Invalid Request: message exceeds " + std::to_string(limit) + " bytes"},
        mcp::Era::kLegacy));
  }

  // Waits for every answer, then ends the connection's session.
  void close() {
    std::optional<std::string> session;
    {
      std::unique_lock lock(mutex_);
      idle_.wait(lock, [this] { return pending_ == 0; });
      session = std::exchange(session_, std::nullopt);
    }
    if (session) conversation_.close_session(*session);
    conversation_.connection_closed(std::string(kStdioConnection));
  }

 private:
  class LineResponder final : public mcp::Responder {
   public:
    explicit LineResponder(StdioConnection& connection) : connection_(connection) {}
    std::shared_ptr<mcp::NotificationSink> notifications() override {
      std::lock_guard lock(mutex_);
      if (notifications_ == nullptr) {
        notifications_ = std::make_shared<LineNotifications>([this](std::string line) { connection_.write(std::move(line)); });
      }
      return notifications_;
    }
    void answer(mcp::Answer answer) override {
      {
        std::lock_guard lock(mutex_);
        if (notifications_) notifications_->finish();
      }
      connection_.finish(std::move(answer));
    }

   private:
    StdioConnection& connection_;  // close() waits for every answer, so the connection outlives this
    std::mutex mutex_;
    std::shared_ptr<LineNotifications> notifications_;
  };

  void finish(mcp::Answer answer) {
    if (answer.opened_session) adopt(*answer.opened_session);
    write_answer(std::move(answer));
    std::lock_guard lock(mutex_);
    --pending_;
    idle_.notify_all();
  }

  // A new `initialize` replaces the connection's session.
  void adopt(const std::string& session) {
    std::optional<std::string> previous;
    {
      std::lock_guard lock(mutex_);
      previous = std::exchange(session_, session);
    }
    if (previous) conversation_.close_session(*previous);
  }

  void write_answer(mcp::Answer answer) {
    if (answer.messages.empty()) return;
    if (!answer.batch) return write(std::move(answer.messages.front()));
    std::string array = "[";
    for (std::size_t i = 0; i < answer.messages.size(); ++i) array.append(i ? "," : "").append(answer.messages[i]);
    array.push_back(']');
    write(std::move(array));
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

  mcp::Conversation& conversation_;
  const int out_fd_;
  std::mutex mutex_;
  std::condition_variable idle_;
  std::optional<std::string> session_;  // opened by `initialize`
  std::size_t pending_ = 0;             // deliveries not yet answered
  std::mutex write_mutex_;
};

}  // namespace

void serve_stdio(mcp::Conversation& conversation, int in_fd, int out_fd, StdioSettings settings) {
  StdioConnection connection(conversation, out_fd);
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
        connection.on_too_long(settings.max_message_bytes);
        pending.clear();
        discarding = true;
      }
      if (newline == std::string_view::npos) break;
      if (!discarding) connection.on_line(pending);
      pending.clear();
      discarding = false;
      data.remove_prefix(newline + 1);
    }
  }
  if (!discarding && !pending.empty()) connection.on_line(pending);
  connection.close();
}

}  // namespace sandgate::server
