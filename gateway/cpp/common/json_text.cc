#include "common/json_text.h"

#include <boost/json/basic_parser_impl.hpp>

#include <charconv>
#include <cmath>
#include <limits>

namespace sandgate {
namespace {

using boost::system::error_code;

// What went wrong inside a handler: Boost reports it as a generic failure, the handler knows which bound.
enum class Exceeded { kNone, kString, kMembers };

// Builds nothing; enforces the bounds Boost's options do not have.
class Checks {
 public:
  explicit Checks(const JsonLimits& limits) : limits_(limits) {}
  Exceeded exceeded() const { return exceeded_; }

 protected:
  bool string_ok(std::size_t total, error_code& ec) {
    if (total <= limits_.max_string_bytes) return true;
    return fail(Exceeded::kString, ec);
  }
  bool members_ok(std::size_t n, error_code& ec) {
    if (n <= limits_.max_members) return true;
    return fail(Exceeded::kMembers, ec);
  }

 private:
  bool fail(Exceeded what, error_code& ec) {
    exceeded_ = what;
    ec = boost::json::error::test_failure;  // any error stops the parser; `exceeded_` says which
    return false;
  }
  const JsonLimits& limits_;
  Exceeded exceeded_ = Exceeded::kNone;
};

struct NullHandler : Checks {
  static constexpr std::size_t max_object_size = std::size_t(-1);
  static constexpr std::size_t max_array_size = std::size_t(-1);
  static constexpr std::size_t max_key_size = std::size_t(-1);
  static constexpr std::size_t max_string_size = std::size_t(-1);
  using Checks::Checks;
  bool on_document_begin(error_code&) { return true; }
  bool on_document_end(error_code&) { return true; }
  bool on_object_begin(error_code&) { return true; }
  bool on_object_end(std::size_t n, error_code& ec) { return members_ok(n, ec); }
  bool on_array_begin(error_code&) { return true; }
  bool on_array_end(std::size_t n, error_code& ec) { return members_ok(n, ec); }
  bool on_key_part(boost::json::string_view, std::size_t n, error_code& ec) { return string_ok(n, ec); }
  bool on_key(boost::json::string_view, std::size_t n, error_code& ec) { return string_ok(n, ec); }
  bool on_string_part(boost::json::string_view, std::size_t n, error_code& ec) { return string_ok(n, ec); }
  bool on_string(boost::json::string_view, std::size_t n, error_code& ec) { return string_ok(n, ec); }
  bool on_number_part(boost::json::string_view, error_code&) { return true; }
  bool on_int64(std::int64_t, boost::json::string_view, error_code&) { return true; }
  bool on_uint64(std::uint64_t, boost::json::string_view, error_code&) { return true; }
  bool on_double(double, boost::json::string_view, error_code&) { return true; }
  bool on_bool(bool, error_code&) { return true; }
  bool on_null(error_code&) { return true; }
  bool on_comment_part(boost::json::string_view, error_code&) { return true; }
  bool on_comment(boost::json::string_view, error_code&) { return true; }
};

// The nearest double to the number's text, as Python's float() rounds it; overflow gives an infinity and
// underflow a zero, both signed.
double exact_double(std::string_view text) {
  double value = 0.0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc::result_out_of_range) return value;
  const bool negative = !text.empty() && text.front() == '-';
  const auto exponent = text.find_first_of("eE");
  const bool tiny = exponent != std::string_view::npos && exponent + 1 < text.size() && text[exponent + 1] == '-';
  const double magnitude = tiny ? 0.0 : std::numeric_limits<double>::infinity();
  return negative ? -magnitude : magnitude;
}

// Builds a json::value; Boost's own double conversion is replaced by a correctly rounded one.
struct TreeHandler : Checks {
  static constexpr std::size_t max_object_size = json::object::max_size();
  static constexpr std::size_t max_array_size = json::array::max_size();
  static constexpr std::size_t max_key_size = json::string::max_size();
  static constexpr std::size_t max_string_size = json::string::max_size();
  using Checks::Checks;
  json::value_stack stack;
  std::string number;  // a number's text split across buffers

