// Three small lexers live here (paths and globs, URL authorities, IP literals and CIDRs): each serves only the
// constraint of the same name.
#include "policy/arg_constraints.h"

#include <arpa/inet.h>
#include <re2/re2.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <compare>
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace sandgate::policy {
namespace {

constexpr std::size_t kEnd = std::string_view::npos;

std::string_view view(const json::string& s) { return {s.data(), s.size()}; }
std::string_view view(json::string_view s) { return {s.data(), s.size()}; }  // a key: never via a json::string
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// ---- Numbers and JSON equality --------------------------------------------------------------------------------

// Exact: the integer is never rounded to a double (2^53 + 1 is above 2^53), as Python compares int with float.
template <typename Int>
std::partial_ordering compare_integer_double(Int i, double d) {
  constexpr double kLow = std::is_signed_v<Int> ? -9223372036854775808.0 : 0.0;
  constexpr double kHigh = std::is_signed_v<Int> ? 9223372036854775808.0 : 18446744073709551616.0;
  if (std::isnan(d)) return std::partial_ordering::unordered;
  if (d < kLow) return std::partial_ordering::greater;
  if (d >= kHigh) return std::partial_ordering::less;
  const double whole = std::trunc(d);
  const Int w = static_cast<Int>(whole);
  if (i != w) return i <=> w;
  return whole <=> d;  // i == whole: a fraction of d decides
}

// Both must be numbers (int64, uint64 or double).
std::partial_ordering compare_numbers(const json::value& a, const json::value& b) {
  if (a.is_int64()) {
    const std::int64_t x = a.get_int64();
    if (b.is_int64()) return x <=> b.get_int64();
    if (b.is_uint64()) return x < 0 ? std::partial_ordering::less : static_cast<std::uint64_t>(x) <=> b.get_uint64();
    return compare_integer_double(x, b.get_double());
  }
  if (a.is_uint64()) {
    const std::uint64_t x = a.get_uint64();
    if (b.is_uint64()) return x <=> b.get_uint64();
    if (b.is_int64()) return b.get_int64() < 0 ? std::partial_ordering::greater : x <=> static_cast<std::uint64_t>(b.get_int64());
    return compare_integer_double(x, b.get_double());
  }
  if (b.is_double()) return a.get_double() <=> b.get_double();
  return 0 <=> compare_numbers(b, a);
}

// JSON equality: numbers by value whatever their representation, containers structurally, key order ignored.
bool json_equal(const json::value& a, const json::value& b) {
  if (a.is_number() && b.is_number()) return compare_numbers(a, b) == 0;
  if (a.kind() != b.kind()) return false;
  if (const json::array* x = a.if_array()) {
    const json::array& y = b.get_array();
    if (x->size() != y.size()) return false;
    for (std::size_t i = 0; i < x->size(); ++i) {
      if (!json_equal((*x)[i], y[i])) return false;
    }
    return true;
  }
  if (const json::object* x = a.if_object()) {
    const json::object& y = b.get_object();
    if (x->size() != y.size()) return false;
    for (const auto& [key, value] : *x) {
      const auto it = y.find(key);
      if (it == y.end() || !json_equal(value, it->value())) return false;
    }
    return true;
  }
  return a == b;  // null, bool, string
}

// ---- UTF-8 ----------------------------------------------------------------------------------------------------

// Bytes of the UTF-8 sequence at s[i] (lead byte plus its continuation bytes), 0 when none starts there.
std::size_t sequence_length(std::string_view s, std::size_t i) {
  const auto lead = static_cast<unsigned char>(s[i]);
  const std::size_t n = lead < 0x80 ? 1 : lead < 0xC0 ? 0 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : lead < 0xF8 ? 4 : 0;
  if (n == 0 || n > s.size() - i) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 0;
  }
  return n;
}

// Structurally well-formed (what the glob matcher's alignment needs); Boost.JSON's parser already checks more.
bool well_formed_utf8(std::string_view s) {
  for (std::size_t i = 0, n = 0; i < s.size(); i += n) {
    if ((n = sequence_length(s, i)) == 0) return false;
  }
  return true;
}

// A stray byte counts as one, so a run of continuation bytes cannot hide from maxLength.
std::uint64_t code_points(std::string_view s) {
  std::uint64_t count = 0;
  for (std::size_t i = 0; i < s.size(); ++count) i += std::max<std::size_t>(sequence_length(s, i), 1);
  return count;
}

// ---- Paths and globs ------------------------------------------------------------------------------------------

// Start of the first segment at or after `pos` that is neither empty nor ".", or s.size(). Walking segments this
// way is lexical normalization without building the normalized string.
std::size_t seek_segment(std::string_view s, std::size_t pos) {
  while (pos < s.size()) {
    if (s[pos] == '/' || (s[pos] == '.' && (pos + 1 == s.size() || s[pos + 1] == '/'))) {
      ++pos;
      continue;
    }
    return pos;
  }
  return s.size();
}

std::string_view segment_at(std::string_view s, std::size_t pos) {
  const std::size_t end = s.find('/', pos);
  return s.substr(pos, end == kEnd ? kEnd : end - pos);
}

std::size_t next_segment(std::string_view s, std::size_t pos) { return seek_segment(s, pos + segment_at(s, pos).size()); }

enum class PathProblem { kNone, kNul, kNotAbsolute, kTraversal };

PathProblem path_problem(std::string_view path) {
  if (path.find('\0') != kEnd) return PathProblem::kNul;
  if (path.empty() || path.front() != '/') return PathProblem::kNotAbsolute;
  for (std::size_t pos = seek_segment(path, 0); pos < path.size(); pos = next_segment(path, pos)) {
    if (segment_at(path, pos) == "..") return PathProblem::kTraversal;
  }
  return PathProblem::kNone;
}

// `*` and `?` within one segment. Greedy with a single backtrack point, the classic linear-space wildcard match:
// a later `*` subsumes every earlier one, so each (glob byte, name byte) pair is compared at most once. Both sides
// are well-formed UTF-8, which keeps `?` and the `*` retry on code point boundaries.
bool segment_match(std::string_view glob, std::string_view name) {
  std::size_t g = 0, n = 0, star_g = kEnd, star_n = 0;
  while (n < name.size()) {
    if (g < glob.size() && glob[g] == '*') {
      star_g = g++;
      star_n = n;
    } else if (g < glob.size() && glob[g] == '?') {
      ++g;
      n += std::max<std::size_t>(sequence_length(name, n), 1);  // always progress, whatever the input
    } else if (g < glob.size() && glob[g] == name[n]) {
      ++g;
      ++n;
    } else if (star_g != kEnd) {
      g = star_g + 1;
      star_n += std::max<std::size_t>(sequence_length(name, star_n), 1);
      n = star_n;
    } else {
      return false;
    }
  }
  while (g < glob.size() && glob[g] == '*') ++g;
  return g == glob.size();
}

// The same algorithm one level up: segments for characters, a `**` segment for `*`, segment_match for equality.
bool segments_match(std::string_view glob, std::string_view path) {
  std::size_t g = seek_segment(glob, 0), p = seek_segment(path, 0), star_g = kEnd, star_p = 0;
  while (p < path.size()) {
    if (g < glob.size() && segment_at(glob, g) == "**") {
      star_g = g;
      star_p = p;
      g = next_segment(glob, g);
    } else if (g < glob.size() && segment_match(segment_at(glob, g), segment_at(path, p))) {
      g = next_segment(glob, g);
      p = next_segment(path, p);
    } else if (star_g != kEnd) {
      g = next_segment(glob, star_g);
      star_p = next_segment(path, star_p);
      p = star_p;
    } else {
      return false;
    }
  }
  while (g < glob.size() && segment_at(glob, g) == "**") g = next_segment(glob, g);
  return g == glob.size();
}

// ---- IP literals, URLs, hosts ---------------------------------------------------------------------------------

// Dotted quad only, no leading zeros: "010.0.0.1" is octal to inet_aton and curl, so it is refused, not guessed.
std::optional<std::array<std::uint8_t, 4>> parse_ipv4(std::string_view text) {
  std::array<std::uint8_t, 4> bytes{};
  for (std::size_t part = 0; part < 4; ++part) {
    const std::size_t dot = text.find('.');
    if ((part < 3) == (dot == kEnd)) return std::nullopt;
    const std::string_view digits = text.substr(0, dot);
    if (digits.empty() || digits.size() > 3 || (digits.size() > 1 && digits[0] == '0')) return std::nullopt;
    unsigned value = 0;
    for (char c : digits) {
      if (!is_digit(c)) return std::nullopt;
      value = value * 10 + static_cast<unsigned>(c - '0');
    }
    if (value > 255) return std::nullopt;
    bytes[part] = static_cast<std::uint8_t>(value);
    text.remove_prefix(dot == kEnd ? text.size() : dot + 1);
  }
  return bytes;
}

std::optional<std::array<std::uint8_t, 16>> parse_ipv6(std::string_view text) {
  std::array<char, 64> buffer{};
  std::array<std::uint8_t, 16> bytes{};
  if (text.size() >= buffer.size() || text.find('\0') != kEnd) return std::nullopt;
  std::memcpy(buffer.data(), text.data(), text.size());
  if (inet_pton(AF_INET6, buffer.data(), bytes.data()) != 1) return std::nullopt;
  return bytes;
}

enum class HostKind { kName, kIpv4, kNotAscii, kBad };

// A host without brackets and without its trailing dot. Letters, digits, '-', '_' and '.' between non-empty labels;
// a last label that looks numeric ("1", "0x7f") must make the whole host a dotted quad, as WHATWG URL parsing would
// read it as an IPv4 address.
HostKind classify_host(std::string_view host, std::array<std::uint8_t, 4>& ipv4) {
  if (std::any_of(host.begin(), host.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; })) {
    return HostKind::kNotAscii;
  }
  if (host.empty() || host.front() == '.' || host.back() == '.' || host.find("..") != kEnd) return HostKind::kBad;
  for (char c : host) {
    if (!is_alpha(c) && !is_digit(c) && c != '-' && c != '_' && c != '.') return HostKind::kBad;
  }
  const std::string_view last = host.substr(host.rfind('.') + 1);
  const bool hex = last.size() >= 2 && last[0] == '0' && lower(last[1]) == 'x' &&
                   std::all_of(last.begin() + 2, last.end(), is_hex);
  if (!hex && !std::all_of(last.begin(), last.end(), is_digit)) return HostKind::kName;
  const auto bytes = parse_ipv4(host);
  if (!bytes) return HostKind::kBad;
  ipv4 = *bytes;
  return HostKind::kIpv4;
}

