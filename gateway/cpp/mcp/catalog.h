#pragma once
// The server's tools, resources, templates and prompts, loaded once, paged by opaque cursors.
#include <cstddef>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/json.h"
#include "mcp/errors.h"

namespace sandgate::mcp {

enum class ListKind { kTools, kResources, kResourceTemplates, kPrompts };

class Catalog {
 public:
  // Throws std::invalid_argument when the text is not the expected shape.
  Catalog(std::string_view catalog_json, std::size_t page_size);

  // {"<items>": [...], "nextCursor"?: "..."} as text; kInvalidParams for a cursor we did not issue.
  std::variant<std::string, Fault> page(ListKind kind, const json::value* cursor) const;
  std::size_t count(ListKind kind) const;
  json::object capabilities() const;

 private:
  // Each item as the catalog's text has it: schemas and their defaults go out as the module wrote them.
  using Items = std::vector<std::string>;
  const Items& items(ListKind kind) const;
  Items tools_, resources_, templates_, prompts_;
  std::size_t page_size_;
};

std::string_view list_field(ListKind kind);
std::string encode_cursor(std::size_t offset);

}  // namespace sandgate::mcp
