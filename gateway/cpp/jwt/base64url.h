#pragma once
// RFC 7515 base64url without padding, strict: only the 64 URL-safe characters, no '=', no whitespace, and the
// unused low bits of the last character zero, so each value has exactly one spelling in a token.
#include <optional>
#include <string>
#include <string_view>

namespace sandgate::jwt {

std::optional<std::string> decode_base64url(std::string_view text);
std::string encode_base64url(std::string_view bytes);

}  // namespace sandgate::jwt