struct UrlHost {
  std::string_view host;  // brackets removed
  bool bracketed = false;
};

// The host of `scheme://[userinfo@]host[:port][/?#...]`, or the reason the URL is refused. Inputs that URL parsers
// disagree on (backslashes, whitespace, controls, two '@', an empty host) are refused rather than interpreted.
std::variant<UrlHost, const char*> url_host(std::string_view url) {
  constexpr const char* kBad = "bad_url";
  for (char c : url) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '\\' || byte <= 0x20 || byte == 0x7F) return kBad;
  }
  const std::size_t colon = url.find(':');
  if (colon == kEnd || colon == 0 || !is_alpha(url[0])) return kBad;
  for (char c : url.substr(0, colon)) {
    if (!is_alpha(c) && !is_digit(c) && c != '+' && c != '-' && c != '.') return kBad;
  }
  if (url.substr(colon + 1, 2) != "//") return kBad;
  const std::size_t start = colon + 3;
  const std::size_t end = url.find_first_of("/?#", start);
  std::string_view authority = url.substr(start, end == kEnd ? kEnd : end - start);
  if (const std::size_t at = authority.find('@'); at != kEnd) {
    if (authority.find('@', at + 1) != kEnd) return kBad;
    authority.remove_prefix(at + 1);  // userinfo: allowed, never matched
  }
  UrlHost result;
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == kEnd) return kBad;
    result = UrlHost{authority.substr(1, close - 1), true};
    port = authority.substr(close + 1);
  } else {
    const std::size_t port_colon = authority.find(':');
    result = UrlHost{authority.substr(0, port_colon), false};
    port = port_colon == kEnd ? std::string_view() : authority.substr(port_colon);
  }
  if (!port.empty()) {
    if (port.front() != ':' || port.size() < 2 || port.size() > 6) return kBad;
    unsigned number = 0;
    for (char c : port.substr(1)) {
      if (!is_digit(c)) return kBad;
      number = number * 10 + static_cast<unsigned>(c - '0');
    }
    if (number > 65535) return kBad;
  }
  if (result.host.empty()) return kBad;
  return result;
}

