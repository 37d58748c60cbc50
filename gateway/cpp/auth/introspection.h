#pragma once
// Opaque bearer tokens (not JWTs), judged by their issuer's introspection endpoint (RFC 7662). The core never makes
// the HTTP call: it queues the token, wakes the server's introspection client through an eventfd, parks the request
// and resumes it when the client hands back the issuer's answer. Answers are judged here (active, iss, aud, exp)
// and held by the token's SHA-256: an active one until its exp or `cache_for`, whichever is sooner, an inactive one
// for `cache_for`, so a token is asked about once however many requests carry it.
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "auth/authenticate.h"
#include "common/clock.h"
#include "jwt/provider.h"
#include "jwt/token_cache.h"
#include "metrics/counters.h"

namespace sandgate::auth {

struct IntrospectionConfig {
  jwt::ProviderConfig provider;  // the issuer, the audiences an answer must name, leeway, groups claims
  std::chrono::seconds cache_for{60};
  bool operator==(const IntrospectionConfig&) const;
};

class OpaqueTokens {
 public:
  // At most `max_pending` requests wait, and one client address may have at most `max_asks_per_client` tokens
  // being asked about at once (a client making tokens up must not spend the issuer's capacity).
  OpaqueTokens(const WallClock& clock, std::size_t max_cached, std::size_t max_pending,
               std::shared_ptr<metrics::Counters> counters, std::size_t max_asks_per_client = 16);
  ~OpaqueTokens();
  OpaqueTokens(const OpaqueTokens&) = delete;
  OpaqueTokens& operator=(const OpaqueTokens&) = delete;

  // The rules answers are judged by (none: introspection is off); a different one forgets every answer held.
  void configure(std::optional<IntrospectionConfig> config);

  // The answer held for `token`: the principal it stands for or its refusal; nullopt when it must be asked about.
  std::optional<std::variant<Principal, AuthFailure>> find(std::string_view token);
  // `resume` is called once `token`'s answer is known; the client is woken to ask unless it already was. False
  // (nothing registered) when max_pending requests are already waiting, or when the token is new and `client`
  // (the request's address) already has max_asks_per_client tokens being asked about.
  bool await(std::string_view token, std::string_view client, std::function<void()> resume);
  // The tokens to ask about, each once, and the wake-ups read off the eventfd.
  std::vector<std::string> take_wanted();
  // Readable while take_wanted has something for the client.
  int wake_fd() const { return wake_fd_; }
  // The issuer's answer (`response_json`, the endpoint's 200 body), or `answered` false when it could not be asked;
  // judged, held, and every request waiting for it resumed on this thread.
  void complete(std::string_view token, bool answered, std::string_view response_json);

 private:
  struct Refusal {
    AuthFailure failure;
    WallClock::time_point until;
  };
  std::variant<Principal, AuthFailure> judge(std::string_view response_json, WallClock::time_point& until) const;

  const WallClock& clock_;
  const std::size_t max_cached_;
  const std::size_t max_pending_;
  std::shared_ptr<metrics::Counters> counters_;
  int wake_fd_ = -1;
  jwt::TokenCache active_;
  std::mutex mutex_;
  std::optional<IntrospectionConfig> config_;
  std::unordered_map<std::string, Refusal> refused_;  // by digest; bounded by max_cached, emptied when full
  struct Waiting {
    std::string client;  // whose request made it be asked about
    std::vector<std::function<void()>> resumes;
  };
  const std::size_t max_asks_per_client_;
  std::unordered_map<std::string, Waiting> waiting_;  // by digest
  std::unordered_map<std::string, std::size_t> asks_by_client_;
  std::size_t waiters_ = 0;
  std::vector<std::string> wanted_;
};

// The authenticate stage for a bearer credential that `otherwise` (API keys) does not know and that is no JWT:
// asked about at the issuer, the request waiting meanwhile. Everything else is what `otherwise` says.
class IntrospectionAuthenticator final : public Authenticator {
 public:
  IntrospectionAuthenticator(std::shared_ptr<OpaqueTokens> tokens, std::shared_ptr<const Authenticator> otherwise,
                             std::size_t max_token_bytes);
  AuthOutcome authenticate(const mcp::RequestContext& context) const override;

 private:
  std::shared_ptr<OpaqueTokens> tokens_;
  std::shared_ptr<const Authenticator> otherwise_;
  std::size_t max_token_bytes_;
};

}  // namespace sandgate::auth
