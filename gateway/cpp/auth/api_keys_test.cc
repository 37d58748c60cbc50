#include "auth/api_keys.h"

#include <gtest/gtest.h>
#include <openssl/sha.h>

#include <stdexcept>

namespace sandgate::auth {
namespace {

std::string hex_sha256(std::string_view text) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char byte : digest) {
    out += kHex[byte >> 4];
    out += kHex[byte & 15];
  }
  return out;
}

mcp::RequestContext request(std::vector<std::pair<std::string, std::string>> headers,
                            std::string peer = "203.0.113.9:4000",
                            mcp::Transport transport = mcp::Transport::kStreamableHttp) {
  auto fields = std::make_shared<mcp::Headers>();
  for (const auto& [name, value] : headers) fields->add(name, value);
  mcp::RequestContext context;
  context.headers = std::move(fields);
  context.peer = std::move(peer);
  context.transport = transport;
  return context;
}

ApiKeyAuthenticator authenticator(AnonymousAccess anonymous = AnonymousAccess::kLoopbackOnly) {
  return ApiKeyAuthenticator({{"alice-laptop", hex_sha256("alice-secret"), "alice", {"eng", "sre"}},
                              {"ci", hex_sha256("ci-secret"), "ci-bot", {}}},
                             anonymous);
}

TEST(ApiKeysTest, ABearerOrXApiKeyNamesItsPrincipal) {
  const auto keys = authenticator();
  for (auto headers : {std::vector<std::pair<std::string, std::string>>{{"Authorization", "Bearer alice-secret"}},
                       {{"authorization", "bearer   alice-secret  "}},
                       {{"X-API-Key", "alice-secret"}},
                       {{"Authorization", "Bearer alice-secret"}, {"X-Api-Key", "alice-secret"}}}) {
    auto result = keys.authenticate(request(headers));
    ASSERT_TRUE(std::holds_alternative<Principal>(result));
    const Principal& who = std::get<Principal>(result);
    EXPECT_EQ(who.kind, Principal::Kind::kApiKey);
    EXPECT_EQ(who.name, "alice");
    EXPECT_EQ(who.groups, (std::vector<std::string>{"eng", "sre"}));
  }
  EXPECT_EQ(std::get<Principal>(keys.authenticate(request({{"X-API-Key", "ci-secret"}}))).name, "ci-bot");
}

TEST(ApiKeysTest, AWrongMalformedOrAmbiguousCredentialIsInvalidEvenFromLoopback) {
  const auto keys = authenticator(AnonymousAccess::kAllow);
  for (auto headers : {std::vector<std::pair<std::string, std::string>>{{"Authorization", "Bearer wrong"}},
                       {{"Authorization", "Basic YWxpY2U6c2VjcmV0"}},
                       {{"Authorization", "Bearer"}},
                       {{"Authorization", "Bearer "}},
                       {{"X-API-Key", ""}},
                       {{"X-API-Key", "ALICE-SECRET"}},
                       {{"Authorization", "Bearer alice-secret"}, {"X-API-Key", "ci-secret"}}}) {
    auto result = keys.authenticate(request(headers, "127.0.0.1:5"));
    ASSERT_TRUE(std::holds_alternative<AuthFailure>(result)) << headers[0].second;
    EXPECT_EQ(std::get<AuthFailure>(result).error, AuthError::kInvalidCredentials);
    EXPECT_EQ(std::get<AuthFailure>(result).challenge, R"(error="invalid_token")");
    EXPECT_EQ(std::get<AuthFailure>(result).message.find("secret"), std::string::npos);
  }
}

TEST(ApiKeysTest, NoCredentialIsAnonymousWhereThePolicyAllowsIt) {
  auto anonymous = [](AnonymousAccess access, std::string peer, mcp::Transport transport) {
    auto result = authenticator(access).authenticate(request({}, std::move(peer), transport));
    if (auto* failure = std::get_if<AuthFailure>(&result)) {
      EXPECT_EQ(failure->error, AuthError::kMissingCredentials);
      return false;
    }
    EXPECT_EQ(std::get<Principal>(result).kind, Principal::Kind::kAnonymous);
    return true;
  };
  const auto http = mcp::Transport::kStreamableHttp;
  EXPECT_TRUE(anonymous(AnonymousAccess::kLoopbackOnly, "127.0.0.1:5", http));
  EXPECT_TRUE(anonymous(AnonymousAccess::kLoopbackOnly, "[::1]:5", http));
  EXPECT_TRUE(anonymous(AnonymousAccess::kLoopbackOnly, "[::ffff:127.0.0.1]:5", http));
  EXPECT_TRUE(anonymous(AnonymousAccess::kLoopbackOnly, "stdio", mcp::Transport::kStdio));
  EXPECT_FALSE(anonymous(AnonymousAccess::kLoopbackOnly, "10.0.0.1:5", http));
  EXPECT_FALSE(anonymous(AnonymousAccess::kLoopbackOnly, "[::ffff:10.0.0.1]:5", http));
  EXPECT_FALSE(anonymous(AnonymousAccess::kLoopbackOnly, "[2001:db8::1]:5", http));
  EXPECT_FALSE(anonymous(AnonymousAccess::kLoopbackOnly, "", http));
  EXPECT_TRUE(anonymous(AnonymousAccess::kAllow, "203.0.113.9:4000", http));
  EXPECT_FALSE(anonymous(AnonymousAccess::kDeny, "127.0.0.1:5", http));
  EXPECT_FALSE(anonymous(AnonymousAccess::kDeny, "stdio", mcp::Transport::kStdio));
}

TEST(ApiKeysTest, BadDigestsAreRefusedAtLoad) {
  EXPECT_THROW(ApiKeyAuthenticator({{"k", "abc", "p", {}}}, AnonymousAccess::kDeny), std::invalid_argument);
  EXPECT_THROW(ApiKeyAuthenticator({{"k", hex_sha256("x").replace(0, 1, "A"), "p", {}}}, AnonymousAccess::kDeny),
               std::invalid_argument);
  EXPECT_THROW(ApiKeyAuthenticator({{"k", hex_sha256("x"), "p", {}}, {"k2", hex_sha256("x"), "q", {}}},
                                   AnonymousAccess::kDeny),
               std::invalid_argument);
  EXPECT_EQ(parse_anonymous_access("loopback-only"), AnonymousAccess::kLoopbackOnly);
  EXPECT_EQ(parse_anonymous_access("Allow"), std::nullopt);
}

}  // namespace
}  // namespace sandgate::auth