std::string_view strip_trailing_dot(std::string_view host) {
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  return host;
}

bool iequals(std::string_view host, std::string_view lowered) {
  return host.size() == lowered.size() &&
         std::equal(host.begin(), host.end(), lowered.begin(), [](char a, char b) { return lower(a) == b; });
}

bool prefix_equal(const std::uint8_t* a, const std::uint8_t* b, unsigned bits) {
  if (std::memcmp(a, b, bits / 8) != 0) return false;
  if (bits % 8 == 0) return true;
  const auto mask = static_cast<std::uint8_t>(0xFF << (8 - bits % 8));
  return ((a[bits / 8] ^ b[bits / 8]) & mask) == 0;
}

}  // namespace

// ---- Compiled constraints -------------------------------------------------------------------------------------

namespace {

struct Host {
  std::string name;  // lower case, no trailing dot, without the "*."
  bool any_subdomain = false;
};

struct Cidr {
  bool v6 = false;
  std::array<std::uint8_t, 16> bytes{};  // IPv4 in the first four
  unsigned bits = 0;
};

}  // namespace

struct ArgConstraints::Field {
  std::string name;
  std::vector<std::string> path;  // name split at '.'
  std::vector<json::value> one_of;
  std::optional<json::value> constant;
  std::vector<std::string> prefixes;
  std::vector<std::string> globs, not_globs;  // normalized
  std::shared_ptr<const re2::RE2> pattern;
  std::optional<json::value> min, max;
  std::optional<std::uint64_t> max_length;
  std::vector<Host> hosts;
  std::vector<Cidr> cidrs;

