#include "mcp/catalog.h"

#include <algorithm>
#include <charconv>
#include <optional>
#include <stdexcept>

#include "common/base64.h"
#include "mcp/dispatcher.h"
#include "mcp/jsonrpc.h"

namespace sandgate::mcp {
namespace {

constexpr std::string_view kCursorPrefix = "sg1:";
// The catalog comes from the facade (checked there when a sandbox sent it); these only keep the parse bounded.
constexpr JsonLimits kCatalogLimits{256, std::size_t(-1), std::size_t(-1)};

std::vector<std::string> take_items(std::string_view root_text, const json::object& root, std::string_view key) {
  const json::value* v = root.if_contains(key);
  if (v == nullptr) return {};
  if (!v->is_array()) throw std::invalid_argument("catalog field '" + std::string(key) + "' must be an array");
  std::vector<std::string> items;
  const std::optional<std::string_view> raw = raw_member(root_text, key);
  for (std::string_view item : raw_elements(raw.value_or("[]"))) items.emplace_back(item);
  if (items.size() != v->get_array().size()) throw std::invalid_argument("catalog field '" + std::string(key) + "' is unreadable");
  return items;
}

std::optional<std::size_t> decode_cursor(std::string_view cursor) {
  auto raw = decode_base64_canonical(cursor);
  if (!raw || raw->rfind(kCursorPrefix, 0) != 0) return std::nullopt;
  std::size_t offset = 0;
  const char* begin = raw->data() + kCursorPrefix.size();
  const char* end = raw->data() + raw->size();
  auto [ptr, ec] = std::from_chars(begin, end, offset);
  if (ec != std::errc() || ptr != end || begin == end) return std::nullopt;
  return offset;
}

}  // namespace

std::string_view invocation_method(InvocationKind kind) {
  switch (kind) {
    case InvocationKind::kToolCall: return "tools/call";
    case InvocationKind::kResourceRead: return "resources/read";
    case InvocationKind::kPromptGet: return "prompts/get";
    case InvocationKind::kCompletion: return "completion/complete";
  }
  return "";
}

std::string_view list_field(ListKind kind) {
  switch (kind) {
    case ListKind::kTools: return "tools";
    case ListKind::kResources: return "resources";
    case ListKind::kResourceTemplates: return "resourceTemplates";
    case ListKind::kPrompts: return "prompts";
  }
  return "";
}

std::string encode_cursor(std::size_t offset) {
  return encode_base64(std::string(kCursorPrefix) + std::to_string(offset));
}

Catalog::Catalog(std::string_view catalog_json, std::size_t page_size) : page_size_(page_size == 0 ? 1 : page_size) {
  auto parsed = parse_json(catalog_json, kCatalogLimits);
  if (auto* fault = std::get_if<Fault>(&parsed)) throw std::invalid_argument("catalog is not valid JSON: " + fault->message);
  const json::object* root = std::get<json::value>(parsed).if_object();
  if (root == nullptr) throw std::invalid_argument("catalog must be a JSON object");
  tools_ = take_items(catalog_json, *root, "tools");
  if (const json::value* tools = root->if_contains("tools")) {
    for (const json::value& tool : tools->get_array()) {
      const json::value* name = tool.is_object() ? tool.get_object().if_contains("name") : nullptr;
      tool_names_.emplace_back(name != nullptr && name->is_string() ? std::string(name->get_string()) : std::string());
      const json::value* schema = tool.is_object() ? tool.get_object().if_contains("inputSchema") : nullptr;
      if (schema == nullptr) continue;
      std::vector<ParamHeader> params = param_headers_of(*schema, tool_names_.back());
      if (!params.empty()) param_headers_.emplace(tool_names_.back(), std::move(params));
    }
  }
  resources_ = take_items(catalog_json, *root, "resources");
  templates_ = take_items(catalog_json, *root, "resourceTemplates");
  prompts_ = take_items(catalog_json, *root, "prompts");
}

const Catalog::Items& Catalog::items(ListKind kind) const {
  switch (kind) {
    case ListKind::kTools: return tools_;
    case ListKind::kResources: return resources_;
    case ListKind::kResourceTemplates: return templates_;
    case ListKind::kPrompts: return prompts_;
  }
  return tools_;
}

std::size_t Catalog::count(ListKind kind) const { return items(kind).size(); }

std::variant<std::string, Fault> Catalog::page(ListKind kind, const json::value* cursor, const Keep& keep) const {
  const Items& all = items(kind);
  std::size_t offset = 0;
  if (cursor != nullptr && !cursor->is_null()) {
    std::optional<std::size_t> decoded;
    if (cursor->is_string()) decoded = decode_cursor(cursor->get_string());
    if (!decoded || *decoded > all.size()) return Fault{Failure::kInvalidParams, "Invalid cursor"};
    offset = *decoded;
  }
  std::string result = "{\"";
  result.append(list_field(kind)).append("\":[");
  std::size_t taken = 0;
  std::size_t next = offset;
  for (; next < all.size() && taken < page_size_; ++next) {
    if (keep && !keep(next)) continue;
    result.append(taken++ == 0 ? "" : ",").append(all[next]);
  }
  while (keep && next < all.size() && !keep(next)) ++next;  // no cursor to a page of nothing
  result.push_back(']');
  if (next < all.size()) result.append(R"(,"nextCursor":")").append(encode_cursor(next)).push_back('"');
  result.push_back('}');
  return result;
}

const std::vector<ParamHeader>* Catalog::param_headers(std::string_view tool) const {
  if (param_headers_.empty()) return nullptr;  // the common catalog: no modern call pays for a lookup
  auto it = param_headers_.find(std::string(tool));
  return it == param_headers_.end() ? nullptr : &it->second;
}

json::object Catalog::capabilities() const {
  // All three are always advertised: an empty list is a better answer than "method not found". A policy reload
  // changes who sees which tools, and a module may announce changes and resource updates (mcp/subscriptions.h).
  json::object caps;
  caps.emplace("tools", json::object{{"listChanged", true}});
  caps.emplace("resources", json::object{{"subscribe", true}, {"listChanged", true}});
  caps.emplace("prompts", json::object{{"listChanged", true}});
  // Every prompt argument and template variable may be completed: by the module's handler, or from its type.
  caps.emplace("completions", json::object{});
  return caps;
}

}  // namespace sandgate::mcp