  bool on_document_begin(error_code&) {
    stack.reset();
    return true;
  }
  bool on_document_end(error_code&) { return true; }
  bool on_object_begin(error_code&) { return true; }
  bool on_object_end(std::size_t n, error_code& ec) {
    if (!members_ok(n, ec)) return false;
    stack.push_object(n);  // keeps the last of duplicate keys, as Python does
    return true;
  }
  bool on_array_begin(error_code&) { return true; }
  bool on_array_end(std::size_t n, error_code& ec) {
    if (!members_ok(n, ec)) return false;
    stack.push_array(n);
    return true;
  }
  bool on_key_part(boost::json::string_view s, std::size_t n, error_code& ec) {
    if (!string_ok(n, ec)) return false;
    stack.push_chars(s);
    return true;
  }
  bool on_key(boost::json::string_view s, std::size_t n, error_code& ec) {
    if (!string_ok(n, ec)) return false;
    stack.push_key(s);
    return true;
  }
  bool on_string_part(boost::json::string_view s, std::size_t n, error_code& ec) {
    if (!string_ok(n, ec)) return false;
    stack.push_chars(s);
    return true;
  }
  bool on_string(boost::json::string_view s, std::size_t n, error_code& ec) {
    if (!string_ok(n, ec)) return false;
    stack.push_string(s);
    return true;
  }
  bool on_number_part(boost::json::string_view s, error_code&) {
    number.append(s.data(), s.size());
    return true;
  }
  bool on_int64(std::int64_t i, boost::json::string_view, error_code&) {
    number.clear();
    stack.push_int64(i);
    return true;
  }
  bool on_uint64(std::uint64_t u, boost::json::string_view, error_code&) {
    number.clear();
    stack.push_uint64(u);
    return true;
  }
  bool on_double(double, boost::json::string_view s, error_code&) {
    number.append(s.data(), s.size());
    stack.push_double(exact_double(number));
    number.clear();
    return true;
  }
  bool on_bool(bool b, error_code&) {
    stack.push_bool(b);
    return true;
  }
  bool on_null(error_code&) {
    stack.push_null();
    return true;
  }
  bool on_comment_part(boost::json::string_view, error_code&) { return true; }
  bool on_comment(boost::json::string_view, error_code&) { return true; }
};

boost::json::parse_options options(const JsonLimits& limits, bool allow_invalid_utf8 = false) {
  boost::json::parse_options options;
  options.max_depth = limits.max_depth;
  options.allow_invalid_utf8 = allow_invalid_utf8;
  return options;
}

// Bytes of `text` a strict parse accepts before failing; `ec` set when it fails.
template <class Parser>
std::size_t run(Parser& parser, std::string_view text, error_code& ec) {
  const std::size_t used = parser.write_some(false, text.data(), text.size(), ec);
  // write_some stops after one complete value: anything after it is not JSON.
  if (!ec && used != text.size()) ec = boost::json::error::extra_data;
  return used;
}

bool after_leading_surrogate_escape(std::string_view text, std::size_t offset) {
  if (offset < 6) return false;
  const std::string_view escape = text.substr(offset - 6, 6);
  return escape[0] == '\\' && escape[1] == 'u' && (escape[2] == 'd' || escape[2] == 'D') &&
         std::string_view("89abAB").find(escape[3]) != std::string_view::npos;
}

JsonParseError describe(std::string_view text, const JsonLimits& limits, error_code ec, std::size_t offset,
                        Exceeded exceeded) {
  const std::string at = " at byte " + std::to_string(offset);
  if (exceeded == Exceeded::kString) {
    return {JsonError::kStringTooLong,
            "Parse error: a string longer than max_json_string_bytes (" + std::to_string(limits.max_string_bytes) + ")" + at};
  }
  if (exceeded == Exceeded::kMembers) {
    return {JsonError::kTooManyMembers, "Parse error: an object or array with more than max_json_members (" +
                                            std::to_string(limits.max_members) + ")" + at};
  }
  using error = boost::json::error;
  if (ec == error::too_deep) {
    return {JsonError::kTooDeep,
            "Parse error: nested deeper than max_json_depth (" + std::to_string(limits.max_depth) + ")" + at};
  }
  if (ec == error::illegal_leading_surrogate || ec == error::illegal_trailing_surrogate ||
      ec == error::expected_utf16_escape || (ec == error::syntax && after_leading_surrogate_escape(text, offset))) {
    return {JsonError::kLoneSurrogate, "Parse error: a lone UTF-16 surrogate in a \\u escape" + at};
  }
  if (ec == error::syntax) {
    // Where a parse that tolerates bad UTF-8 gets further, the bytes were not UTF-8.
    boost::json::basic_parser<NullHandler> lenient(options(limits, true), limits);
    error_code lenient_ec;
    if (run(lenient, text, lenient_ec) > offset) return {JsonError::kInvalidUtf8, "Parse error: invalid UTF-8" + at};
  }
  return {JsonError::kSyntax, "Parse error: " + ec.message() + at};
}

}  // namespace

