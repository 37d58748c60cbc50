#pragma once
// The zygote's per-call control messages: fixed-layout structs, mirrored by sandgate/sandbox/control.py.
// Native byte order, no padding: both ends run on the same machine, so only the layout is contract.
#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace sandgate::sandbox::control {

inline constexpr std::uint32_t kMagic = 0x435a4753;  // "SGZC" in little-endian memory
inline constexpr std::uint8_t kVersion = 1;

enum class Op : std::uint8_t {
  kCall = 1,         // gateway → zygote; one fd attached: the child's end of the call socketpair
  kSpawned = 2,      // zygote → gateway; one fd attached: the child's pidfd
  kSpawnFailed = 3,  // zygote → gateway
  kExited = 4,       // zygote → gateway, once the child is reaped
};

// Bounds of one received message: a longer one arrives truncated (MSG_TRUNC) and is dropped.
inline constexpr std::size_t kMaxMessageBytes = 256;
inline constexpr int kMaxFdsPerMessage = 4;  // more arrive cut off (MSG_CTRUNC): the message is dropped

struct Header {
  std::uint32_t magic;
  std::uint8_t version;
  Op op;
  std::uint16_t reserved;  // 0
};

// Limit indexes in CallMessage::limits, and bits of CallMessage::limits_present.
enum LimitIndex : int {
  kAddressSpace = 0,
  kCpuSeconds = 1,
  kOpenFiles = 2,
  kProcesses = 3,
  kFileSize = 4,
  kLimitCount = 5,
};
inline constexpr std::uint32_t kAllLimitsPresent = (1u << kLimitCount) - 1;
inline constexpr std::uint32_t kCallPersistent = 1u << 0;  // CallMessage::flags: a per_session worker

struct CallMessage {
  Header header;
  std::uint64_t id;
  std::uint32_t limits_present;  // bit i set: limits[i] was given; unset: the zygote's own limit stays
  std::uint32_t flags;
  std::int64_t limits[kLimitCount];
  std::uint64_t private_scratch_bytes;  // 0: the call shares the zygote's /tmp
};

struct SpawnedReport {
  Header header;
  std::uint64_t id;
  std::int32_t pid;
  std::uint32_t reserved;
};

inline constexpr std::size_t kFailureTextBytes = 104;

struct SpawnFailedReport {
  Header header;
  std::uint64_t id;
  std::int32_t error;  // errno
  std::uint32_t reserved;
  char text[kFailureTextBytes];  // UTF-8, NUL-padded, not necessarily NUL-terminated
};

inline constexpr std::int32_t kNone = -1;  // ExitedReport::exit_code or ::signal that does not apply

struct ExitedReport {
  Header header;
  std::uint64_t id;
  std::int32_t exit_code;
  std::int32_t signal;
  std::uint64_t cpu_microseconds;  // user + system
  std::uint64_t maxrss_kib;
  std::uint64_t minor_faults;
};

template <class Message>
inline constexpr bool kWireSafe = std::is_standard_layout_v<Message> && std::is_trivially_copyable_v<Message>;

static_assert(sizeof(Header) == 8 && kWireSafe<Header>);
static_assert(sizeof(CallMessage) == 72 && kWireSafe<CallMessage>);
static_assert(offsetof(CallMessage, limits) == 24 && offsetof(CallMessage, private_scratch_bytes) == 64);
static_assert(sizeof(SpawnedReport) == 24 && kWireSafe<SpawnedReport>);
static_assert(sizeof(SpawnFailedReport) == 128 && kWireSafe<SpawnFailedReport>);
static_assert(sizeof(ExitedReport) == 48 && kWireSafe<ExitedReport>);
static_assert(offsetof(ExitedReport, cpu_microseconds) == 24);
static_assert(sizeof(SpawnFailedReport) <= kMaxMessageBytes && sizeof(CallMessage) <= kMaxMessageBytes);

constexpr Header make_header(Op op) { return Header{kMagic, kVersion, op, 0}; }

constexpr bool is_valid_header(const Header& header) {
  return header.magic == kMagic && header.version == kVersion && header.reserved == 0;
}

}  // namespace sandgate::sandbox::control
