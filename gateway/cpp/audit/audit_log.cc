#include "audit/audit_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <stdexcept>

#include "common/digest.h"

namespace sandgate::audit {

AuditLog::AuditLog(AuditSettings settings, std::shared_ptr<const WallClock> clock,
                   std::shared_ptr<metrics::Counters> counters)
    : settings_(std::move(settings)), clock_(std::move(clock)), counters_(std::move(counters)) {
  open_file();
  writer_ = std::thread([this] { run(); });
}

AuditLog::~AuditLog() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  writer_.join();
  if (owns_fd_) close(fd_);
}

void AuditLog::open_file() {
  if (settings_.path == "-") {
    fd_ = STDOUT_FILENO;
    owns_fd_ = false;
    return;
  }
  // Owner and group only: the trail names principals and what they called.
  const int fd = open(settings_.path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) {
    throw std::runtime_error("the audit log " + settings_.path + " cannot be opened: " + std::strerror(errno));
  }
  if (owns_fd_) close(fd_);
  fd_ = fd;
  owns_fd_ = true;
}

void AuditLog::write(std::string line) {
  {
    std::lock_guard lock(mutex_);
    if (queued_.size() >= settings_.max_queued_lines) {
      counters_->add(metrics::Counter::kAuditLinesDropped);
      return;
    }
    queued_.push_back(std::move(line));
  }
  wake_.notify_one();
}

void AuditLog::reopen() {
  {
    std::lock_guard lock(mutex_);
    reopen_ = true;
  }
  wake_.notify_one();
}

void AuditLog::flush() {
  std::unique_lock lock(mutex_);
  // Whatever is queued now goes in the writer's next batch; wait until that batch is done.
  const std::size_t target = generation_ + (queued_.empty() ? 0 : 1);
  wake_.notify_one();
  written_.wait(lock, [&] { return done_ >= target; });
}

void AuditLog::run() {
  std::vector<std::string> batch;
  for (;;) {
    bool reopen = false;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || reopen_ || !queued_.empty(); });
      if (queued_.empty() && !reopen_ && stopping_) return;
      batch.swap(queued_);
      reopen = reopen_;
      reopen_ = false;
      ++generation_;
    }
    if (reopen && settings_.path != "-") {
      try {
        open_file();
      } catch (const std::runtime_error&) {
        counters_->add(metrics::Counter::kAuditWriteErrors);  // keep the old file: lines still land somewhere
      }
    }
    write_out(batch);
    batch.clear();
    {
      std::lock_guard lock(mutex_);
      ++done_;
    }
    written_.notify_all();
  }
}

void AuditLog::write_out(const std::vector<std::string>& lines) {
  if (lines.empty()) return;
  std::string text;
  for (const std::string& line : lines) text.append(line).push_back('\n');
  std::size_t sent = 0;
  while (sent < text.size()) {
    const ssize_t n = ::write(fd_, text.data() + sent, text.size() - sent);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      counters_->add(metrics::Counter::kAuditWriteErrors);
      return;
    }
    sent += static_cast<std::size_t>(n);
  }
  counters_->add(metrics::Counter::kAuditLinesWritten, lines.size());
}

std::string AuditLog::arguments_digest(std::string_view arguments_json) const {
  std::string salted = settings_.salt;
  salted.append(arguments_json);
  return to_hex(sha256_digest(salted));
}

std::string AuditLog::timestamp() const {
  const auto now = clock_->now();
  const auto since_epoch = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const std::time_t seconds = static_cast<std::time_t>(since_epoch / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[40];
  const std::size_t length = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
  char millis[8];
  std::snprintf(millis, sizeof millis, ".%03dZ", static_cast<int>(since_epoch % 1000));
  return std::string(text, length) + millis;
}

}  // namespace sandgate::audit
