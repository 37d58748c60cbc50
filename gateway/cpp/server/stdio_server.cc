#include "server/stdio_server.h"

#include "mcp/connection.h"

#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>

namespace sandgate::server {
namespace {

using mcp::Fault;

// One stdio process is one connection.
constexpr std::string_view kStdioConnection = "stdio";

mcp::Headers credential_headers(const std::string& api_key) {
  mcp::Headers headers;
  if (!api_key.empty()) headers.add("x-api-key", api_key);
  return headers;
}

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
  StdioConnection(mcp::Conversation& conversation, int out_fd, const std::string& api_key)
      : conversation_(conversation),
        stream_(std::make_shared<LineNotifications>([this](std::string line) { write(std::move(line)); })),
        client_(conversation, mcp::Transport::kStdio, std::string(kStdioConnection), credential_headers(api_key),
                stream_),
        out_fd_(out_fd) {}

  void on_line(std::string_view line) {
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) return;
    {
      std::lock_guard lock(mutex_);
      ++pending_;
    }
    conversation_.receive(client_.delivery(std::string(line)), std::make_shared<LineResponder>(*this));
  }

  void on_too_long(std::size_t limit) {
    write(mcp::Conversation::fault_answer(
              Fault{mcp::Failure::kInvalidRequest, "Invalid Request: message exceeds " + std::to_string(limit) + " bytes"},
              mcp::Era::kLegacy)
              .json_body());
  }

  // Waits for every answer, then ends the connection.
  void close() {
    {
      std::unique_lock lock(mutex_);
      idle_.wait(lock, [this] { return pending_ == 0; });
    }
    client_.close();
    stream_->finish();  // an announcement being written ends first; none follows
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
    client_.answered(answer);
    if (!answer.messages.empty()) write(answer.json_body());
    std::lock_guard lock(mutex_);
    --pending_;
    idle_.notify_all();
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
  // The session's own stream: resource updates and list changes, between the replies.
  const std::shared_ptr<LineNotifications> stream_;
  mcp::ConnectionSession client_;  // what the conversation knows of this connection
  const int out_fd_;
  std::mutex mutex_;
  std::condition_variable idle_;
  std::size_t pending_ = 0;  // deliveries not yet answered
  std::mutex write_mutex_;
};

}  // namespace

void serve_stdio(mcp::Conversation& conversation, int in_fd, int out_fd, StdioSettings settings) {
  StdioConnection connection(conversation, out_fd, settings.api_key);
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
  conversation.engine().end_listen_streams();  // the client left: its listen streams end with their results
  connection.close();
}

}  // namespace sandgate::server
