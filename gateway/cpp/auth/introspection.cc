#include "auth/introspection.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <stdexcept>

#include "auth/token_authenticator.h"
#include "common/digest.h"
#include "jwt/claims.h"

namespace sandgate::auth {
namespace {

AuthFailure invalid(std::string_view reason) {  // `reason`: a literal or a jwt_error_code
  return {AuthError::kInvalidCredentials, "Unauthorized: invalid token",
          R"(error="invalid_token", error_description=")" + std::string(reason) + "\"", reason};
}

AuthFailure unavailable() {
  return {AuthError::kUnavailable, "Service Unavailable: the token's issuer could not be asked about it", "",
          "introspection_unavailable"};
}

constexpr std::chrono::seconds kUnavailableHeldFor{1};  // long enough for the waiting requests to read it

}  // namespace

bool IntrospectionConfig::operator==(const IntrospectionConfig& other) const {
  const jwt::ProviderConfig& a = provider;
  const jwt::ProviderConfig& b = other.provider;
  return a.name == b.name && a.rules.issuer == b.rules.issuer && a.rules.audiences == b.rules.audiences &&
         a.rules.leeway == b.rules.leeway && a.rules.required == b.rules.required && a.group_claims == b.group_claims &&
         cache_for == other.cache_for;
}

OpaqueTokens::OpaqueTokens(const WallClock& clock, std::size_t max_cached, std::size_t max_pending,
                           std::shared_ptr<metrics::Counters> counters, std::size_t max_asks_per_client)
    : clock_(clock), max_cached_(max_cached), max_pending_(max_pending), counters_(std::move(counters)),
      active_(clock, max_cached, counters_), max_asks_per_client_(max_asks_per_client) {
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) throw std::runtime_error("eventfd failed for the introspection client's wake-ups");
}

OpaqueTokens::~OpaqueTokens() {
  if (wake_fd_ >= 0) close(wake_fd_);
}

void OpaqueTokens::configure(std::optional<IntrospectionConfig> config) {
  std::lock_guard lock(mutex_);
  if (config_ == config) return;
  config_ = std::move(config);
  active_.clear();
  refused_.clear();
}

std::optional<std::variant<Principal, AuthFailure>> OpaqueTokens::find(std::string_view token) {
  if (std::shared_ptr<const Principal> principal = active_.find(token)) return *principal;
  const std::string digest = sha256_digest(token);
  std::lock_guard lock(mutex_);
  if (!config_) return invalid("invalid_token");  // introspection was switched off while the request waited
  auto refused = refused_.find(digest);
  if (refused == refused_.end()) return std::nullopt;
  if (clock_.now() >= refused->second.until) {
    refused_.erase(refused);
    return std::nullopt;
  }
  return refused->second.failure;
}

bool OpaqueTokens::await(std::string_view token, std::string_view client, std::function<void()> resume) {
  std::string digest = sha256_digest(token);
  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    auto found = waiting_.find(digest);
    const bool first = found == waiting_.end();
    std::string key(client);
    const auto asks = asks_by_client_.find(key);
    const bool client_at_bound = asks != asks_by_client_.end() && asks->second >= max_asks_per_client_;
    if (waiters_ >= max_pending_ || (first && client_at_bound)) {
      counters_->add(metrics::Counter::kTokenIntrospectionsBusy);
      return false;
    }
    if (first) {
      ++asks_by_client_[key];
      found = waiting_.emplace(std::move(digest), Waiting{std::move(key), {}}).first;
      wanted_.emplace_back(token);
      wake = true;
    }
    found->second.resumes.push_back(std::move(resume));
    ++waiters_;
  }
  if (wake) {
    const std::uint64_t one = 1;
    // A full counter (2^64 - 2 unread wake-ups) cannot happen: each take_wanted reads it to zero.
    [[maybe_unused]] const ssize_t written = write(wake_fd_, &one, sizeof one);
  }
  return true;
}

std::vector<std::string> OpaqueTokens::take_wanted() {
  std::uint64_t count = 0;
  [[maybe_unused]] const ssize_t read_bytes = read(wake_fd_, &count, sizeof count);  // EAGAIN: nothing to clear
  std::lock_guard lock(mutex_);
  std::vector<std::string> wanted;
  wanted.swap(wanted_);
  return wanted;
}

