#include "mcp/request_context.h"

#include <algorithm>

namespace sandgate::mcp {

std::string_view transport_name(Transport transport) {
  switch (transport) {
    case Transport::kStreamableHttp: return "streamable_http";
    case Transport::kStdio: return "stdio";
  }
  return "unknown";
}

std::string_view peer_address(std::string_view peer) {
  if (!peer.empty() && peer.front() == '[') {
    const std::size_t close = peer.find(']');
    return close == std::string_view::npos ? peer : peer.substr(1, close - 1);
  }
  const std::size_t colon = peer.rfind(':');
  return colon == std::string_view::npos ? peer : peer.substr(0, colon);
}

void Headers::reserve(std::size_t fields, std::size_t bytes) {
  fields_.reserve(fields);
  text_.reserve(bytes);
}

void Headers::add(std::string_view name, std::string_view value) {
  Field field{text_.size(), name.size(), text_.size() + name.size(), value.size()};
  for (char c : name) text_.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
  text_.append(value);
  fields_.push_back(field);
}

std::optional<std::string_view> Headers::find(std::string_view lower_name) const {
  const std::string_view text(text_);
  for (const Field& field : fields_) {
    if (text.substr(field.name_at, field.name_size) == lower_name) return text.substr(field.value_at, field.value_size);
  }
  return std::nullopt;
}

std::size_t Headers::count(std::string_view lower_name) const {
  const std::string_view text(text_);
  return static_cast<std::size_t>(std::count_if(fields_.begin(), fields_.end(), [&](const Field& field) {
    return text.substr(field.name_at, field.name_size) == lower_name;
  }));
}

}  // namespace sandgate::mcp
