#include "metrics/counters.h"

namespace sandgate::metrics {

std::string_view counter_name(Counter counter) {
  switch (counter) {
    case Counter::kHttpConnectionsAccepted: return "http_connections_accepted";
    case Counter::kHttpConnectionsRejected: return "http_connections_rejected";
    case Counter::kHttpRequests: return "http_requests";
    case Counter::kHttpReadTimeouts: return "http_read_timeouts";
    case Counter::kHttpBodiesTooLarge: return "http_bodies_too_large";
    case Counter::kHttpHeadersTooLarge: return "http_headers_too_large";
    case Counter::kHttpCancelledByDisconnect: return "http_cancelled_by_disconnect";
    case Counter::kSessionsOpened: return "sessions_opened";
    case Counter::kSessionsClosed: return "sessions_closed";
    case Counter::kSessionsExpired: return "sessions_expired";
    case Counter::kSessionsRejectedFull: return "sessions_rejected_full";
    case Counter::kProgressSent: return "progress_sent";
    case Counter::kProgressDroppedOverLimit: return "progress_dropped_over_limit";
    case Counter::kProgressDroppedTooLarge: return "progress_dropped_too_large";
    case Counter::kProgressDroppedUndeliverable: return "progress_dropped_undeliverable";
    case Counter::kSubscriptionsRefused: return "subscriptions_refused";
    case Counter::kAnnouncementsSent: return "announcements_sent";
    case Counter::kAnnouncementsUndeliverable: return "announcements_undeliverable";
    case Counter::kAnnouncementsDroppedOverLimit: return "announcements_dropped_over_limit";
    case Counter::kAnnouncementsRefused: return "announcements_refused";
    case Counter::kLogMessagesSent: return "log_messages_sent";
    case Counter::kLogMessagesBelowLevel: return "log_messages_below_level";
    case Counter::kLogMessagesDroppedOverLimit: return "log_messages_dropped_over_limit";
    case Counter::kLogMessagesDroppedTooLarge: return "log_messages_dropped_too_large";
    case Counter::kLogMessagesDroppedUndeliverable: return "log_messages_dropped_undeliverable";
    case Counter::kClientRequestsSent: return "client_requests_sent";
    case Counter::kClientRequestsAnswered: return "client_requests_answered";
    case Counter::kClientRequestsRefused: return "client_requests_refused";
    case Counter::kClientRequestsAbandoned: return "client_requests_abandoned";
    case Counter::kDeliveries: return "deliveries";
    case Counter::kJsonRpcRequests: return "jsonrpc_requests";
    case Counter::kJsonRpcRequestsFailed: return "jsonrpc_requests_failed";
    case Counter::kJsonRpcRequestsCancelled: return "jsonrpc_requests_cancelled";
    case Counter::kAuthFailures: return "auth_failures";
    case Counter::kPolicyDenials: return "policy_denials";
    case Counter::kPolicyShadowDisagreements: return "policy_shadow_disagreements";
    case Counter::kPolicyReloads: return "policy_reloads";
    case Counter::kPolicyReloadsRefused: return "policy_reloads_refused";
    case Counter::kRateLimited: return "rate_limited";
    case Counter::kRateLimitKeysEvicted: return "ratelimit_keys_evicted";
    case Counter::kRateLimitKeysEvictedEarly: return "ratelimit_keys_evicted_early";
    case Counter::kTokensVerified: return "tokens_verified";
    case Counter::kTokensRefused: return "tokens_refused";
    case Counter::kAuditLinesWritten: return "audit_lines_written";
    case Counter::kAuditLinesDropped: return "audit_lines_dropped";
    case Counter::kAuditWriteErrors: return "audit_write_errors";
    case Counter::kTokensIntrospected: return "tokens_introspected";
    case Counter::kTokenIntrospectionFailures: return "token_introspection_failures";
    case Counter::kTokenIntrospectionsBusy: return "token_introspections_busy";
    case Counter::kTokenCacheHits: return "token_cache_hits";
    case Counter::kTokenCacheEvictions: return "token_cache_evictions";
    case Counter::kSandboxProtocolErrors: return "sandbox_protocol_errors";
    case Counter::kSandboxPrespawnedLost: return "sandbox_prespawned_lost";
    case Counter::kSandboxPrespawnedRecycled: return "sandbox_prespawned_recycled";
    case Counter::kSandboxSessionWorkersRefused: return "sandbox_session_workers_refused";
    case Counter::kSandboxZygoteRestarts: return "sandbox_zygote_restarts";
    case Counter::kSandboxCallsStopped: return "sandbox_calls_stopped";
    case Counter::kCount: break;
  }
  return "unknown";
}

std::optional<Counter> counter_named(std::string_view name) {
  for (std::size_t i = 0; i < static_cast<std::size_t>(Counter::kCount); ++i) {
    if (counter_name(static_cast<Counter>(i)) == name) return static_cast<Counter>(i);
  }
  return std::nullopt;
}

std::vector<std::pair<std::string_view, std::uint64_t>> Counters::snapshot() const {
  std::vector<std::pair<std::string_view, std::uint64_t>> out;
  out.reserve(values_.size());
  for (std::size_t i = 0; i < values_.size(); ++i) {
    out.emplace_back(counter_name(static_cast<Counter>(i)), values_[i].load(std::memory_order_relaxed));
  }
  return out;
}

}  // namespace sandgate::metrics
