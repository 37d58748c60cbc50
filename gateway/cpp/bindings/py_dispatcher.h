#pragma once
// Runs Python handlers for the protocol engine: a few worker threads take turns holding the GIL.
#include <pybind11/pybind11.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "mcp/dispatcher.h"
#include "mcp/subscriptions.h"

namespace sandgate::bindings {

namespace py = pybind11;

// (isolation, wall_time, cpu_time, memory, max_output, max_processes, max_open_files, max_file_size, scratch):
// the facade's `sandbox.limits.Plan`.
py::tuple plan_tuple(const policy::SandboxPlan& plan);

class PyDispatcher final : public mcp::Dispatcher {
 public:
  // Construct with the GIL held. `target` has catalog_json() and call(kind, name, args, meta, completion,
  // session, plan[, progress=notifier]), which returns (status, json) or, for a coroutine, a future with cancel().
  // `progress` is passed only for a request with a progress token: notifier(params_json) -> bool; `log` only when
  // the client wants log messages of the request: log(level, params_json) -> bool.
  PyDispatcher(py::object target, std::size_t workers);
  ~PyDispatcher() override;

  std::string catalog_json() override;
  void invoke(mcp::Invocation invocation, std::shared_ptr<mcp::CancelToken> cancel, mcp::OutcomeCallback done) override;
  // Finishes queued work and joins the workers; call without the GIL.
  void drain() override;
  void session_closed(const std::string& session) override;
  // Hands the target, if it takes them (attach_announcements), where its handlers announce resource updates and
  // list changes. GIL held.
  void attach_announcements(std::shared_ptr<mcp::Subscriptions> subscriptions);

 private:
  struct Job {
    mcp::Invocation invocation;
    std::shared_ptr<mcp::CancelToken> cancel;
    mcp::OutcomeCallback done;
  };
  void worker_loop();
  void run(Job& job);  // GIL held

  py::object target_;
  py::object call_;
  py::object in_process_;  // the plan of every isolation "none" call, built once
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job> queue_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace sandgate::bindings
