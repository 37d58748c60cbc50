// SEP-2243 argument headers: which annotations a catalog may carry, and when a request's headers agree.
#include "mcp/param_headers.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace sandgate::mcp {
namespace {

std::vector<ParamHeader> of(std::string_view schema) { return param_headers_of(json::parse(schema), "deploy"); }

const std::vector<ParamHeader> kRegionAndCount = of(R"({"type":"object","properties":{
    "region":{"type":"string","x-mcp-header":"Region"},"count":{"type":"integer","x-mcp-header":"Count"},
    "dry":{"type":"boolean","x-mcp-header":"Dry-Run"},"note":{"type":"string"}}})");

std::optional<Fault> check(std::string_view arguments, std::vector<std::pair<std::string, std::string>> sent) {
  Headers headers;
  for (const auto& [name, value] : sent) headers.add(name, value);
  const json::value parsed = json::parse(arguments);
  return check_param_headers(kRegionAndCount, &parsed, headers);
}

TEST(ParamHeaders, AreReadFromTheToolsTopLevelProperties) {
  ASSERT_EQ(kRegionAndCount.size(), 3u);
  EXPECT_EQ(kRegionAndCount[0].property, "region");
  EXPECT_EQ(kRegionAndCount[0].header, "mcp-param-region");
  EXPECT_EQ(kRegionAndCount[2].header, "mcp-param-dry-run");
  EXPECT_TRUE(of(R"({"type":"object"})").empty());
  EXPECT_TRUE(of(R"({"type":"object","properties":{"a":{"type":"string"}}})").empty());
}

TEST(ParamHeaders, AMalformedAnnotationIsRefusedWhenTheCatalogLoads) {
  for (std::string_view schema : {
           R"({"properties":{"a":{"type":"string","x-mcp-header":"Bad Name"}}})",
           R"({"properties":{"a":{"type":"string","x-mcp-header":""}}})",
           R"({"properties":{"a":{"type":"string","x-mcp-header":7}}})",
           R"({"properties":{"a":{"type":"object","x-mcp-header":"A"}}})",
           R"({"properties":{"a":{"x-mcp-header":"A"}}})",
           R"({"properties":{"a":{"type":"string","x-mcp-header":"Same"},"b":{"type":"string","x-mcp-header":"same"}}})",
       }) {
    EXPECT_THROW(of(schema), std::invalid_argument) << schema;
  }
}

TEST(ParamHeaders, AgreeWhenEachPresentArgumentHasItsValueInItsHeader) {
  EXPECT_EQ(check(R"({"region":"eu-west","count":3,"dry":false})",
                  {{"mcp-param-region", "eu-west"}, {"mcp-param-count", "3"}, {"mcp-param-dry-run", "false"}}),
            std::nullopt);
  EXPECT_EQ(check(R"({"region":"Hello"})", {{"mcp-param-region", "=?base64?SGVsbG8=?=}"}}).has_value(), true);
  EXPECT_EQ(check(R"({"region":"Hello"})", {{"mcp-param-region", "=?base64?SGVsbG8=?="}}), std::nullopt);
  EXPECT_EQ(check(R"({"region":"SGVsbG8="})", {{"mcp-param-region", "SGVsbG8="}}), std::nullopt);  // a literal
  EXPECT_EQ(check(R"({"region":"=?base64?SGVsbG8="})", {{"mcp-param-region", "=?base64?SGVsbG8="}}), std::nullopt);
  EXPECT_EQ(check(R"({"region":null,"note":"x"})", {}), std::nullopt);  // absent or null: no header
  EXPECT_EQ(check(R"({})", {}), std::nullopt);
}

TEST(ParamHeaders, AMissingExtraRepeatedOrDifferentHeaderIsAMismatch) {
  for (const auto& [arguments, headers] : std::vector<std::pair<std::string, std::vector<std::pair<std::string, std::string>>>>{
           {R"({"region":"eu"})", {}},
           {R"({"region":"eu"})", {{"mcp-param-region", "us"}}},
           {R"({"region":"eu"})", {{"mcp-param-region", "eu"}, {"mcp-param-region", "eu"}}},
           {R"({})", {{"mcp-param-region", "eu"}}},
           {R"({"region":"Hello"})", {{"mcp-param-region", "=?base64?SGVsbG8?="}}},
           {R"({"region":"Hello"})", {{"mcp-param-region", "=?base64?SGVs!!!bG8=?="}}},
           {R"({"count":3})", {{"mcp-param-count", "4"}}},
           {R"({"count":3})", {{"mcp-param-count", "three"}}},
           {R"({"dry":true})", {{"mcp-param-dry-run", "1"}}},
           {R"({"region":{"a":1}})", {{"mcp-param-region", "{\"a\":1}"}}},
       }) {
    auto fault = check(arguments, headers);
    ASSERT_TRUE(fault.has_value()) << arguments;
    EXPECT_EQ(fault->kind, Failure::kHeaderMismatch) << arguments;
  }
}

TEST(ParamHeaders, ANumberMatchesAnySpellingOfItsValue) {
  const std::vector<ParamHeader> ratio = of(R"({"properties":{"r":{"type":"number","x-mcp-header":"Ratio"}}})");
  Headers headers;
  headers.add("mcp-param-ratio", "1.5");
  const json::value spelled = json::parse(R"({"r":1.50})");
  EXPECT_EQ(check_param_headers(ratio, &spelled, headers), std::nullopt);
  const json::value other = json::parse(R"({"r":2})");
  EXPECT_TRUE(check_param_headers(ratio, &other, headers).has_value());
}

}  // namespace
}  // namespace sandgate::mcp
