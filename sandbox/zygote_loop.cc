#include "sandbox/zygote_loop.h"

#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <span>
#include <string>
#include <utility>

#include "sandbox/spawn.h"

namespace sandgate::sandbox {
namespace {

using control::CallMessage;
using control::Op;

constexpr std::uint64_t kControlTag = std::numeric_limits<std::uint64_t>::max();
constexpr int kMaxEventsPerWait = 16;
constexpr const char* kLimitNames[control::kLimitCount] = {"address_space", "cpu_seconds", "open_files",
                                                           "processes", "file_size"};
constexpr std::int64_t ResourceLimits::*kLimitFields[control::kLimitCount] = {
    &ResourceLimits::address_space, &ResourceLimits::cpu_seconds, &ResourceLimits::open_files,
    &ResourceLimits::processes, &ResourceLimits::file_size};

// The descriptors that came with one message: closed on scope exit unless taken.
class ReceivedFds {
 public:
  ~ReceivedFds() {
    for (int i = 0; i < count_; ++i) {
      if (fds_[i] >= 0) close(fds_[i]);
    }
  }
  void add(int fd) {
    if (count_ < control::kMaxFdsPerMessage) {
      fds_[count_++] = fd;
    } else {
      close(fd);  // unreachable with a control buffer of kMaxFdsPerMessage; closed all the same
    }
  }
  int count() const { return count_; }
  int take(int i) { return std::exchange(fds_[i], -1); }

 private:
  int fds_[control::kMaxFdsPerMessage];
  int count_ = 0;
};

// One message into `buffer`; `cut_off` when it or its descriptors exceeded the bounds.
ssize_t receive(int socket_fd, void* buffer, std::size_t size, ReceivedFds* fds, bool* cut_off) {
  iovec data{buffer, size};
  alignas(cmsghdr) char ancillary[CMSG_SPACE(sizeof(int) * control::kMaxFdsPerMessage)];
  msghdr message{};
  message.msg_iov = &data;
  message.msg_iovlen = 1;
  message.msg_control = ancillary;
  message.msg_controllen = sizeof ancillary;
  ssize_t received;
  do {
    received = recvmsg(socket_fd, &message, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  } while (received < 0 && errno == EINTR);
  if (received < 0) return received;
  for (cmsghdr* header = CMSG_FIRSTHDR(&message); header != nullptr; header = CMSG_NXTHDR(&message, header)) {
    if (header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS) continue;
    std::size_t count = (header->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (std::size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(header) + i * sizeof(int), sizeof fd);
      fds->add(fd);
    }
  }
  *cut_off = (message.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0;
  return received;
}

bool is_well_formed_call(const CallMessage& call) {
  return control::is_valid_header(call.header) && call.header.op == Op::kCall &&
         (call.limits_present & ~control::kAllLimitsPresent) == 0 && (call.flags & ~control::kCallPersistent) == 0;
}

// Absent limits keep the zygote's own. A present 0 is refused: it must not read as "unlimited".
Status read_limits(const CallMessage& call, std::uint64_t baseline_address_space, ResourceLimits* limits) {
  *limits = ResourceLimits{};
  for (int i = 0; i < control::kLimitCount; ++i) {
    if ((call.limits_present & (1u << i)) == 0) continue;
    if (call.limits[i] <= 0) return Status::Invalid(std::string("limit must be > 0: ") + kLimitNames[i]);
    limits->*kLimitFields[i] = call.limits[i];
  }
  if (limits->address_space > 0) {
    // The child starts with the zygote's mappings: its memory limit comes on top of them.
    constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
    if (baseline_address_space > kMax - static_cast<std::uint64_t>(limits->address_space)) {
      return Status::Invalid("address_space plus the zygote's own mappings overflows");
    }
    limits->address_space += static_cast<std::int64_t>(baseline_address_space);
  }
  return Status::Ok();
}

std::uint64_t microseconds(const timeval& time) {
  return static_cast<std::uint64_t>(time.tv_sec) * 1000000u + static_cast<std::uint64_t>(time.tv_usec);
}

}  // namespace

ZygoteLoop::ZygoteLoop(const ZygoteLoopConfig& config, ForkHooks& hooks) : config_(config), hooks_(hooks) {
  int slots = std::max(config_.call_slots, 0);
  children_.resize(static_cast<std::size_t>(slots));
  free_slots_.reserve(static_cast<std::size_t>(slots));
  for (int slot = slots - 1; slot >= 0; --slot) free_slots_.push_back(slot);
  for (const std::string& path : config_.scratch_rebinds) scratch_rebinds_.push_back(path.c_str());
}

ZygoteLoop::~ZygoteLoop() {
  for (Child& child : children_) {
    if (child.pidfd >= 0) close(child.pidfd);
  }
  if (epoll_fd_ >= 0) close(epoll_fd_);
}

Status ZygoteLoop::run(LoopExit* exit) {
  *exit = LoopExit{};
  if (config_.control_fd < 0 || config_.call_slots <= 0) {
    return Status::Invalid("the zygote loop needs a control socket and at least one call slot");
  }
  if (epoll_fd_ < 0) {
    epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd_ < 0) return Status::Errno("epoll_create1");
    epoll_event control{};
    control.events = EPOLLIN | EPOLLRDHUP;
    control.data.u64 = kControlTag;
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, config_.control_fd, &control) != 0) {
      return Status::Errno("epoll_ctl", "control socket");
    }
  }
  while (!control_closed_) {
    epoll_event events[kMaxEventsPerWait];
    int ready = epoll_wait(epoll_fd_, events, kMaxEventsPerWait, -1);
    if (ready < 0) {
      if (errno == EINTR) continue;
      return Status::Errno("epoll_wait");
    }
    for (int i = 0; i < ready && !control_closed_; ++i) {
      const std::uint64_t tag = events[i].data.u64;
      Status status = tag == kControlTag ? on_control(exit, (events[i].events & (EPOLLHUP | EPOLLRDHUP)) != 0)
                                         : on_child_exit(static_cast<int>(tag));
      if (!status.ok()) return status;
      if (exit->in_call_child) return Status::Ok();
    }
  }
  return Status::Ok();
}

