#pragma once
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

namespace sandgate {

// The raw 32-octet SHA-256 of `bytes`: how credentials are looked up without keeping them.
std::string sha256_digest(std::string_view bytes);
// The raw SHA-256 of the parts one after the other, without joining them first.
std::string sha256_digest(std::initializer_list<std::string_view> parts);
// `bytes` as lower-case hex, two digits each.
std::string to_hex(std::string_view bytes);
// The bytes of hex text (either case), or nullopt when it is not an even number of hex digits.
std::optional<std::string> from_hex(std::string_view hex);

}  // namespace sandgate
