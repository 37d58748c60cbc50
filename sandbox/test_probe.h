#pragma once
// Test-only: run a probe in a child process, bounded in time, and collect what it reports.
#include <poll.h>
#include <sched.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

namespace sandgate::sandbox::testing {

inline constexpr int kDefaultTimeoutSeconds = 10;

struct ProbeResult {
  int status = -1;  // as waitpid reports it
  std::map<std::string, long long> values;

  bool exited_with(int code) const { return WIFEXITED(status) && WEXITSTATUS(status) == code; }
  bool killed_by(int signal) const { return WIFSIGNALED(status) && WTERMSIG(status) == signal; }
  bool has(const std::string& key) const { return values.count(key) != 0; }
  long long at(const std::string& key) const {
    auto it = values.find(key);
    return it == values.end() ? -999999 : it->second;
  }
  std::string describe() const {
    std::string text = WIFEXITED(status)     ? "exit " + std::to_string(WEXITSTATUS(status))
                       : WIFSIGNALED(status) ? "signal " + std::to_string(WTERMSIG(status))
                                             : "status " + std::to_string(status);
    for (const auto& [key, value] : values) text += " " + key + "=" + std::to_string(value);
    return text;
  }
};

// "key=value\n" with snprintf and write only: usable under the seccomp filter, after fork.
inline void report(int fd, const char* key, long long value) {
  char line[160];
  int n = std::snprintf(line, sizeof line, "%s=%lld\n", key, value);
  if (n > 0 && write(fd, line, static_cast<std::size_t>(n)) < 0) _exit(99);
}

inline void parse_reports(const std::string& text, ProbeResult* result) {
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) break;
    std::string line = text.substr(start, end - start);
    std::size_t eq = line.find('=');
    if (eq != std::string::npos) result->values[line.substr(0, eq)] = std::atoll(line.c_str() + eq + 1);
    start = end + 1;
  }
}

// Reads reports from `read_fd` until EOF or the deadline (then SIGKILLs `pid`), and reaps `pid`.
inline ProbeResult collect(pid_t pid, int read_fd, int timeout_seconds = kDefaultTimeoutSeconds) {
  ProbeResult result;
  std::string text;
  timespec start{};
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (;;) {
    timespec now{};
    clock_gettime(CLOCK_MONOTONIC, &now);
    long elapsed_ms = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
    long left_ms = timeout_seconds * 1000L - elapsed_ms;
    if (left_ms <= 0) {
      kill(pid, SIGKILL);
      break;
    }
    pollfd readable{read_fd, POLLIN, 0};
    if (poll(&readable, 1, static_cast<int>(left_ms)) <= 0) continue;
    char buffer[4096];
    ssize_t n = read(read_fd, buffer, sizeof buffer);
    if (n <= 0) break;
    text.append(buffer, static_cast<std::size_t>(n));
  }
  close(read_fd);
  waitpid(pid, &result.status, 0);
  parse_reports(text, &result);
  return result;
}

// Forks; the child runs probe(report_fd), exits with its result; no core files, alarm as backstop.
template <class Probe>
ProbeResult run_in_child(Probe probe, int timeout_seconds = kDefaultTimeoutSeconds) {
  int fds[2];
  if (pipe(fds) != 0) std::abort();
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    rlimit no_core{0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    alarm(static_cast<unsigned>(timeout_seconds + 2));
    _exit(probe(fds[1]));
  }
  close(fds[1]);
  return collect(pid, fds[0], timeout_seconds);
}

// Makes the calling process multi-threaded while it lives: a second thread parked on a pipe.
class ParkedThread {
 public:
  ParkedThread() {
    started_ = pipe(block_) == 0 && pthread_create(&thread_, nullptr, [](void* arg) -> void* {
      char byte;
      (void)read(*static_cast<int*>(arg), &byte, 1);
      return nullptr;
    }, &block_[0]) == 0;
  }
  ~ParkedThread() {
    if (!started_) return;
    close(block_[1]);
    pthread_join(thread_, nullptr);
    close(block_[0]);
  }
  ParkedThread(const ParkedThread&) = delete;
  ParkedThread& operator=(const ParkedThread&) = delete;
  bool started() const { return started_; }

 private:
  int block_[2] = {-1, -1};
  pthread_t thread_{};
  bool started_ = false;
};

// A new PID namespace needs CAP_SYS_ADMIN: root, or a user namespace of one's own.
inline bool can_create_pid_namespace() {
  return run_in_child([](int) { return unshare(CLONE_NEWPID) == 0 ? 0 : 1; }).exited_with(0);
}

}  // namespace sandgate::sandbox::testing
