#include "bindings/py_dispatcher.h"

#include <atomic>

#include "common/json.h"

namespace sandgate::bindings {
namespace {

mcp::Outcome failure(mcp::OutcomeStatus status, std::string_view message) {
  json::object body{{"message", message}};
  return mcp::Outcome{status, json::serialize(body)};
}

mcp::Outcome internal_error(std::string_view message) { return failure(mcp::OutcomeStatus::kInternalError, message); }

// The completion a Python coroutine calls when it finishes; only the first call counts.
// Always called with the GIL held (from Python, or from `run`).
struct Completion {
  Completion(mcp::OutcomeCallback done, std::weak_ptr<mcp::CancelToken> cancel)
      : done_(std::move(done)), cancel_(std::move(cancel)) {}
  void operator()(int status, std::string body, std::string_view facts_json) {
    if (fired_.exchange(true)) return;
    // Python may keep this object alive long after; what `done` holds (a connection) must not wait for its GC.
    mcp::OutcomeCallback done = std::move(done_);
    done_ = nullptr;
    if (status < 0 || status > static_cast<int>(mcp::kLastOutcomeStatus)) {
      done(internal_error("Internal error: unknown dispatcher status"));
    } else {
      done(mcp::Outcome{static_cast<mcp::OutcomeStatus>(status), std::move(body), mcp::parse_outcome_facts(facts_json)});
    }
    // The cancel hook holds the pending future: dropped here, under the GIL, rather than by an I/O thread
    // that would have to take the GIL when the connection lets go of the token.
    if (auto token = cancel_.lock()) token->take_hook();
  }
  mcp::OutcomeCallback done_;
  std::weak_ptr<mcp::CancelToken> cancel_;
  std::atomic<bool> fired_{false};
};

// The request's progress as a Python callable: params JSON in, delivered or not out. Python may keep it
// past the reply; the reporter then drops what it gets.
py::cpp_function progress_notifier(std::shared_ptr<mcp::ProgressReporter> reporter) {
  return py::cpp_function([reporter = std::move(reporter)](std::string_view params_json) {
    py::gil_scoped_release release;  // delivery may wait on a connection's strand or a full stdout pipe
    return reporter->report(params_json);
  });
}

// The request's log messages as a Python callable: (level, params JSON) in, delivered or not out.
py::cpp_function log_notifier(std::shared_ptr<mcp::LogReporter> reporter) {
  return py::cpp_function([reporter = std::move(reporter)](std::string_view level, std::string_view params_json) {
    py::gil_scoped_release release;  // as progress: delivery may wait on a connection
    return reporter->report(level, params_json);
  });
}

// The request's way to ask its client, as a Python callable: ask(method, params_json, on_answer) -> "" when sent,
// else why not; on_answer(is_error, json) runs once, on an I/O thread, with the GIL taken.
py::cpp_function client_asker(std::shared_ptr<mcp::ClientAsker> asker) {
  return py::cpp_function([asker = std::move(asker)](std::string_view method, std::string_view params_json,
                                                     py::object on_answer) {
    // Released under the GIL wherever the last copy goes: an I/O thread, or the table when abandoned.
    std::shared_ptr<py::object> callback(new py::object(std::move(on_answer)), [](py::object* object) {
      py::gil_scoped_acquire gil;
      delete object;
    });
    py::gil_scoped_release release;
    return asker->ask(method, params_json, [callback](mcp::ClientAnswer answer) {
      py::gil_scoped_acquire gil;
      try {
        (*callback)(answer.is_error, answer.json);
      } catch (py::error_already_set& error) {
        error.discard_as_unraisable("sandgate: a client answer's callback");
      }
    });
  });
}

// A JSON-RPC id as Python has it: an int or a str (None for the null id no request has).
py::object request_id_of(const json::value& id) {
  if (id.is_string()) return py::str(id.get_string().data(), id.get_string().size());
  if (id.is_int64()) return py::int_(id.get_int64());
  if (id.is_uint64()) return py::int_(id.get_uint64());
  return py::none();
}

// None when the engine has no grant; an in-process call needs no limits, so its plan is one shared tuple.
py::object call_plan(const std::optional<policy::SandboxPlan>& plan, const py::object& in_process) {
  if (!plan) return py::none();
  if (plan->isolation == policy::Isolation::kNone) return in_process;
  return plan_tuple(*plan);
}

}  // namespace

py::tuple plan_tuple(const policy::SandboxPlan& plan) {
  const policy::SandboxLimits& l = plan.limits;
  return py::make_tuple(policy::isolation_name(plan.isolation), l.wall_time, l.cpu_time, l.memory, l.max_output,
                        l.max_processes, l.max_open_files, l.max_file_size, l.scratch);
}

PyDispatcher::PyDispatcher(py::object target, std::size_t workers)
    : target_(std::move(target)), call_(target_.attr("call")), in_process_(py::make_tuple("none")) {
  if (workers == 0) workers = 1;
  for (std::size_t i = 0; i < workers; ++i) workers_.emplace_back([this] { worker_loop(); });
}

PyDispatcher::~PyDispatcher() {
  {
    py::gil_scoped_release release;
    drain();
  }
}

std::string PyDispatcher::catalog_json() {
  py::gil_scoped_acquire gil;
  return target_.attr("catalog_json")().cast<std::string>();
}

void PyDispatcher::invoke(mcp::Invocation invocation, std::shared_ptr<mcp::CancelToken> cancel,
                          mcp::OutcomeCallback done) {
  {
    std::lock_guard lock(mutex_);
    if (!stopping_) {
      queue_.push_back(Job{std::move(invocation), std::move(cancel), std::move(done)});
      wake_.notify_one();
      return;
    }
  }
  done(failure(mcp::OutcomeStatus::kShuttingDown, "Service Unavailable: the server is shutting down"));
}

void PyDispatcher::drain() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && workers_.empty()) return;
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& worker : workers_) {
    if (worker.joinable()) worker.join();
  }
  workers_.clear();
}

