// Token-parsing fuzz target. Every input is used four ways:
//  - as base64url text: a decode that succeeds re-encodes to exactly the input (one spelling per value);
//  - as a compact JWS: parse_jws never crashes, and what it accepts has its signing input as the token's prefix
//    and a supported algorithm; verify_jws against a fixed symmetric key set accepts only a token whose tag is
//    the real HMAC of its signing input;
//  - as a JWT payload: check_claims never crashes, and accepted claims carry the issuer the rules require;
//  - as a JWKS document: Jwks::parse never crashes, and a parsed set is never empty.
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "jwt/base64url.h"
#include "jwt/claims.h"
#include "jwt/jws.h"

namespace {

using namespace sandgate::jwt;

void require(bool condition) {
  if (!condition) std::abort();
}

constexpr std::string_view kSecret = "0123456789abcdef0123456789abcdef";

const Jwks& symmetric_keys() {
  static const std::shared_ptr<const Jwks> keys = [] {
    const std::string set = R"({"keys":[{"kty":"oct","kid":"s","alg":"HS256","k":")" + encode_base64url(kSecret) + "\"}]}";
    return std::get<std::shared_ptr<const Jwks>>(Jwks::parse(set, JwksOptions{.allow_symmetric = true}));
  }();
  return *keys;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  if (std::optional<std::string> decoded = decode_base64url(input)) require(encode_base64url(*decoded) == input);

  auto parsed = parse_jws(input);
  if (const Jws* jws = std::get_if<Jws>(&parsed)) {
    require(input.starts_with(jws->signing_input) && input.size() > jws->signing_input.size());
    require(!algorithm_name(jws->algorithm).empty());
  }
  auto verified = verify_jws(input, symmetric_keys());
  if (const Jws* jws = std::get_if<Jws>(&verified)) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    HMAC(EVP_sha256(), kSecret.data(), static_cast<int>(kSecret.size()),
         reinterpret_cast<const unsigned char*>(jws->signing_input.data()), jws->signing_input.size(), mac, &length);
    require(jws->algorithm == Algorithm::kHS256 && jws->signature.size() == length &&
            CRYPTO_memcmp(mac, jws->signature.data(), length) == 0);
  }

  const ClaimRules rules{"https://idp", {"https://mcp"}, std::chrono::seconds(60), {"exp"}};
  auto claims = check_claims(input, rules, std::chrono::system_clock::time_point(std::chrono::seconds(1000)));
  if (const Claims* accepted = std::get_if<Claims>(&claims)) require(accepted->issuer == "https://idp");

  auto keys = Jwks::parse(input, JwksOptions{.allow_symmetric = true});
  if (const auto* set = std::get_if<std::shared_ptr<const Jwks>>(&keys)) require(!(*set)->keys().empty());
  return 0;
}
