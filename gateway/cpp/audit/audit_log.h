#pragma once
// The audit trail: one JSON line per call and per refusal, appended to a file (reopened on request, for
// rotation) or to stdout by a writer thread of its own. A request never waits on the disk: a line is queued, or
// dropped and counted when `max_queued_lines` are already waiting.
#include <array>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "metrics/counters.h"

namespace sandgate::audit {

struct AuditSettings {
  std::string path;  // "-": stdout
  std::size_t max_queued_lines = 10'000;
  std::string salt;  // hashed before arguments; random per start unless the operator gives one
};

// The writer writes what is queued every kWriterPeriod, or as soon as kWakeBatch lines wait: a line reaches the
// file within that period, and a call costs a push under a short lock (no syscall) all but once per batch.
inline constexpr std::chrono::milliseconds kWriterPeriod{20};
inline constexpr std::size_t kWakeBatch = 256;

// RFC 3339 UTC with milliseconds, always 24 characters: held by value, no allocation per line.
struct Timestamp {
  std::array<char, 24> text{};
  std::string_view view() const { return {text.data(), text.size()}; }
};

class AuditLog {
 public:
  // Opens the path (throws std::runtime_error naming it when it cannot) and starts the writer.
  AuditLog(AuditSettings settings, std::shared_ptr<const WallClock> clock, std::shared_ptr<metrics::Counters> counters);
  ~AuditLog();  // writes what is queued, then stops
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // Thread-safe; `line` is one JSON object without its newline (copied: the caller may reuse its buffer).
  void write(std::string_view line);
  // The writer opens the path again before its next line (after logrotate moved the file away).
  void reopen();
  // Returns once every line queued before the call is written (or dropped).
  void flush();
  // The salted SHA-256 of a call's arguments, hex: equal arguments hash alike within one salt, and the salt keeps
  // a guessed value from being confirmed by hashing it.
  std::string arguments_digest(std::string_view arguments_json) const;
  // Now as RFC 3339 UTC with milliseconds.
  Timestamp timestamp() const;

 private:
  void run();
  void open_file();
  void write_out(const std::string& text, std::size_t lines);

  const AuditSettings settings_;
  const std::shared_ptr<const WallClock> clock_;
  const std::shared_ptr<metrics::Counters> counters_;
  int fd_ = -1;
  bool owns_fd_ = false;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable written_;
  std::string queued_;             // whole lines, newline-terminated, for the writer's next pass
  std::size_t queued_lines_ = 0;
  std::size_t generation_ = 0;  // batches taken by the writer
  std::size_t done_ = 0;        // batches it finished
  bool reopen_ = false;
  bool flushing_ = false;  // someone waits in flush(): write now, whatever the batch's size
  bool stopping_ = false;
  std::thread writer_;
};

}  // namespace sandgate::audit