  std::optional<CompileError> compile(std::string_view field_name, const json::value& spec);
  const char* check(const json::value& argument) const;  // nullptr when satisfied
  const char* check_path(std::string_view text) const;
  const char* check_url(std::string_view text) const;
};

namespace {

using Problem = std::pair<const char*, std::string>;  // code, message

// A non-empty array of strings, or nullptr.
const json::array* string_list(const json::value& value) {
  const json::array* array = value.if_array();
  if (array == nullptr || array->empty()) return nullptr;
  return std::all_of(array->begin(), array->end(), [](const json::value& v) { return v.is_string(); }) ? array : nullptr;
}

std::variant<std::string, Problem> compile_glob(std::string_view glob) {
  if (glob.find_first_of("[]\\") != kEnd) {
    return Problem{"bad_glob", "'" + std::string(glob) + "': character classes and escapes are not supported"};
  }
  if (!well_formed_utf8(glob)) return Problem{"bad_glob", "a glob is not UTF-8"};
  // `**/*.pem` means at any depth, as authors write it: the same as `/**/*.pem`.
  const std::string anchored = glob.substr(0, 3) == "**/" || glob == "**" ? "/" + std::string(glob) : std::string(glob);
  switch (path_problem(anchored)) {
    case PathProblem::kNone: return *normalize_path(anchored);
    case PathProblem::kNotAbsolute:
      return Problem{"glob_not_absolute", "'" + std::string(glob) + "' must start with '/' or '**/'"};
    case PathProblem::kNul: return Problem{"bad_glob", "a glob holds a NUL byte"};
    case PathProblem::kTraversal: break;
  }
  return Problem{"bad_glob", "'" + std::string(glob) + "' has a '..' segment"};
}

std::variant<Host, Problem> compile_host(std::string_view text) {
  Host host;
  std::string_view name = text;
  if (name.substr(0, 2) == "*.") {
    host.any_subdomain = true;
    name.remove_prefix(2);
  }
  std::array<std::uint8_t, 4> ipv4{};
  const HostKind kind = classify_host(strip_trailing_dot(name), ipv4);
  if (kind == HostKind::kBad || kind == HostKind::kNotAscii || (kind == HostKind::kIpv4 && host.any_subdomain)) {
    return Problem{"bad_host", "'" + std::string(text) +
                                   "' is not an ASCII host name (letters, digits, '-', '_', '.'; punycode for IDNs; "
                                   "'*.' only in front; IPv6 belongs in cidrs)"};
  }
  for (char c : strip_trailing_dot(name)) host.name.push_back(lower(c));
  return host;
}

std::variant<Cidr, Problem> compile_cidr(std::string_view text) {
  const Problem bad{"bad_cidr", "'" + std::string(text) + "' is not an IPv4 or IPv6 CIDR such as 10.0.0.0/8"};
  Cidr cidr;
  const std::size_t slash = text.find('/');
  const std::string_view address = text.substr(0, slash);
  unsigned width = 32;
  if (address.find(':') != kEnd) {
    const auto bytes = parse_ipv6(address);
    if (!bytes) return bad;
    cidr = {true, *bytes, 128};
    width = 128;
  } else {
    const auto bytes = parse_ipv4(address);
    if (!bytes) return bad;
    std::copy(bytes->begin(), bytes->end(), cidr.bytes.begin());
    cidr.bits = 32;
  }
  if (slash != kEnd) {
    const std::string_view digits = text.substr(slash + 1);
    if (digits.empty() || digits.size() > 3 || (digits.size() > 1 && digits[0] == '0')) return bad;
    cidr.bits = 0;
    for (char c : digits) {
      if (!is_digit(c)) return bad;
      cidr.bits = cidr.bits * 10 + static_cast<unsigned>(c - '0');
    }
    if (cidr.bits > width) return bad;
  }
  for (unsigned bit = cidr.bits; bit < width; ++bit) {
    if (cidr.bytes[bit / 8] & (0x80 >> (bit % 8))) {
      return Problem{"bad_cidr", "'" + std::string(text) + "' has bits set past its prefix length"};
    }
  }
  return cidr;
}

// Copies each string of a list validated by string_list through `compile_one`; the first problem wins.
template <typename T, typename Compile>
std::optional<Problem> compile_list(const json::array& list, std::vector<T>& out, Compile compile_one) {
  for (const json::value& item : list) {
    auto compiled = compile_one(view(item.get_string()));
    if (Problem* problem = std::get_if<Problem>(&compiled)) return std::move(*problem);
    out.push_back(std::move(std::get<T>(compiled)));
  }
  return std::nullopt;
}

}  // namespace

