#pragma once
// One registry of the request path's counters: transports and stages add to it, Python reads it in one
// call. Relaxed atomics: a counter is a tally, never a synchronization point.
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "metrics/families.h"

namespace sandgate::metrics {

enum class Counter : std::size_t {
  // The HTTP listener.
  kHttpConnectionsAccepted,
  kHttpConnectionsRejected,      // over max_connections
  kHttpRequests,
  kHttpReadTimeouts,             // a request not whole within read_timeout_s
  kHttpBodiesTooLarge,           // over max_body_bytes
  kHttpHeadersTooLarge,          // over max_header_bytes or max_header_fields
  kHttpCancelledByDisconnect,    // a client left (or stopped reading) while its call ran
  // Legacy sessions.
  kSessionsOpened,
  kSessionsClosed,
  kSessionsExpired,
  kSessionsRejectedFull,         // over max_sessions
  // Progress notifications.
  kProgressSent,
  kProgressDroppedOverLimit,     // over max_progress_notifications for the call
  kProgressDroppedTooLarge,      // over max_progress_bytes
  kProgressDroppedUndeliverable, // no stream the client accepts, or the reply already went
  // Log messages to clients (notifications/message).
  kLogMessagesSent,
  kLogMessagesBelowLevel,           // below the level the client chose: not sent, by the client's wish
  kLogMessagesDroppedOverLimit,     // over max_log_notifications for the call
  kLogMessagesDroppedTooLarge,      // over max_log_bytes
  kLogMessagesDroppedUndeliverable, // no stream the client accepts, or the reply already went
  // Requests calls send their clients (sampling, elicitation, roots).
  kClientRequestsSent,
  kClientRequestsAnswered,
  kClientRequestsRefused,        // not declared by the client, over a bound, or no stream to send on
  kClientRequestsAbandoned,      // the call ended (or gave up waiting) before its client answered
  // Resource updates and list changes calls announce to subscribed sessions and listen streams.
  kSubscriptionsRefused,           // a subscribe or listen over max_resource_subscriptions, _uri_bytes or max_listeners
  kAnnouncementsSent,              // notifications delivered to a session's stream or a listen stream
  kAnnouncementsUndeliverable,     // ...to a subscriber with no stream open, or whose stream was gone
  kAnnouncementsDroppedOverLimit,  // over max_announcements_per_call for the call
  kAnnouncementsRefused,           // malformed: an unknown change, a URI empty or too long
  // The request path.
  kDeliveries,                   // bodies a transport handed over (a message or a batch)
  kJsonRpcRequests,              // requests that entered the path
  kJsonRpcRequestsFailed,        // ...answered with an error
  kJsonRpcRequestsCancelled,     // ...cancelled by their client
  kAuthFailures,                 // deliveries the authenticate stage refused
  kPolicyDenials,                // requests the authorize stage refused
  kPolicyShadowDisagreements,    // calls a shadow rule would have decided otherwise (reported, not enforced)
  kPolicyReloads,                // policy versions swapped in after start
  kPolicyReloadsRefused,         // versions refused (invalid, failing their tests, or unservable): the last good serves
  kRateLimited,                  // requests the rate-limit stage refused
  kRateLimitKeysEvicted,         // keys the bounded rate-limit table forgot to make room
  kRateLimitKeysEvictedEarly,    // ...before their bucket had refilled (they start afresh)
  kTokensVerified,               // bearer tokens whose signature and claims were checked and held
  kTokensRefused,                // ...that were refused (any reason)
  kTokenCacheHits,               // requests whose token was verified before and had not expired
  kTokenCacheEvictions,          // verified tokens the bounded cache forgot to make room
  kTokensIntrospected,           // opaque tokens the issuer was asked about (RFC 7662) and answered
  kTokenIntrospectionFailures,   // ...where asking failed (unreachable, an error, a malformed answer): 503, not cached
  kTokenIntrospectionsBusy,      // requests refused 503 because max_pending_introspections were already waiting
  // The audit log.
  kAuditLinesWritten,
  kAuditLinesDropped,            // over max_audit_queued_lines: the writer fell behind
  kAuditWriteErrors,             // a write or a reopen failed (the line is lost; a reopen keeps the old file)
  // The sandbox runner (Python, through the binding).
  kSandboxProtocolErrors,        // calls killed for a frame the gateway could not accept
  kSandboxPrespawnedLost,        // children forked ahead of demand that died waiting
  kSandboxPrespawnedRecycled,    // ...that waited past prespawn_idle_s and were replaced
  kSandboxSessionWorkersRefused, // per_session calls run per_call: max_session_workers reached
  kSandboxZygoteRestarts,
  kSandboxCallsStopped,          // calls the sandbox ended (timeout, memory, seccomp, crash, ...), counted by the core
  kCount,
};

std::string_view counter_name(Counter counter);
// The counter of that name; nullopt for a name the registry does not have.
std::optional<Counter> counter_named(std::string_view name);

class Counters {
 public:
  void add(Counter counter, std::uint64_t n = 1) {
    values_[static_cast<std::size_t>(counter)].fetch_add(n, std::memory_order_relaxed);
  }
  std::uint64_t get(Counter counter) const {
    return values_[static_cast<std::size_t>(counter)].load(std::memory_order_relaxed);
  }
  // Every counter by name, in declaration order.
  std::vector<std::pair<std::string_view, std::uint64_t>> snapshot() const;
  // The labelled families and histograms beside the plain counters.
  Families& families() { return *families_; }
  const Families& families() const { return *families_; }

 private:
  std::array<std::atomic<std::uint64_t>, static_cast<std::size_t>(Counter::kCount)> values_{};
  std::unique_ptr<Families> families_ = std::make_unique<Families>();
};

}  // namespace sandgate::metrics
