// requestState: only the gateway's own seal opens, for the same principal, method and target, before expiry.
#include "mcp/request_state.h"

#include <gtest/gtest.h>

#include <memory>

#include "jwt/base64url.h"

namespace sandgate::mcp {
namespace {

using namespace std::chrono_literals;

class FixedWallClock final : public WallClock {
 public:
  time_point now() const override { return at; }
  time_point at = time_point(std::chrono::seconds(1'800'000'000));
};

struct Fixture {
  std::shared_ptr<FixedWallClock> clock = std::make_shared<FixedWallClock>();
  RequestStateSeal seal{RequestStateSeal::random_key(), clock, 60s};
  StateBinding alice{"token:https://idp|alice", "tools/call", "book"};
};

std::string opened(const std::variant<std::string, StateRefused>& result) {
  return std::holds_alternative<std::string>(result) ? std::get<std::string>(result)
                                                      : "refused: " + std::get<StateRefused>(result).reason;
}

TEST(RequestState, OpensToItsPayloadForTheSameBinding) {
  Fixture f;
  const std::string state = f.seal.seal(R"({"round":2})", f.alice);
  EXPECT_EQ(opened(f.seal.open(state, f.alice)), R"({"round":2})");
  EXPECT_EQ(state.find("round"), std::string::npos);  // sealed: the client cannot read it
  EXPECT_NE(f.seal.seal(R"({"round":2})", f.alice), state);  // a fresh nonce each time
}

TEST(RequestState, AChangedOrMadeUpStateIsRefused) {
  Fixture f;
  const std::string state = f.seal.seal("payload", f.alice);
  for (const std::string& changed : {state + "-TAMPERED", state.substr(0, state.size() - 1), std::string(),
                                     std::string("not base64!"), std::string(40, 'A')}) {
    EXPECT_EQ(opened(f.seal.open(changed, f.alice)), "refused: requestState integrity check failed") << changed;
  }
  std::string raw = *jwt::decode_base64url(state);
  raw[14] ^= 1;  // one bit of the ciphertext
  EXPECT_EQ(opened(f.seal.open(jwt::encode_base64url(raw), f.alice)), "refused: requestState integrity check failed");
}

TEST(RequestState, AnotherPrincipalMethodOrTargetCannotResumeIt) {
  Fixture f;
  const std::string state = f.seal.seal("payload", f.alice);
  const std::string refused = "refused: requestState integrity check failed";
  EXPECT_EQ(opened(f.seal.open(state, {"token:https://idp|mallory", "tools/call", "book"})), refused);
  EXPECT_EQ(opened(f.seal.open(state, {f.alice.principal, "prompts/get", "book"})), refused);
  EXPECT_EQ(opened(f.seal.open(state, {f.alice.principal, "tools/call", "cancel"})), refused);
  // Length-prefixed binding: moving a character between fields does not read alike.
  EXPECT_EQ(opened(f.seal.open(f.seal.seal("p", {"ab", "c", "d"}), {"a", "bc", "d"})), refused);
}

TEST(RequestState, AnExpiredStateIsRefusedAndAnotherKeysNeverOpens) {
  Fixture f;
  const std::string state = f.seal.seal("payload", f.alice);
  f.clock->at += 60s;
  EXPECT_EQ(opened(f.seal.open(state, f.alice)), "payload");
  f.clock->at += 1s;
  EXPECT_EQ(opened(f.seal.open(state, f.alice)), "refused: requestState expired");
  RequestStateSeal other(RequestStateSeal::random_key(), f.clock, 60s);
  EXPECT_EQ(opened(other.open(f.seal.seal("payload", f.alice), f.alice)),
            "refused: requestState integrity check failed");
  EXPECT_THROW(RequestStateSeal("short", f.clock, 60s), std::invalid_argument);
}

}  // namespace
}  // namespace sandgate::mcp