std::optional<CompileError> ArgConstraints::Field::compile(std::string_view field_name, const json::value& spec) {
  name = std::string(field_name);
  auto error = [&](std::string code, std::string message) {
    return CompileError{name, std::move(code), std::move(message)};
  };
  if (name.empty()) return error("empty_field_name", "an argument name is empty");
  for (std::size_t start = 0;;) {
    const std::size_t dot = name.find('.', start);
    path.push_back(name.substr(start, dot == kEnd ? kEnd : dot - start));
    if (path.back().empty()) return error("bad_field_name", "'" + name + "' has an empty part between dots");
    if (dot == kEnd) break;
    start = dot + 1;
  }
  const json::object* object = spec.if_object();
  if (object == nullptr) return error("constraint_not_object", "the constraint on '" + name + "' must be an object");
  if (object->empty()) return error("empty_constraint", "the constraint on '" + name + "' names no condition");

  for (const auto& [json_key, value] : *object) {
    const std::string_view key = view(json_key);
    auto bad_value = [&](std::string_view what) {
      return error("bad_constraint_value", std::string(key) + " must be " + std::string(what));
    };
    const json::array* strings = string_list(value);
    std::optional<Problem> problem;
    if (key == "enum") {
      if (!value.is_array() || value.get_array().empty()) return bad_value("a non-empty array");
      one_of.assign(value.get_array().begin(), value.get_array().end());
    } else if (key == "const") {
      constant = value;
    } else if (key == "prefix") {
      if (strings == nullptr) return bad_value("a non-empty array of strings");
      for (const json::value& item : *strings) prefixes.emplace_back(view(item.get_string()));
    } else if (key == "glob" || key == "notGlob") {
      if (strings == nullptr) return bad_value("a non-empty array of strings");
      problem = compile_list(*strings, key == "glob" ? globs : not_globs, compile_glob);
    } else if (key == "pattern") {
      if (!value.is_string()) return bad_value("a string");
      re2::RE2::Options options;
      options.set_log_errors(false);
      options.set_never_capture(true);
      const std::string_view text = view(value.get_string());
      auto compiled = std::make_shared<const re2::RE2>(re2::StringPiece(text.data(), text.size()), options);
      if (!compiled->ok()) return error("bad_pattern", "pattern: " + compiled->error());
      pattern = std::move(compiled);
    } else if (key == "min" || key == "max") {
      if (!value.is_number() || (value.is_double() && !std::isfinite(value.get_double()))) return bad_value("a number");
      (key == "min" ? min : max) = value;
    } else if (key == "maxLength") {
      if (value.is_uint64()) max_length = value.get_uint64();
      else if (value.is_int64() && value.get_int64() >= 0) max_length = static_cast<std::uint64_t>(value.get_int64());
      else return bad_value("a non-negative integer");
    } else if (key == "hosts") {
      if (strings == nullptr) return bad_value("a non-empty array of strings");
      problem = compile_list(*strings, hosts, compile_host);
    } else if (key == "cidrs") {
      if (strings == nullptr) return bad_value("a non-empty array of strings");
      problem = compile_list(*strings, cidrs, compile_cidr);
    } else {
      return error("unknown_constraint", "unknown constraint '" + std::string(key) + "' on '" + name + "'");
    }
    if (problem) return error(problem->first, std::move(problem->second));
  }
  if (min && max && compare_numbers(*min, *max) > 0) return error("min_above_max", "min is greater than max");
  return std::nullopt;
}