std::variant<json::value, JsonParseError> parse_json_text(std::string_view text, const JsonLimits& limits) {
  boost::json::basic_parser<TreeHandler> parser(options(limits), limits);
  error_code ec;
  const std::size_t used = run(parser, text, ec);
  if (ec) return describe(text, limits, ec, used, parser.handler().exceeded());
  return parser.handler().stack.release();
}

std::optional<JsonParseError> validate_json_text(std::string_view text, const JsonLimits& limits) {
  boost::json::basic_parser<NullHandler> parser(options(limits), limits);
  error_code ec;
  const std::size_t used = run(parser, text, ec);
  if (ec) return describe(text, limits, ec, used, parser.handler().exceeded());
  return std::nullopt;
}

// ---- Raw views. The text was accepted by a strict parse, so only value boundaries need finding. ----
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::size_t skip_space(std::string_view t, std::size_t i) {
  while (i < t.size() && is_space(t[i])) ++i;
  return i;
}

// One past the closing quote of the string starting at t[i] == '"'.
std::size_t skip_string(std::string_view t, std::size_t i) {
  for (++i; i < t.size(); ++i) {
    if (t[i] == '\\') {
      ++i;
    } else if (t[i] == '"') {
      return i + 1;
    }
  }
  return t.size();
}

// One past the end of the value starting at t[i].
std::size_t skip_value(std::string_view t, std::size_t i) {
  if (i >= t.size()) return t.size();
  if (t[i] == '"') return skip_string(t, i);
  if (t[i] == '{' || t[i] == '[') {
    std::size_t depth = 0;
    while (i < t.size()) {
      const char c = t[i];
      if (c == '"') {
        i = skip_string(t, i);
        continue;
      }
      if (c == '{' || c == '[') ++depth;
      if ((c == '}' || c == ']') && --depth == 0) return i + 1;
      ++i;
    }
    return t.size();
  }
  while (i < t.size() && !is_space(t[i]) && t[i] != ',' && t[i] != '}' && t[i] != ']') ++i;
  return i;
}

}  // namespace

std::string_view trim_json(std::string_view text) {
  const std::size_t begin = skip_space(text, 0);
  std::size_t end = text.size();
  while (end > begin && is_space(text[end - 1])) --end;
  return text.substr(begin, end - begin);
}

std::vector<RawMember> raw_members(std::string_view object_text) {
  std::vector<RawMember> members;
  const std::string_view t = object_text;
  std::size_t i = skip_space(t, 0);
  if (i >= t.size() || t[i] != '{') return members;
  i = skip_space(t, i + 1);
  while (i < t.size() && t[i] == '"') {
    const std::size_t key_end = skip_string(t, i);
    const std::string_view key = t.substr(i, key_end - i);
    i = skip_space(t, key_end);
    if (i >= t.size() || t[i] != ':') break;
    i = skip_space(t, i + 1);
    const std::size_t value_end = skip_value(t, i);
    members.push_back({key, t.substr(i, value_end - i)});
    i = skip_space(t, value_end);
    if (i >= t.size() || t[i] != ',') break;
    i = skip_space(t, i + 1);
  }
  return members;
}

std::vector<std::string_view> raw_elements(std::string_view array_text) {
  std::vector<std::string_view> elements;
  const std::string_view t = array_text;
  std::size_t i = skip_space(t, 0);
  if (i >= t.size() || t[i] != '[') return elements;
  i = skip_space(t, i + 1);
  while (i < t.size() && t[i] != ']') {
    const std::size_t end = skip_value(t, i);
    if (end == i) break;
    elements.push_back(t.substr(i, end - i));
    i = skip_space(t, end);
    if (i >= t.size() || t[i] != ',') break;
    i = skip_space(t, i + 1);
  }
  return elements;
}

bool raw_key_equals(std::string_view raw_key, std::string_view key) {
  if (raw_key.size() < 2) return false;
  const std::string_view inner = raw_key.substr(1, raw_key.size() - 2);
  if (inner.find('\\') == std::string_view::npos) return inner == key;
  // An escaped key ("\u0061rguments") means what it decodes to: let the parser decode it.
  error_code ec;
  const json::value decoded = json::parse(raw_key, ec);
  return !ec && decoded.is_string() && decoded.get_string() == key;
}

void append_raw_member(std::string& object, std::string_view raw_key, std::string_view raw_value) {
  if (object.size() > 1) object.push_back(',');
  object.append(raw_key).push_back(':');
  object.append(raw_value);
}

std::optional<std::string_view> raw_member(std::string_view object_text, std::string_view key) {
  std::optional<std::string_view> found;
  for (const RawMember& member : raw_members(object_text)) {
    if (raw_key_equals(member.key, key)) found = member.value;
  }
  return found;
}

}  // namespace sandgate
