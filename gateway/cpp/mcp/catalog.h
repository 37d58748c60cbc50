#pragma once
// The server's tools, resources, templates and prompts, loaded once, paged by opaque cursors.
#include <cstddef>
#include <string>
#include <string_view>
#include <variant>

#include "common/json.h"
#include "mcp/errors.h"

namespace sandgate::mcp {

enum class ListKind { kTools, kResources, kResourceTemplates, kPrompts };

class Catalog {
 public:
  // Throws std::invalid_argument when the text is not the expected shape.
  Catalog(std::string_view catalog_json, std::size_t page_size);

  // {"<items>": [...], "nextCursor"?: "..."}; kInvalidParams for a cursor we did not issue.
  std::variant<json::object, Fault> page(ListKind kind, const json::value* cursor) const;
  std::size_t count(ListKind kind) const;
  json::object capabilities() const;

 private:
  const json::array& items(ListKind kind) const;
  json::array tools_, resources_, templates_, prompts_;
  std::size_t page_size_;
};

std::string_view list_field(ListKind kind);
std::string encode_cursor(std::size_t offset);

}  // namespace sandgate::mcp