void PyDispatcher::session_closed(const std::string& session) {
  py::gil_scoped_acquire gil;
  try {
    if (py::hasattr(target_, "session_closed")) target_.attr("session_closed")(session);
  } catch (py::error_already_set& error) {
    error.restore();
    PyErr_Print();
  }
}

void PyDispatcher::attach_announcements(std::shared_ptr<mcp::Subscriptions> subscriptions) {
  if (py::hasattr(target_, "attach_announcements")) target_.attr("attach_announcements")(py::cast(std::move(subscriptions)));
}

void PyDispatcher::worker_loop() {
  // One Python thread state for the worker's life: a fresh one per job maps and unmaps a frame stack.
  // It is left behind when the worker ends (the interpreter frees it at exit): deleting it needs the GIL,
  // which a worker stopping during interpreter finalization must never wait for.
  PyGILState_Ensure();
  PyThreadState* thread_state = PyEval_SaveThread();
  for (;;) {
    Job job;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    PyEval_RestoreThread(thread_state);
    run(job);
    // Keep the GIL while more work is queued: handing it over per call costs more than the call.
    for (;;) {
      {
        std::lock_guard lock(mutex_);
        if (queue_.empty()) break;
        job = std::move(queue_.front());
        queue_.pop_front();
      }
      run(job);
    }
    thread_state = PyEval_SaveThread();
  }
}

void PyDispatcher::run(Job& job) {
  if (job.cancel && job.cancel->cancelled()) return job.done(failure(mcp::OutcomeStatus::kCancelled, "Request cancelled"));
  auto completion = std::make_shared<Completion>(std::move(job.done), job.cancel);
  try {
    py::cpp_function complete(
        [completion](int status, std::string body, std::string_view facts_json) {
          (*completion)(status, std::move(body), facts_json);
        },
        py::arg("status"), py::arg("body"), py::arg("facts_json") = "");
    const std::string method(mcp::invocation_method(job.invocation.kind));
    // The request's id always goes (a handler's ctx.request_id); a client id, progress, log, ask and round trip
    // only when the request has them, so the common call builds no keyword arguments.
    py::object plan = call_plan(job.invocation.plan, in_process_);
    const mcp::Invocation& call = job.invocation;
    const bool extras = call.progress || call.log || call.ask || !call.round_trip_json.empty() || !call.client_id.empty();
    py::object result;
    if (!extras) {
      result = call_(method, call.name, call.arguments_json, call.meta_json, complete, call.session, plan,
                     request_id_of(call.request_id));
    } else {
      py::dict channels;
      if (call.progress) channels["progress"] = progress_notifier(call.progress);
      if (call.log) channels["log"] = log_notifier(call.log);
      if (call.ask) channels["ask"] = client_asker(call.ask);
      if (!call.round_trip_json.empty()) channels["round_trip"] = call.round_trip_json;
      if (!call.client_id.empty()) channels["client_id"] = call.client_id;
      result = call_(method, call.name, call.arguments_json, call.meta_json, complete, call.session, plan,
                     request_id_of(call.request_id), **channels);
    }
    if (py::isinstance<py::tuple>(result)) {
      // (status, body) or (status, body, facts_json)
      auto outcome = result.cast<py::tuple>();
      const std::string facts = outcome.size() > 2 ? outcome[2].cast<std::string>() : std::string();
      return (*completion)(outcome[0].cast<int>(), outcome[1].cast<std::string>(), facts);
    }
    // Asynchronous: the coroutine calls `complete`; a client that leaves cancels its future.
    if (job.cancel && py::hasattr(result, "cancel")) {
      // The hook may be dropped on an I/O thread: release the Python reference under the GIL.
      std::shared_ptr<py::object> pending(new py::object(std::move(result)), [](py::object* object) {
        py::gil_scoped_acquire gil;
        delete object;
      });
      job.cancel->on_cancel([pending] {
        py::gil_scoped_acquire gil;
        pending->attr("cancel")();
      });
    }
  } catch (py::error_already_set& error) {
    // The dispatcher must not raise; if it does, the caller still gets an answer and the log gets the traceback.
    error.restore();
    PyErr_Print();
    mcp::Outcome outcome = internal_error("Internal error: the tool dispatcher failed");
    (*completion)(static_cast<int>(outcome.status), std::move(outcome.json), "");
  } catch (const std::exception& error) {
    mcp::Outcome outcome = internal_error(std::string("Internal error: ") + error.what());
    (*completion)(static_cast<int>(outcome.status), std::move(outcome.json), "");
  }
}

}  // namespace sandgate::bindings
