#pragma once
// Seccomp profiles compiled once, in the zygote, to raw BPF; call children only install the bytes.
#include <cstdint>
#include <string>
#include <string_view>

#include "sandbox/status.h"

namespace sandgate::sandbox {

// "default": a call child's allow-list; "none": no filter (empty program), for tests and trusted tools.
inline constexpr std::string_view kProfileDefault = "default";
// The zygote's own filter, installed before the module's import and inherited (stacked) by every
// call child: "default" plus what the zygote loop and the child steps do before the call's filter.
inline constexpr std::string_view kProfileZygote = "zygote";
inline constexpr std::string_view kProfileNone = "none";

// A struct sock_filter array for the native architecture; unknown names are kInvalidArgument.
Status compile_seccomp_profile(std::string_view profile, std::string* bpf);

// AUDIT_ARCH_X86_64 on x86_64: the `arch` of a violation report about a native syscall.
std::uint32_t native_audit_arch();

// "execve" for 59 on x86_64; "" when the number means nothing on the native architecture.
std::string syscall_name(int nr);

}  // namespace sandgate::sandbox
