#include "mcp/protocol.h"

#include <algorithm>

#include "common/base64.h"
#include "common/json.h"

namespace sandgate::mcp {

bool is_modern_version(std::string_view version) {
  return std::find(kModernVersions.begin(), kModernVersions.end(), version) != kModernVersions.end();
}

bool is_legacy_version(std::string_view version) {
  return std::find(kLegacyVersions.begin(), kLegacyVersions.end(), version) != kLegacyVersions.end();
}

std::string_view negotiate_legacy_version(std::string_view requested) {
  for (std::string_view v : kLegacyVersions) {
    if (v == requested) return v;
  }
  return kLegacyVersions.front();
}

std::string unsupported_version_data(std::string_view requested) {
  json::array supported;
  for (auto v : kModernVersions) supported.emplace_back(v);
  for (auto v : kLegacyVersions) supported.emplace_back(v);
  return json::serialize(json::object{{"supported", std::move(supported)}, {"requested", requested}});
}

std::optional<std::string> decode_header_value(std::string_view value) {
  constexpr std::string_view kPrefix = "=?base64?";
  constexpr std::string_view kSuffix = "?=";
  if (value.size() < kPrefix.size() + kSuffix.size() || value.substr(0, kPrefix.size()) != kPrefix ||
      value.substr(value.size() - kSuffix.size()) != kSuffix) {
    return std::string(value);
  }
  return decode_base64_canonical(value.substr(kPrefix.size(), value.size() - kPrefix.size() - kSuffix.size()));
}

bool is_valid_header_value(std::string_view value) {
  return std::all_of(value.begin(), value.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u == '\t' || (u >= 0x20 && u <= 0x7e);
  });
}

}  // namespace sandgate::mcp
