#include "mcp/param_headers.h"

#include <algorithm>
#include <array>
#include <stdexcept>

#include "mcp/protocol.h"

namespace sandgate::mcp {
namespace {

constexpr std::string_view kHeaderPrefix = "mcp-param-";
constexpr std::array<std::string_view, 4> kPrimitiveTypes = {"string", "integer", "number", "boolean"};

// RFC 9110 tchar.
bool is_token(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return std::isalnum(u) != 0 || std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  });
}

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool primitive(const json::object& property) {
  const json::value* type = property.if_contains("type");
  return type != nullptr && type->is_string() &&
         std::find(kPrimitiveTypes.begin(), kPrimitiveTypes.end(), std::string_view(type->get_string())) !=
             kPrimitiveTypes.end();
}

Fault mismatch(std::string_view property, std::string_view why) {
  return Fault{Failure::kHeaderMismatch,
               "Header mismatch: the Mcp-Param header of argument '" + std::string(property) + "' " + std::string(why)};
}

// Whether a header's text carries the argument: a string as it is, a boolean as true/false, a number as any
// JSON spelling of the same value (a client writes 1.5 where the body may say 1.50).
bool carries(std::string_view text, const json::value& argument) {
  if (argument.is_string()) return text == argument.get_string();
  if (argument.is_bool()) return text == (argument.get_bool() ? "true" : "false");
  boost::system::error_code ec;
  const json::value number = json::parse(text, ec);
  if (ec || !number.is_number()) return false;
  if (number.is_double() || argument.is_double()) return number.to_number<double>(ec) == argument.to_number<double>(ec);
  if (number.is_int64() && argument.is_int64()) return number.get_int64() == argument.get_int64();
  if (number.is_uint64() && argument.is_uint64()) return number.get_uint64() == argument.get_uint64();
  return false;
}

}  // namespace

std::vector<ParamHeader> param_headers_of(const json::value& input_schema, std::string_view tool) {
  std::vector<ParamHeader> params;
  const json::object* schema = input_schema.if_object();
  const json::value* properties = schema != nullptr ? schema->if_contains("properties") : nullptr;
  if (properties == nullptr || !properties->is_object()) return params;
  for (const auto& [name, value] : properties->get_object()) {
    const json::object* property = value.if_object();
    const json::value* header = property != nullptr ? property->if_contains("x-mcp-header") : nullptr;
    if (header == nullptr) continue;
    const std::string where = "tool '" + std::string(tool) + "', argument '" + std::string(name) + "': ";
    if (!header->is_string() || !is_token(header->get_string())) {
      throw std::invalid_argument(where + "x-mcp-header must name an HTTP header (an RFC 9110 token)");
    }
    if (!primitive(*property)) {
      throw std::invalid_argument(where + "x-mcp-header needs a string, integer, number or boolean argument");
    }
    std::string lowered = std::string(kHeaderPrefix) + lower(header->get_string());
    if (std::any_of(params.begin(), params.end(), [&](const ParamHeader& p) { return p.header == lowered; })) {
      throw std::invalid_argument(where + "x-mcp-header '" + std::string(header->get_string()) + "' is used twice");
    }
    params.push_back(ParamHeader{std::string(name), std::move(lowered)});
  }
  return params;
}

std::optional<Fault> check_param_headers(const std::vector<ParamHeader>& params, const json::value* arguments,
                                         const Headers& headers) {
  const json::object* given = arguments != nullptr ? arguments->if_object() : nullptr;
  for (const ParamHeader& param : params) {
    const json::value* argument = given != nullptr ? given->if_contains(param.property) : nullptr;
    const bool expected = argument != nullptr && !argument->is_null();
    const std::size_t sent = headers.count(param.header);
    if (!expected) {
      if (sent != 0) return mismatch(param.property, "is sent without the argument");
      continue;
    }
    if (sent == 0) return mismatch(param.property, "is missing");
    if (sent > 1) return mismatch(param.property, "appears more than once");
    if (argument->is_object() || argument->is_array()) return mismatch(param.property, "cannot carry an object or array");
    std::optional<std::string> decoded = decode_header_value(*headers.find(param.header));
    if (!decoded) return mismatch(param.property, "is not valid base64 inside =?base64?...?=");
    if (!carries(*decoded, *argument)) return mismatch(param.property, "does not match the argument");
  }
  return std::nullopt;
}

}  // namespace sandgate::mcp
