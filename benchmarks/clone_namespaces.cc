// By hand, not part of the build: what per-call network and IPC namespaces would cost on top of the
// PID + mount namespaces every call already gets (sandbox/spawn.cc), against refusing the calls that
// could use a shared namespace (sandbox/seccomp_profile.cc, "calls are islands"), which costs nothing
// per call. Times clone + waitpid of a child that exits at once; run as root (CAP_SYS_ADMIN):
//
//   g++ -std=c++20 -O2 -Wall -o /tmp/clone_namespaces benchmarks/clone_namespaces.cc && /tmp/clone_namespaces 1000
//
// By default the variants run round-robin, one clone each per round, so drift and background load
// hit all alike; `/tmp/clone_namespaces 1000 blocked` runs each variant's clones back to back, as a
// steady stream of calls would. Only the synchronous part is timed: the kernel tears network and IPC
// namespaces down later, on a workqueue (which then slows whatever runs next), so the wall time per
// round and the system CPU time of the process are printed too.
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

constexpr int kDefaultRuns = 1000;
constexpr int kMinRuns = 300;     // fewer make the p99 a handful of samples
constexpr int kWarmUpRuns = 50;   // per variant, discarded: page cache, slab caches, first-use paths
constexpr double kPercentile = 0.99;

struct Variant {
  const char* name;
  unsigned long flags;
  std::vector<double> microseconds;
};

double now_microseconds() {
  timespec time{};
  clock_gettime(CLOCK_MONOTONIC, &time);
  return static_cast<double>(time.tv_sec) * 1e6 + static_cast<double>(time.tv_nsec) / 1e3;
}

// A raw clone, as spawn.cc does it; the child leaves at once, so only creation and teardown count.
double clone_and_wait(unsigned long flags) {
  const double start = now_microseconds();
  const long pid = syscall(SYS_clone, flags | SIGCHLD, nullptr, nullptr, nullptr, nullptr);
  if (pid == 0) _exit(0);
  if (pid < 0) {
    std::fprintf(stderr, "clone(%#lx): %s (run as root)\n", flags, std::strerror(errno));
    std::exit(1);
  }
  int status = 0;
  while (waitpid(static_cast<pid_t>(pid), &status, 0) < 0 && errno == EINTR) {
  }
  return now_microseconds() - start;
}

double at(std::vector<double> sorted, double quantile) {
  std::sort(sorted.begin(), sorted.end());
  const auto index = static_cast<std::size_t>(quantile * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[index];
}

double system_cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  rusage children{};
  getrusage(RUSAGE_CHILDREN, &children);
  return static_cast<double>(usage.ru_stime.tv_sec + children.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_stime.tv_usec + children.ru_stime.tv_usec) / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
  const int runs = argc > 1 ? std::atoi(argv[1]) : kDefaultRuns;
  const bool blocked = argc > 2 && std::strcmp(argv[2], "blocked") == 0;
  if (runs < kMinRuns || (argc > 2 && !blocked)) {
    std::fprintf(stderr, "usage: %s [runs >= %d [blocked]]\n", argv[0], kMinRuns);
    return 2;
  }
  constexpr unsigned long kPerCall = CLONE_NEWPID | CLONE_NEWNS;  // what spawn.cc asks for today
  std::vector<Variant> variants = {
      {"fork (no namespace)", 0, {}},
      {"NEWPID|NEWNS (today)", kPerCall, {}},
      {"  + NEWIPC", kPerCall | CLONE_NEWIPC, {}},
      {"  + NEWNET", kPerCall | CLONE_NEWNET, {}},
      {"  + NEWIPC + NEWNET", kPerCall | CLONE_NEWIPC | CLONE_NEWNET, {}},
  };
  for (int round = 0; round < kWarmUpRuns; ++round) {
    for (const Variant& variant : variants) clone_and_wait(variant.flags);
  }
  const double cpu_before = system_cpu_seconds();
  const double wall_before = now_microseconds();
  if (blocked) {
    for (Variant& variant : variants) {
      for (int run = 0; run < runs; ++run) variant.microseconds.push_back(clone_and_wait(variant.flags));
    }
  } else {
    for (int round = 0; round < runs; ++round) {
      for (Variant& variant : variants) variant.microseconds.push_back(clone_and_wait(variant.flags));
    }
  }
  const double wall = now_microseconds() - wall_before;
  const double cpu = system_cpu_seconds() - cpu_before;

  std::printf("clone + waitpid, %d runs each, %s (microseconds)\n", runs, blocked ? "blocked" : "interleaved");
  std::printf("%-24s %9s %9s %9s %9s\n", "variant", "median", "p99", "mean", "max");
  const double baseline = at(variants[1].microseconds, 0.5);
  for (const Variant& variant : variants) {
    double sum = 0;
    for (double sample : variant.microseconds) sum += sample;
    const double median = at(variant.microseconds, 0.5);
    std::printf("%-24s %9.1f %9.1f %9.1f %9.1f", variant.name, median, at(variant.microseconds, kPercentile),
                sum / static_cast<double>(variant.microseconds.size()),
                *std::max_element(variant.microseconds.begin(), variant.microseconds.end()));
    if (variant.flags & ~kPerCall) std::printf("   (median %+.1f over today)", median - baseline);
    std::printf("\n");
  }
  std::printf("all rounds: %.1f us of wall time per round, %.2f s of system CPU in this process and its children\n",
              wall / runs, cpu);
  return 0;
}
