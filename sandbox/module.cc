// sandgate._sandbox: the zygote's native primitives, kept small (no Boost) as zygote size is fork cost.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <linux/filter.h>
#include <signal.h>
#include <sys/prctl.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "sandbox/child_steps.h"
#include "sandbox/control_protocol.h"
#include "sandbox/mount_tree.h"
#include "sandbox/namespaces.h"
#include "sandbox/seccomp_profile.h"
#include "sandbox/zygote_loop.h"

namespace py = pybind11;
using namespace sandgate::sandbox;

namespace {

// OSError(errno, strerror, what) picks the subclass (PermissionError, FileNotFoundError, ...).
[[noreturn]] void raise(const Status& status) {
  switch (status.code) {
    case Code::kInvalidArgument:
      throw py::value_error(status.what);
    case Code::kNotSingleThreaded:
      throw std::runtime_error(status.what);
    case Code::kOk:
    case Code::kSystem:
      break;
  }
  PyObject* args = Py_BuildValue("(iss)", status.err, std::strerror(status.err), status.what.c_str());
  if (args != nullptr) {
    PyErr_SetObject(PyExc_OSError, args);
    Py_DECREF(args);
  }
  throw py::error_already_set();
}

void check(const Status& status) {
  if (!status.ok()) raise(status);
}

py::bytes compile_seccomp(const std::string& profile) {
  std::string bpf;
  check(compile_seccomp_profile(profile, &bpf));
  return py::bytes(bpf);
}

// no_new_privs, then the filter: for this process and everything it forks, for good.
void install_seccomp(const py::bytes& seccomp_bpf) {
  std::string_view bpf = seccomp_bpf;
  if (bpf.empty() || bpf.size() % sizeof(sock_filter) != 0 || bpf.size() / sizeof(sock_filter) > BPF_MAXINSNS) {
    throw py::value_error("seccomp_bpf must be a non-empty array of at most 4096 sock_filter instructions");
  }
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) check(Status::Errno("prctl", "PR_SET_NO_NEW_PRIVS"));
  if (!install_seccomp_filter(reinterpret_cast<const sock_filter*>(bpf.data()),
                              static_cast<unsigned short>(bpf.size() / sizeof(sock_filter)))) {
    check(Status::Errno("seccomp"));
  }
}

void setup_filesystem_and_hostname(std::size_t scratch_size_bytes, std::vector<std::string> readonly_paths,
                                   const std::string& hostname) {
  check(set_hostname(hostname));  // first: a bad name fails before the filesystem is rebuilt
  check(setup_filesystem(FilesystemPlan{scratch_size_bytes, std::move(readonly_paths)}));
}

// os.fork's bookkeeping around each of the loop's forks; the child's steps run before any Python, even at-fork hooks.
class PythonForkHooks final : public ForkHooks {
 public:
  void before_fork() override { PyOS_BeforeFork(); }
  void after_fork_in_parent() override { PyOS_AfterFork_Parent(); }
  void after_fork_in_child() override { PyOS_AfterFork_Child(); }
};

// The zygote's loop, holding the GIL throughout: no other thread exists to want it.
// "/tmp/<name>": one directory level under /tmp, nothing to normalize.
bool is_scratch_rebind(const std::string& path) {
  constexpr std::string_view kTmp = "/tmp/";
  if (path.size() <= kTmp.size() || path.size() >= 4096 || path.rfind(kTmp, 0) != 0) return false;
  std::string_view name = std::string_view(path).substr(kTmp.size());
  return name != "." && name != ".." && name.find('/') == std::string_view::npos &&
         name.find('\0') == std::string_view::npos;
}