Status ZygoteLoop::on_control(LoopExit* exit, bool peer_hung_up) {
  alignas(CallMessage) unsigned char buffer[control::kMaxMessageBytes];
  ReceivedFds fds;
  bool cut_off = false;
  ssize_t size = receive(config_.control_fd, buffer, sizeof buffer, &fds, &cut_off);
  if (size < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return Status::Ok();
    if (errno == ECONNRESET) {
      control_closed_ = true;
      return Status::Ok();
    }
    return Status::Errno("recvmsg", "control socket");
  }
  // SOCK_SEQPACKET: 0 bytes is EOF only once the peer hung up; otherwise an (invalid) empty message.
  if (size == 0 && fds.count() == 0 && peer_hung_up) {
    control_closed_ = true;
    return Status::Ok();
  }
  CallMessage call;
  if (cut_off || static_cast<std::size_t>(size) != sizeof call || fds.count() != 1) {
    ++counters_.rejected_messages;
    return Status::Ok();
  }
  std::memcpy(&call, buffer, sizeof call);
  if (!is_well_formed_call(call)) {
    ++counters_.rejected_messages;
    return Status::Ok();
  }
  return on_call(call, fds.take(0), exit);
}

Status ZygoteLoop::on_call(const CallMessage& call, int call_fd, LoopExit* exit) {
  ResourceLimits limits;
  Status status = read_limits(call, config_.baseline_address_space, &limits);
  if (!status.ok()) {
    close(call_fd);
    return report_spawn_failure(call.id, status.err, status.what);
  }
  if (free_slots_.empty()) {
    close(call_fd);
    return report_spawn_failure(call.id, EAGAIN, "every call slot is in use");
  }
  const int slot = free_slots_.back();
  // A uid per concurrent call: RLIMIT_NPROC and signals are per uid, so calls cannot reach each other.
  const long long uid = config_.uid_base < 0 ? -1 : config_.uid_base + slot;
  SpawnRequest request;
  request.limits = limits;
  request.keep_fds = std::span<const int>(&call_fd, 1);
  request.seccomp_bpf = config_.seccomp_bpf;
  request.new_pid_namespace = true;
  request.uid = uid;
  request.gid = uid;
  request.private_scratch_bytes = call.private_scratch_bytes;
  request.scratch_rebinds = scratch_rebinds_;
  PreparedSpawn spawn;
  status = spawn.prepare(request);
  if (!status.ok()) {
    close(call_fd);
    return report_spawn_failure(call.id, status.err, status.what);
  }

  hooks_.before_fork();
  const pid_t pid = spawn.spawn();
  const int spawn_errno = errno;
  if (pid == 0) {
    hooks_.after_fork_in_child();
    forget_fds_in_child();
    *exit = LoopExit{true, call_fd, (call.flags & control::kCallPersistent) != 0};
    return Status::Ok();
  }
  hooks_.after_fork_in_parent();
  close(call_fd);
  if (pid < 0) {
    errno = spawn_errno;
    status = Status::Errno("clone");
    return report_spawn_failure(call.id, status.err, status.what);
  }

  status = watch_child(slot, call.id, pid);
  if (!status.ok()) {
    // Unwatched, it could never be reported or its slot freed: end it now.
    kill(pid, SIGKILL);
    while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    return report_spawn_failure(call.id, status.err, status.what);
  }
  free_slots_.pop_back();
  ++counters_.spawned;
  control::SpawnedReport report{control::make_header(Op::kSpawned), call.id, pid, 0};
  return send(&report, sizeof report, children_[static_cast<std::size_t>(slot)].pidfd);
}

