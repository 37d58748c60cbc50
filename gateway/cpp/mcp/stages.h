#pragma once
// The named stages of a request's path, in order: authenticate (per delivery), then per request authorize,
// rate-limit, dispatch (the Engine) and record. Each later issue fills one of them.
#include <memory>

#include "auth/authenticate.h"
#include "metrics/record.h"
#include "policy/authorize.h"
#include "ratelimit/rate_limit.h"

namespace sandgate::mcp {

struct Stages {
  std::shared_ptr<const auth::Authenticator> authenticate;
  std::shared_ptr<const policy::Authorizer> authorize;
  std::shared_ptr<ratelimit::RateLimiter> rate_limit;
  std::shared_ptr<metrics::Recorder> record;
};

// Today's behaviour: everyone anonymous, everything allowed, no limit, every request counted in `counters`.
inline Stages open_stages(std::shared_ptr<metrics::Counters> counters) {
  return Stages{std::make_shared<auth::AnonymousAuthenticator>(), std::make_shared<policy::AllowAll>(),
                std::make_shared<ratelimit::Unlimited>(), std::make_shared<metrics::Recorder>(std::move(counters))};
}

}  // namespace sandgate::mcp