std::optional<std::tuple<int, bool>> serve_zygote(int control_fd, const py::bytes& seccomp_bpf, long long uid_base,
                                                  unsigned long long baseline_address_space,
                                                  std::vector<std::string> scratch_rebinds) {
  if (PyInterpreterState_Get() != PyInterpreterState_Main()) {
    throw std::runtime_error("serve_zygote is not supported in subinterpreters");
  }
  char* bpf_data = nullptr;
  Py_ssize_t bpf_size = 0;
  if (PyBytes_AsStringAndSize(seccomp_bpf.ptr(), &bpf_data, &bpf_size) != 0) throw py::error_already_set();

  ZygoteLoopConfig config;
  config.control_fd = control_fd;
  config.seccomp_bpf = std::string_view(bpf_data, static_cast<std::size_t>(bpf_size));
  config.uid_base = uid_base;
  config.baseline_address_space = baseline_address_space;
  if (scratch_rebinds.size() > kMaxScratchRebinds) throw py::value_error("at most 16 scratch_rebinds");
  for (const std::string& path : scratch_rebinds) {
    if (!is_scratch_rebind(path)) throw py::value_error("scratch_rebinds must be directories /tmp/<name>: " + path);
  }
  config.scratch_rebinds = std::move(scratch_rebinds);
  PythonForkHooks hooks;
  ZygoteLoop loop(config, hooks);
  LoopExit exit;
  check(loop.run(&exit));
  if (!exit.in_call_child) return std::nullopt;
  return std::make_tuple(exit.call_fd, exit.persistent);
}

// The wire layout's facts, so control.py's tests can check its mirror against this build.
py::dict control_protocol() {
  py::dict sizes;
  sizes["header"] = sizeof(control::Header);
  sizes["call"] = sizeof(control::CallMessage);
  sizes["spawned"] = sizeof(control::SpawnedReport);
  sizes["spawn_failed"] = sizeof(control::SpawnFailedReport);
  sizes["exited"] = sizeof(control::ExitedReport);
  py::dict ops;
  ops["call"] = static_cast<int>(control::Op::kCall);
  ops["spawned"] = static_cast<int>(control::Op::kSpawned);
  ops["spawn_failed"] = static_cast<int>(control::Op::kSpawnFailed);
  ops["exited"] = static_cast<int>(control::Op::kExited);
  py::dict protocol;
  protocol["magic"] = control::kMagic;
  protocol["version"] = control::kVersion;
  protocol["sizes"] = sizes;
  protocol["ops"] = ops;
  protocol["max_message_bytes"] = control::kMaxMessageBytes;
  protocol["max_fds_per_message"] = control::kMaxFdsPerMessage;
  return protocol;
}

}  // namespace

PYBIND11_MODULE(_sandbox, m) {
  m.doc() = "Sandbox primitives for the zygote: namespaces, mount tree, seccomp, per-call fork.";

  m.def("compile_seccomp", &compile_seccomp, py::arg("profile") = std::string(kProfileDefault));
  m.def("syscall_name", &syscall_name, py::arg("nr"));
  m.attr("NATIVE_AUDIT_ARCH") = native_audit_arch();
  m.def("unshare_namespaces", [](bool user, bool pid) { check(unshare_namespaces(user, pid)); }, py::arg("user"),
        py::arg("pid") = false);
  m.def("enter_user_namespace", [] { check(enter_user_namespace()); });
  m.def("install_seccomp", &install_seccomp, py::arg("seccomp_bpf"));
  m.def("die_with_parent", [] {
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) check(Status::Errno("prctl", "PR_SET_PDEATHSIG"));
  });
  m.def("setup_filesystem", &setup_filesystem_and_hostname, py::arg("scratch_size_bytes"), py::arg("readonly_paths"),
        py::arg("hostname") = "sandgate");
  m.def("serve_zygote", &serve_zygote, py::arg("control_fd"), py::arg("seccomp_bpf"), py::arg("uid_base"),
        py::arg("baseline_address_space"), py::arg("scratch_rebinds") = std::vector<std::string>{});

  m.attr("CALL_UID_SLOTS") = kCallUidSlots;
  m.attr("CONTROL_PROTOCOL") = control_protocol();

  // A call child that exits with CHILD_STEP_EXIT_BASE + n failed step CHILD_STEPS[n - 1].
  m.attr("CHILD_STEP_EXIT_BASE") = kStepExitBase;
  py::tuple steps(kStepCount);
  for (int step = 1; step <= kStepCount; ++step) steps[step - 1] = py::str(child_step_name(step));
  m.attr("CHILD_STEPS") = steps;
}
