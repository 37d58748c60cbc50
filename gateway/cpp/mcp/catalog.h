#pragma once
// The server's tools, resources, templates and prompts, loaded once, paged by opaque cursors.
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "common/json.h"
#include "mcp/errors.h"
#include "mcp/param_headers.h"

namespace sandgate::mcp {

enum class ListKind { kTools, kResources, kResourceTemplates, kPrompts };

class Catalog {
 public:
  // Throws std::invalid_argument when the text is not the expected shape.
  Catalog(std::string_view catalog_json, std::size_t page_size);

  // Whether the caller may see the item at this index of its list (a policy's view); null: everything.
  using Keep = std::function<bool(std::size_t index)>;
  // {"<items>": [...], "nextCursor"?: "..."} as text; kInvalidParams for a cursor we did not issue. A cursor
  // is a position in the whole list, so a kept item is never skipped or repeated across pages.
  std::variant<std::string, Fault> page(ListKind kind, const json::value* cursor, const Keep& keep = nullptr) const;
  // The tool at `index` of the tools list, by name.
  const std::string& tool_name(std::size_t index) const { return tool_names_[index]; }
  std::size_t count(ListKind kind) const;
  // The arguments of `tool` its inputSchema mirrors into Mcp-Param-* headers; null when none (or no such tool).
  const std::vector<ParamHeader>* param_headers(std::string_view tool) const;
  json::object capabilities() const;

 private:
  // Each item as the catalog's text has it: schemas and their defaults go out as the module wrote them.
  using Items = std::vector<std::string>;
  const Items& items(ListKind kind) const;
  Items tools_, resources_, templates_, prompts_;
  std::vector<std::string> tool_names_;
  std::unordered_map<std::string, std::vector<ParamHeader>> param_headers_;  // only tools that have some
  std::size_t page_size_;
};

std::string_view list_field(ListKind kind);
std::string encode_cursor(std::size_t offset);

}  // namespace sandgate::mcp
