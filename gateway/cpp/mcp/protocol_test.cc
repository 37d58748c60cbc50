#include "mcp/protocol.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace sandgate::mcp {
namespace {

using namespace std::string_literals;

TEST(Versions, ModernAndLegacyAreDisjoint) {
  EXPECT_TRUE(is_modern_version("2026-07-28"));
  EXPECT_FALSE(is_legacy_version("2026-07-28"));
  for (std::string_view v : {"2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"}) {
    SCOPED_TRACE(v);
    EXPECT_TRUE(is_legacy_version(v));
    EXPECT_FALSE(is_modern_version(v));
  }
  for (std::string_view v : {"", "2026-07-27", "2026-07-28 ", "2025-11-24", "2024-11-5"}) {
    SCOPED_TRACE(v);
    EXPECT_FALSE(is_modern_version(v));
    EXPECT_FALSE(is_legacy_version(v));
  }
}

TEST(NegotiateLegacyVersion, AnswersTheRequestedVersionOrOurNewest) {
  struct Case {
    std::string_view requested, answered;
  };
  const Case cases[] = {
      {"2025-11-25", "2025-11-25"}, {"2025-06-18", "2025-06-18"}, {"2025-03-26", "2025-03-26"},
      {"2024-11-05", "2024-11-05"}, {"2026-07-28", "2025-11-25"},  // modern is not negotiable by initialize
      {"2025-06-19", "2025-11-25"}, {"2025-03-26 ", "2025-11-25"}, {"", "2025-11-25"},
      {"1999-01-01", "2025-11-25"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.requested);
    EXPECT_EQ(negotiate_legacy_version(c.requested), c.answered);
  }
  EXPECT_EQ(kLegacyVersions.front(), "2025-11-25");
}

TEST(DecodeHeaderValue, PlainValuesPassThrough) {
  for (std::string_view v : {"add", "", "weather/forecast", "=?base64?", "=?base64?=", "=?BASE64?YWRk?=", "?=", "a=?base64?YWRk?="}) {
    SCOPED_TRACE(v);
    EXPECT_EQ(decode_header_value(v), std::optional<std::string>(std::string(v)));
  }
}

TEST(DecodeHeaderValue, Base64SentinelCarriesUtf8) {
  EXPECT_EQ(decode_header_value("=?base64?SGVsbG8sIOS4lueVjA==?="), std::optional<std::string>("Hello, \xe4\xb8\x96\xe7\x95\x8c"));
  EXPECT_EQ(decode_header_value("=?base64?YWRk?="), std::optional<std::string>("add"));
  EXPECT_EQ(decode_header_value("=?base64?" "?="), std::optional<std::string>(""));
  EXPECT_EQ(decode_header_value("=?base64?AA==?="), std::optional<std::string>("\0"s));
}

TEST(DecodeHeaderValue, MalformedBase64IsRejected) {
  const std::string_view cases[] = {
      "=?base64?SGVsbG8sIOS4lueVjB==?=",  // non-zero padding bits: another spelling of the same bytes
      "=?base64?SGVsbG9=?=",
      "=?base64?YWRk=?=",                 // bad length
      "=?base64?YWR?=",
      "=?base64?YW*k?=",                  // outside the alphabet
      "=?base64?YW k?=",
      "=?base64?YW-k?=",                  // URL-safe alphabet is not accepted
      "=?base64?YWRk\n?=",
      "=?base64?====?=",
      "=?base64?A===?=",
      "=?base64?AA=A?=",
  };
  for (std::string_view v : cases) {
    SCOPED_TRACE(testing::PrintToString(std::string(v)));
    EXPECT_EQ(decode_header_value(v), std::nullopt);
  }
}

TEST(IsValidHeaderValue, VisibleAsciiSpaceAndTabOnly) {
  for (std::string v : {"add"s, ""s, " "s, "\t"s, "a b\tc"s, "~!\"#"s, "=?base64?SGVsbG8=?="s}) {
    SCOPED_TRACE(testing::PrintToString(v));
    EXPECT_TRUE(is_valid_header_value(v));
  }
  for (std::string v : {"a\nb"s, "a\rb"s, "\x7f"s, "\x1f"s, "\0"s, "caf\xc3\xa9"s, "\x80"s, "\xff"s}) {
    SCOPED_TRACE(testing::PrintToString(v));
    EXPECT_FALSE(is_valid_header_value(v));
  }
}

}  // namespace
}  // namespace sandgate::mcp
