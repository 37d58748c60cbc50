#pragma once
// A call's private /tmp would hide what the zygote sees under /tmp (a module checked out there):
// the child takes those trees before mounting its tmpfs and binds them back, read-only, on top.
#include <cstddef>

namespace sandgate::sandbox {

// Detached read-only clones of `paths` (directories under /tmp), one fd each into `trees`.
// Async-signal-safe; false (errno set) on the first failure, with the fds opened so far closed.
bool take_scratch_trees(const char* const* paths, int count, int* trees) noexcept;

// After the private /tmp is mounted: mkdir -p each path in it and attach its tree there.
// Async-signal-safe; closes every fd in `trees`; false (errno set) on the first failure.
bool attach_scratch_trees(const char* const* paths, int count, int* trees) noexcept;

}  // namespace sandgate::sandbox
