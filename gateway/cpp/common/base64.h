#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace sandgate {

std::string encode_base64(std::string_view bytes);

// Standard alphabet with padding; a non-canonical encoding (one that would not
// round-trip) is rejected so two spellings never name the same value.
std::optional<std::string> decode_base64_canonical(std::string_view text);

}  // namespace sandgate
