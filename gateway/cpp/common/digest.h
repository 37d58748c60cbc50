#pragma once
#include <string>
#include <string_view>

namespace sandgate {

// The raw 32-octet SHA-256 of `bytes`: how credentials are looked up without keeping them.
std::string sha256_digest(std::string_view bytes);
// `bytes` as lower-case hex, two digits each.
std::string to_hex(std::string_view bytes);

}  // namespace sandgate
