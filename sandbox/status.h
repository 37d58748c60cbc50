#pragma once
// How a zygote-side sandbox operation fails; the bindings map each code to one Python exception.
#include <cerrno>
#include <string>
#include <string_view>
#include <utility>

namespace sandgate::sandbox {

enum class Code {
  kOk,
  kSystem,             // a system call failed: `err` holds errno (Python: the matching OSError)
  kInvalidArgument,    // the caller's input is unusable (Python: ValueError)
  kNotSingleThreaded,  // unshare/fork from a threaded process (Python: RuntimeError)
};

struct Status {
  Code code = Code::kOk;
  int err = 0;
  std::string what;

  bool ok() const { return code == Code::kOk; }

  static Status Ok() { return {}; }
  // Reads errno before anything can clobber it: call right after the failing call, views only.
  static Status Errno(std::string_view op, std::string_view subject = {}) {
    int err = errno;
    std::string what(op);
    if (!subject.empty()) what.append(" ").append(subject);
    return {Code::kSystem, err, std::move(what)};
  }
  static Status Invalid(std::string what) { return {Code::kInvalidArgument, EINVAL, std::move(what)}; }
};

}  // namespace sandgate::sandbox