std::variant<Principal, AuthFailure> OpaqueTokens::judge(std::string_view response_json,
                                                         WallClock::time_point& until) const {
  std::optional<json::object> answer = jwt::json_object_once(response_json);
  if (!answer) return invalid("bad_introspection_response");
  const json::value* active = answer->if_contains("active");
  // RFC 7662 2.2: anything but a literal true is an inactive token.
  if (active == nullptr || !active->is_bool() || !active->get_bool()) return invalid("inactive");
  const jwt::ProviderConfig& provider = config_->provider;
  // The endpoint speaks for its issuer; an answer that names another is refused like a token from it.
  if (!answer->contains("iss")) (*answer)["iss"] = provider.rules.issuer;
  auto checked = jwt::check_claims(json::serialize(*answer), provider.rules, clock_.now());
  if (auto* error = std::get_if<jwt::JwtError>(&checked)) return invalid(jwt::jwt_error_code(*error));
  const jwt::Claims& claims = std::get<jwt::Claims>(checked);
  until = clock_.now() + config_->cache_for;
  if (claims.expires_at) until = std::min(until, WallClock::time_point(std::chrono::seconds(*claims.expires_at)));
  return jwt::principal_of(provider, claims);
}

void OpaqueTokens::complete(std::string_view token, bool answered, std::string_view response_json) {
  const std::string digest = sha256_digest(token);
  std::vector<std::function<void()>> resumed;
  {
    std::lock_guard lock(mutex_);
    if (config_) {
      WallClock::time_point until = clock_.now() + kUnavailableHeldFor;
      std::variant<Principal, AuthFailure> verdict = unavailable();
      if (answered) {
        until = clock_.now() + config_->cache_for;
        verdict = judge(response_json, until);
      }
      counters_->add(answered ? metrics::Counter::kTokensIntrospected : metrics::Counter::kTokenIntrospectionFailures);
      if (auto* principal = std::get_if<Principal>(&verdict)) {
        active_.insert(token, std::make_shared<const Principal>(std::move(*principal)), until);
      } else {
        if (refused_.size() >= max_cached_) refused_.clear();  // a flood of bad tokens costs their re-asking only
        refused_.insert_or_assign(digest, Refusal{std::get<AuthFailure>(std::move(verdict)), until});
      }
    }
    if (auto found = waiting_.find(digest); found != waiting_.end()) {
      resumed = std::move(found->second.resumes);
      if (auto asks = asks_by_client_.find(found->second.client); asks != asks_by_client_.end() && --asks->second == 0) {
        asks_by_client_.erase(asks);
      }
      waiting_.erase(found);
      waiters_ -= resumed.size();
    }
  }
  for (auto& resume : resumed) resume();
}

IntrospectionAuthenticator::IntrospectionAuthenticator(std::shared_ptr<OpaqueTokens> tokens,
                                                       std::shared_ptr<const Authenticator> otherwise,
                                                       std::size_t max_token_bytes)
    : tokens_(std::move(tokens)), otherwise_(std::move(otherwise)), max_token_bytes_(max_token_bytes) {}

AuthOutcome IntrospectionAuthenticator::authenticate(const mcp::RequestContext& context) const {
  AuthOutcome outcome = otherwise_->authenticate(context);
  const auto* failure = std::get_if<AuthFailure>(&outcome);
  if (failure == nullptr || failure->error != AuthError::kInvalidCredentials || !context.headers) return outcome;
  std::optional<std::string_view> bearer = bearer_credential(*context.headers);
  // Only an `Authorization: Bearer` credential is a token; an X-API-Key, or both at once, is what `otherwise` said.
  if (!bearer || bearer->empty() || looks_like_token(*bearer) || context.headers->find("x-api-key")) return outcome;
  if (bearer->size() > max_token_bytes_) return invalid("too_large");
  if (auto known = tokens_->find(*bearer)) {
    if (auto* principal = std::get_if<Principal>(&*known)) return std::move(*principal);
    return std::get<AuthFailure>(std::move(*known));
  }
  return AuthPending{[tokens = tokens_, token = std::string(*bearer),
                      client = std::string(mcp::peer_address(context.peer))](std::function<void()> resume) {
    return tokens->await(token, client, std::move(resume));
  }};
}

}  // namespace sandgate::auth
