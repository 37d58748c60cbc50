#pragma once
// Protocol revisions and the few wire constants both eras share.
#include <array>
#include <optional>
#include <string>
#include <string_view>

namespace sandgate::mcp {

enum class Era { kModern, kLegacy };

inline constexpr std::string_view kModernVersion = "2026-07-28";
inline constexpr std::array<std::string_view, 1> kModernVersions = {kModernVersion};
// Newest first: the first one is offered when a client asks for a version we do not speak.
inline constexpr std::array<std::string_view, 4> kLegacyVersions = {"2025-11-25", "2025-06-18",
                                                                    "2025-03-26", "2024-11-05"};
// What a legacy request without MCP-Protocol-Version is taken to speak (the spec's fallback).
inline constexpr std::string_view kLegacyDefaultVersion = "2025-03-26";
// Only this revision allowed JSON-RPC batches.
inline constexpr std::string_view kBatchVersion = "2025-03-26";

inline constexpr std::string_view kMetaProtocolVersion = "io.modelcontextprotocol/protocolVersion";
inline constexpr std::string_view kMetaClientCapabilities = "io.modelcontextprotocol/clientCapabilities";
inline constexpr std::string_view kMetaClientInfo = "io.modelcontextprotocol/clientInfo";
inline constexpr std::string_view kMetaServerInfo = "io.modelcontextprotocol/serverInfo";

bool is_modern_version(std::string_view version);
bool is_legacy_version(std::string_view version);

// The legacy version answered to `initialize`: the requested one if we speak it, else our newest.
std::string_view negotiate_legacy_version(std::string_view requested);

// The `data` of an unsupported-version error: every version spoken here, and what was asked for.
std::string unsupported_version_data(std::string_view requested);

// Mcp-Name / Mcp-Param-* values may carry UTF-8 as `=?base64?...?=`; nullopt when that is malformed.
std::optional<std::string> decode_header_value(std::string_view value);

// RFC 9110 field-value characters: visible ASCII, space and tab.
bool is_valid_header_value(std::string_view value);

}  // namespace sandgate::mcp