Status ZygoteLoop::watch_child(int slot, std::uint64_t id, pid_t pid) {
  // Always close-on-exec; a pidfd of our own unreaped child cannot name a reused pid.
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) return Status::Errno("pidfd_open");
  epoll_event exited{};
  exited.events = EPOLLIN;
  exited.data.u64 = static_cast<std::uint64_t>(slot);
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, pidfd, &exited) != 0) {
    Status status = Status::Errno("epoll_ctl", "pidfd");
    close(pidfd);
    return status;
  }
  children_[static_cast<std::size_t>(slot)] = Child{id, pid, pidfd};
  return Status::Ok();
}

Status ZygoteLoop::on_child_exit(int slot) {
  if (slot < 0 || static_cast<std::size_t>(slot) >= children_.size()) return Status::Ok();
  Child& child = children_[static_cast<std::size_t>(slot)];
  if (child.pidfd < 0) return Status::Ok();
  int wait_status = 0;
  rusage usage{};
  pid_t reaped;
  do {
    reaped = wait4(child.pid, &wait_status, WNOHANG, &usage);
  } while (reaped < 0 && errno == EINTR);
  if (reaped == 0) return Status::Ok();  // not reapable yet: the pidfd wakes us again
  // ECHILD: reaped behind our back (SIGCHLD ignored); the exit is then unknown but still reported.
  if (reaped < 0 && errno != ECHILD) return Status::Errno("wait4");
  const bool known = reaped > 0;

  control::ExitedReport report{};
  report.header = control::make_header(Op::kExited);
  report.id = child.id;
  report.exit_code = known && WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : control::kNone;
  report.signal = known && WIFSIGNALED(wait_status) ? WTERMSIG(wait_status) : control::kNone;
  report.cpu_microseconds = known ? microseconds(usage.ru_utime) + microseconds(usage.ru_stime) : 0;
  report.maxrss_kib = known ? static_cast<std::uint64_t>(usage.ru_maxrss) : 0;
  report.minor_faults = known ? static_cast<std::uint64_t>(usage.ru_minflt) : 0;

  close(child.pidfd);  // also leaves the epoll set
  child = Child{};
  free_slots_.push_back(slot);
  ++counters_.exited;
  return send(&report, sizeof report);
}

Status ZygoteLoop::report_spawn_failure(std::uint64_t id, int error, std::string_view what) {
  ++counters_.spawn_failed;
  control::SpawnFailedReport report{};
  report.header = control::make_header(Op::kSpawnFailed);
  report.id = id;
  report.error = error;
  std::memcpy(report.text, what.data(), std::min(what.size(), sizeof report.text));
  return send(&report, sizeof report);
}

Status ZygoteLoop::send(const void* message, std::size_t size, int fd) {
  iovec data{const_cast<void*>(message), size};
  alignas(cmsghdr) char ancillary[CMSG_SPACE(sizeof(int))] = {};
  msghdr header{};
  header.msg_iov = &data;
  header.msg_iovlen = 1;
  if (fd >= 0) {
    header.msg_control = ancillary;
    header.msg_controllen = sizeof ancillary;
    cmsghdr* rights = CMSG_FIRSTHDR(&header);
    rights->cmsg_level = SOL_SOCKET;
    rights->cmsg_type = SCM_RIGHTS;
    rights->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(rights), &fd, sizeof fd);
  }
  for (;;) {
    if (sendmsg(config_.control_fd, &header, MSG_NOSIGNAL) >= 0) return Status::Ok();  // a record: all or nothing
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      pollfd writable{config_.control_fd, POLLOUT, 0};  // a non-blocking socket: wait as a blocking one would
      if (poll(&writable, 1, -1) < 0 && errno != EINTR) return Status::Errno("poll", "control socket");
      continue;
    }
    if (errno == EPIPE || errno == ECONNRESET || errno == ENOTCONN) {
      control_closed_ = true;
      return Status::Ok();
    }
    return Status::Errno("sendmsg", "control socket");
  }
}

void ZygoteLoop::forget_fds_in_child() {
  // The child steps closed them all already; closing again could hit a number reused since.
  epoll_fd_ = -1;
  for (Child& child : children_) child = Child{};
}

}  // namespace sandgate::sandbox
