#include "audit/audit_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
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

void AuditLog::write(std::string_view line) {
  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    if (queued_lines_ >= settings_.max_queued_lines) {
      counters_->add(metrics::Counter::kAuditLinesDropped);
      return;
    }
    queued_.append(line).push_back('\n');
    // The writer wakes by itself every kWriterPeriod; a call wakes it (a futex syscall) only for a full batch.
    wake = ++queued_lines_ == kWakeBatch;
  }
  if (wake) wake_.notify_one();
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
  const std::size_t target = generation_ + (queued_lines_ == 0 ? 0 : 1);
  flushing_ = true;
  wake_.notify_one();
  written_.wait(lock, [&] { return done_ >= target; });
}

void AuditLog::run() {
  std::string batch;
  for (;;) {
    bool reopen = false;
    std::size_t lines = 0;
    {
      std::unique_lock lock(mutex_);
      wake_.wait_for(lock, kWriterPeriod,
                     [&] { return stopping_ || reopen_ || flushing_ || queued_lines_ >= kWakeBatch; });
      if (queued_lines_ == 0 && !reopen_) {
        flushing_ = false;
        ++generation_;
        ++done_;
        written_.notify_all();
        if (stopping_) return;
        continue;
      }
      batch.swap(queued_);  // the empty buffer handed back keeps its capacity: no allocation per pass
      lines = queued_lines_;
      queued_lines_ = 0;
      reopen = reopen_;
      reopen_ = false;
      flushing_ = false;
      ++generation_;
    }
    if (reopen && settings_.path != "-") {
      try {
        open_file();
      } catch (const std::runtime_error&) {
        counters_->add(metrics::Counter::kAuditWriteErrors);  // keep the old file: lines still land somewhere
      }
    }
    write_out(batch, lines);
    batch.clear();
    {
      std::lock_guard lock(mutex_);
      ++done_;
    }
    written_.notify_all();
  }
}

void AuditLog::write_out(const std::string& text, std::size_t lines) {
  if (text.empty()) return;
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
  counters_->add(metrics::Counter::kAuditLinesWritten, lines);
}

std::string AuditLog::arguments_digest(std::string_view arguments_json) const {
  return to_hex(sha256_digest({settings_.salt, arguments_json}));
}

Timestamp AuditLog::timestamp() const {
  const auto now = clock_->now();
  const auto since_epoch = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const std::time_t seconds = static_cast<std::time_t>(since_epoch / 1000);
  // The calendar part changes once a second: formatted once per second per thread, not per line.
  thread_local std::time_t cached_second = -1;
  thread_local std::array<char, 19> cached_text{};  // YYYY-MM-DDTHH:MM:SS
  if (seconds != cached_second) {
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    char text[40];
    if (std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc) != cached_text.size()) {
      std::strcpy(text, "0000-00-00T00:00:00");  // a year past 9999: not a time this clock gives
    }
    std::memcpy(cached_text.data(), text, cached_text.size());
    cached_second = seconds;
  }
  const int millis = static_cast<int>(since_epoch % 1000);
  Timestamp stamp;
  char* at = std::copy(cached_text.begin(), cached_text.end(), stamp.text.data());
  *at++ = '.';
  *at++ = static_cast<char>('0' + millis / 100);
  *at++ = static_cast<char>('0' + millis / 10 % 10);
  *at++ = static_cast<char>('0' + millis % 10);
  *at = 'Z';
  return stamp;
}

}  // namespace sandgate::audit