const char* ArgConstraints::Field::check(const json::value& argument) const {
  if (!one_of.empty() &&
      std::none_of(one_of.begin(), one_of.end(), [&](const json::value& v) { return json_equal(argument, v); })) {
    return "not_in_enum";
  }
  if (constant && !json_equal(argument, *constant)) return "not_const";
  if (min || max) {
    if (!argument.is_number()) return "type_mismatch";
    if (min && !(compare_numbers(argument, *min) >= 0)) return "below_min";
    if (max && !(compare_numbers(argument, *max) <= 0)) return "above_max";
  }
  const bool wants_string = !prefixes.empty() || max_length || pattern || !globs.empty() || !not_globs.empty() ||
                            !hosts.empty() || !cidrs.empty();
  if (!wants_string) return nullptr;
  const json::string* string = argument.if_string();
  if (string == nullptr) return "type_mismatch";
  const std::string_view text = view(*string);
  if (!prefixes.empty() &&
      std::none_of(prefixes.begin(), prefixes.end(), [&](const std::string& p) { return text.starts_with(p); })) {
    return "no_prefix";
  }
  if (max_length && code_points(text) > *max_length) return "too_long";
  if (pattern && !re2::RE2::FullMatch(re2::StringPiece(text.data(), text.size()), *pattern)) return "pattern_mismatch";
  if (!globs.empty() || !not_globs.empty()) {
    if (const char* reason = check_path(text)) return reason;
  }
  if (!hosts.empty() || !cidrs.empty()) return check_url(text);
  return nullptr;
}

const char* ArgConstraints::Field::check_path(std::string_view text) const {
  if (!well_formed_utf8(text)) return "type_mismatch";  // not a JSON string; only a hand-built value gets here
  switch (path_problem(text)) {
    case PathProblem::kNone: break;
    case PathProblem::kNotAbsolute: return "path_not_absolute";
    case PathProblem::kNul:  // truncation at NUL is traversal by other means
    case PathProblem::kTraversal: return "path_traversal";
  }
  auto matches = [&](const std::string& glob) { return segments_match(glob, text); };
  if (!globs.empty() && std::none_of(globs.begin(), globs.end(), matches)) return "glob_mismatch";
  if (std::any_of(not_globs.begin(), not_globs.end(), matches)) return "glob_excluded";
  return nullptr;
}

