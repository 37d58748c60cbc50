// Argument-constraint fuzz target. Every input is used three ways:
//  - split at its first newline into (a, b): normalize_path(a) yields a canonical, idempotent path; glob_match(a, b)
//    agrees with a quadratic dynamic-programming reference; a checked as a URL against fixed hosts/cidrs passes only
//    when it is free of backslashes, whitespace and controls;
//  - as JSON {"spec": {...}, "arguments": ...}: compile never throws and reports a known code, and check is
//    deterministic, agrees with a copy, and reports a known reason on a constrained field.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/arg_constraints.h"

namespace {

using namespace sandgate;
using namespace sandgate::policy;

// A broken invariant must stop the fuzzer (and fail the replay), so it aborts rather than throws.
void require(bool condition) {
  if (!condition) std::abort();
}

constexpr std::array<std::string_view, 12> kCompileCodes = {
    "empty_field_name", "bad_field_name", "constraint_not_object", "empty_constraint", "unknown_constraint",
    "bad_constraint_value", "min_above_max", "bad_pattern", "glob_not_absolute", "bad_glob", "bad_host", "bad_cidr"};
constexpr std::array<std::string_view, 16> kReasons = {
    "argument_missing", "type_mismatch", "not_in_enum", "not_const", "no_prefix", "path_traversal",
    "path_not_absolute", "glob_mismatch", "glob_excluded", "pattern_mismatch", "below_min", "above_max",
    "too_long", "bad_url", "host_not_ascii", "host_not_allowed"};

template <std::size_t N>
bool known(const std::array<std::string_view, N>& codes, std::string_view code) {
  return std::find(codes.begin(), codes.end(), code) != codes.end();
}

// Code points of well-formed UTF-8, or nothing when it is not.
std::optional<std::vector<std::string_view>> code_points(std::string_view s) {
  std::vector<std::string_view> out;
  for (std::size_t i = 0; i < s.size();) {
    const auto lead = static_cast<unsigned char>(s[i]);
    const std::size_t n = lead < 0x80 ? 1 : lead < 0xC0 ? 0 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : lead < 0xF8 ? 4 : 0;
    if (n == 0 || n > s.size() - i) return std::nullopt;
    for (std::size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return std::nullopt;
    }
    out.push_back(s.substr(i, n));
    i += n;
  }
  return out;
}

// Segments after lexical normalization: empty and "." segments dropped.
std::vector<std::string_view> segments(std::string_view path) {
  std::vector<std::string_view> out;
  for (std::size_t start = 0; start <= path.size();) {
    const std::size_t end = std::min(path.find('/', start), path.size());
    const std::string_view segment = path.substr(start, end - start);
    if (!segment.empty() && segment != ".") out.push_back(segment);
    start = end + 1;
  }
  return out;
}

using Units = std::vector<std::string_view>;

// reach[j]: the glob units so far match the first j code points of the name; `reach`, `next` are scratch buffers.
bool reference_segment(const Units& g, const Units& n, std::vector<char>& reach, std::vector<char>& next) {
  reach.assign(n.size() + 1, 0);
  reach[0] = 1;
  for (const std::string_view unit : g) {
    next.assign(n.size() + 1, 0);
    for (std::size_t j = 0; j <= n.size(); ++j) {
      if (unit == "*") next[j] = reach[j] || (j > 0 && next[j - 1]);
      else if (j > 0 && reach[j - 1] && (unit == "?" || unit == n[j - 1])) next[j] = 1;
    }
    reach.swap(next);
  }
  return reach[n.size()] != 0;
}

// The same dynamic programme over segments, `**` for `*`. Quadratic, never exponential, and obviously right.
bool reference_glob(std::string_view glob, std::string_view path) {
  std::vector<Units> g, p;
  for (const std::string_view segment : segments(glob)) g.push_back(*code_points(segment));
  for (const std::string_view segment : segments(path)) p.push_back(*code_points(segment));
  const Units double_star = {"*", "*"};
  std::vector<char> reach(p.size() + 1, 0), next(p.size() + 1, 0), scratch_a, scratch_b;
  reach[0] = 1;
  for (const Units& segment : g) {
    std::fill(next.begin(), next.end(), 0);
    for (std::size_t j = 0; j <= p.size(); ++j) {
      if (segment == double_star) next[j] = reach[j] || (j > 0 && next[j - 1]);
      else if (j > 0 && reach[j - 1] && reference_segment(segment, p[j - 1], scratch_a, scratch_b)) next[j] = 1;
    }
    reach.swap(next);
  }
  return reach[p.size()] != 0;
}

void check_path(std::string_view a, std::string_view b) {
  if (const auto normalized = normalize_path(a)) {
    require(normalized->front() == '/' && normalized->find("//") == std::string::npos);
    require(*normalized == "/" || normalized->back() != '/');
    require(normalize_path(*normalized) == normalized);
    require(segments(*normalized) == segments(a));
    if (code_points(a)) {
      require(glob_match("/**", *normalized));
      if (a.find_first_of("*?") == std::string_view::npos) require(glob_match(*normalized, a));
    }
  }
  if (code_points(a) && code_points(b)) {
    require(glob_match(a, b) == reference_glob(a, b));
  } else {
    require(!glob_match(a, b));
  }
}

void check_url(std::string_view url) {
  const json::object spec = json::parse(R"({"u":{"hosts":["api.github.com","*.example.com"],
                                                  "cidrs":["10.0.0.0/8","2001:db8::/32"]}})").as_object();
  const auto compiled = ArgConstraints::compile(spec);
  const ArgCheck result = std::get<ArgConstraints>(compiled).check(json::object{{"u", json::string(url.data(), url.size())}});
  if (!result.satisfied) {
    require(result.field == "u" && known(kReasons, result.reason));
    return;
  }
  require(url.find("://") != std::string_view::npos);
  require(std::none_of(url.begin(), url.end(), [](char c) {
    return c == '\\' || static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) == 0x7F;
  }));
}

void check_spec(std::string_view text) {
  boost::system::error_code error;
  const json::value document = json::parse(json::string_view(text.data(), text.size()), error);
  const json::object* root = error ? nullptr : document.if_object();
  const json::value* spec = root == nullptr ? nullptr : root->if_contains("spec");
  if (spec == nullptr || !spec->is_object()) return;
  auto compiled = ArgConstraints::compile(spec->get_object());
  if (const CompileError* failure = std::get_if<CompileError>(&compiled)) {
    require(known(kCompileCodes, failure->code) && !failure->message.empty());
    require(spec->get_object().contains(failure->field));
    return;
  }
  const ArgConstraints& constraints = std::get<ArgConstraints>(compiled);
  require(constraints.empty() == spec->get_object().empty());
  const json::value* arguments = root->if_contains("arguments");
  const json::value& checked = arguments == nullptr ? document : *arguments;
  const ArgCheck first = constraints.check(checked);
  const ArgCheck again = ArgConstraints(constraints).check(checked);
  require(first.satisfied == again.satisfied && first.field == again.field && first.reason == again.reason);
  if (first.satisfied) {
    require(first.field.empty() && first.reason.empty());
  } else {
    require(known(kReasons, first.reason) && spec->get_object().contains(first.field));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::size_t newline = text.find('\n');
  const std::string_view a = text.substr(0, newline);
  const std::string_view b = newline == std::string_view::npos ? std::string_view() : text.substr(newline + 1);
  check_path(a, b);
  check_url(a);
  check_spec(text);
  return 0;
}
