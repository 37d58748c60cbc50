// Mcp-Param-* fuzz target: a client sends an argument and its header, both its own. The input is split at the
// first newline into the arguments' JSON and the header's value; checking never crashes, and a header that
// carries a string argument exactly (plain or base64) always agrees.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "common/base64.h"
#include "mcp/param_headers.h"

namespace {

using namespace sandgate;
using namespace sandgate::mcp;

void require(bool condition) {
  if (!condition) std::abort();
}

const std::vector<ParamHeader>& params() {
  static const std::vector<ParamHeader> instance = param_headers_of(json::parse(
      R"({"properties":{"region":{"type":"string","x-mcp-header":"Region"},"n":{"type":"number","x-mcp-header":"N"}}})"),
      "fuzz");
  return instance;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t newline = input.find('\n');
  const std::string_view arguments_text = input.substr(0, newline);
  const std::string_view header = newline == std::string_view::npos ? std::string_view() : input.substr(newline + 1);
  boost::system::error_code ec;
  const json::value arguments = json::parse(arguments_text, ec);
  Headers headers;
  headers.add("mcp-param-region", header);
  headers.add("mcp-param-n", header);
  (void)check_param_headers(params(), ec ? nullptr : &arguments, headers);
  // The header as a client must write the string itself: always accepted.
  const std::string region(header);
  const json::value exact = json::object{{"region", region}};
  Headers carried;
  carried.add("mcp-param-region", "=?base64?" + encode_base64(region) + "?=");
  require(!check_param_headers(params(), &exact, carried).has_value());
  return 0;
}