const char* ArgConstraints::Field::check_url(std::string_view text) const {
  const auto parsed = url_host(text);
  if (const char* const* reason = std::get_if<const char*>(&parsed)) return *reason;
  const UrlHost& url = std::get<UrlHost>(parsed);
  if (url.bracketed) {  // an IPv6 literal: only cidrs can name it
    const auto bytes = parse_ipv6(url.host);
    if (!bytes) return "bad_url";
    for (const Cidr& cidr : cidrs) {
      if (cidr.v6 && prefix_equal(bytes->data(), cidr.bytes.data(), cidr.bits)) return nullptr;
    }
    return "host_not_allowed";
  }
  const std::string_view host = strip_trailing_dot(url.host);
  std::array<std::uint8_t, 4> ipv4{};
  const HostKind kind = classify_host(host, ipv4);
  if (kind == HostKind::kNotAscii) return "host_not_ascii";
  if (kind == HostKind::kBad) return "bad_url";
  for (const Host& allowed : hosts) {
    if (!allowed.any_subdomain ? iequals(host, allowed.name)
                               : host.size() > allowed.name.size() + 1 &&
                                     host[host.size() - allowed.name.size() - 1] == '.' &&
                                     iequals(host.substr(host.size() - allowed.name.size()), allowed.name)) {
      return nullptr;
    }
  }
  if (kind == HostKind::kIpv4) {
    for (const Cidr& cidr : cidrs) {
      if (!cidr.v6 && prefix_equal(ipv4.data(), cidr.bytes.data(), cidr.bits)) return nullptr;
    }
  }
  return "host_not_allowed";
}

ArgConstraints::ArgConstraints() = default;
ArgConstraints::ArgConstraints(const ArgConstraints&) = default;
ArgConstraints::ArgConstraints(ArgConstraints&&) noexcept = default;
ArgConstraints& ArgConstraints::operator=(const ArgConstraints&) = default;
ArgConstraints& ArgConstraints::operator=(ArgConstraints&&) noexcept = default;
ArgConstraints::~ArgConstraints() = default;

bool ArgConstraints::empty() const { return fields_.empty(); }

std::variant<ArgConstraints, CompileError> ArgConstraints::compile(const json::object& spec) {
  std::vector<std::string_view> names;
  names.reserve(spec.size());
  for (const auto& member : spec) names.push_back(view(member.key()));
  std::sort(names.begin(), names.end());
  ArgConstraints compiled;
  compiled.fields_.reserve(names.size());
  for (std::string_view name : names) {
    Field field;
    if (auto error = field.compile(name, spec.at(json::string_view(name.data(), name.size())))) return std::move(*error);
    compiled.fields_.push_back(std::move(field));
  }
  return compiled;
}

ArgCheck ArgConstraints::check(const json::value& arguments) const {
  for (const Field& field : fields_) {
    const json::value* argument = &arguments;
    for (const std::string& part : field.path) {
      const json::object* object = argument->if_object();
      if (object == nullptr || (argument = object->if_contains(part)) == nullptr) {
        argument = nullptr;
        break;
      }
    }
    const char* reason = argument == nullptr ? "argument_missing" : field.check(*argument);
    if (reason != nullptr) return ArgCheck{false, field.name, reason};
  }
  return ArgCheck{};
}

std::optional<std::string> normalize_path(std::string_view path) {
  if (path_problem(path) != PathProblem::kNone) return std::nullopt;
  std::string normalized;
  normalized.reserve(path.size());
  for (std::size_t pos = seek_segment(path, 0); pos < path.size(); pos = next_segment(path, pos)) {
    normalized.push_back('/');
    normalized.append(segment_at(path, pos));
  }
  if (normalized.empty()) normalized = "/";
  return normalized;
}

bool glob_match(std::string_view glob, std::string_view path) {
  return well_formed_utf8(glob) && well_formed_utf8(path) && segments_match(glob, path);
}

}  // namespace sandgate::policy
