#include "mcp/outcome_facts.h"

#include <cmath>

#include "common/json.h"

namespace sandgate::mcp {
namespace {

double seconds(const json::object& facts, std::string_view key) {
  const json::value* value = facts.if_contains(key);
  if (value == nullptr || !value->is_number()) return -1;
  const double number = value->to_number<double>();
  return std::isfinite(number) && number >= 0 ? number : -1;
}

std::string text(const json::object& facts, std::string_view key) {
  const json::value* value = facts.if_contains(key);
  return value != nullptr && value->is_string() ? std::string(value->get_string()) : std::string();
}

}  // namespace

OutcomeFacts parse_outcome_facts(std::string_view facts_json) {
  OutcomeFacts facts;
  if (facts_json.empty()) return facts;  // an in-process call's: nothing to parse
  boost::system::error_code error;
  json::value parsed = json::parse(json::string_view(facts_json.data(), facts_json.size()), error);
  const json::object* object = error ? nullptr : parsed.if_object();
  if (object == nullptr) return facts;
  facts.reason = text(*object, "reason");
  facts.isolation = text(*object, "isolation");
  facts.duration_s = seconds(*object, "duration_s");
  facts.cpu_time_s = seconds(*object, "cpu_time_s");
  if (const json::value* peak = object->if_contains("peak_memory_bytes"); peak != nullptr && peak->is_int64() &&
                                                                          peak->get_int64() >= 0) {
    facts.peak_memory_bytes = peak->get_int64();
  }
  if (const json::value* sandbox = object->if_contains("sandbox"); sandbox != nullptr && sandbox->is_object()) {
    facts.sandbox_json = json::serialize(*sandbox);
  }
  return facts;
}

}  // namespace sandgate::mcp
