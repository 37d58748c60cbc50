#pragma once
// JSON text through the gateway value for value: a bounded parse whose numbers and duplicate keys read as
// Python's json reads them, and the raw text of members, so what a client or tool wrote is forwarded, never
// re-printed.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/json.h"

namespace sandgate {

struct JsonLimits {
  std::size_t max_depth = 160;                     // nesting of arrays and objects in one document
  std::size_t max_string_bytes = 4 * 1024 * 1024;  // one string or key, unescaped
  std::size_t max_members = 100'000;               // members of one object, elements of one array
};

enum class JsonError { kSyntax, kInvalidUtf8, kLoneSurrogate, kTooDeep, kStringTooLong, kTooManyMembers };

struct JsonParseError {
  JsonError error;
  std::string message;  // "Parse error: ..." naming the limit or the fault
};

// A tree of `text`: floats correctly rounded (integers past 64 bits become the nearest double here; their
// text is what gets forwarded), duplicate keys keep the last value, as Python's json does.
std::variant<json::value, JsonParseError> parse_json_text(std::string_view text, const JsonLimits& limits);

// The same checks without building a tree.
std::optional<JsonParseError> validate_json_text(std::string_view text, const JsonLimits& limits);

// Raw views into text that a parse above accepted; on anything else they stop early and never read past it.
struct RawMember {
  std::string_view key;    // as written, quotes included
  std::string_view value;  // as written
};
std::vector<RawMember> raw_members(std::string_view object_text);
std::vector<std::string_view> raw_elements(std::string_view array_text);
// The value a parse keeps for `key` (its last occurrence, escapes in keys resolved); nullopt when absent.
std::optional<std::string_view> raw_member(std::string_view object_text, std::string_view key);
bool raw_key_equals(std::string_view raw_key, std::string_view key);
// Appends `key:value` (both raw) to an object's text being written, which starts with "{".
void append_raw_member(std::string& object, std::string_view raw_key, std::string_view raw_value);
std::string_view trim_json(std::string_view text);

}  // namespace sandgate
