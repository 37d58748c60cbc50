#pragma once
// A rule's `args:` block: what each named argument of a tool call must be. The Python loader compiles the YAML into
// `{"<field>": {"enum"|"const"|"prefix"|"glob"|"notGlob"|"pattern"|"min"|"max"|"maxLength"|"hosts"|"cidrs": ...}}`;
// compile() checks and freezes it once at load, check() runs on every call (thread-safe, no shared mutable state).
//
// Fail closed: a constrained argument that is absent, of the wrong type, or unparsable fails its constraint.
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/json.h"

namespace sandgate::policy {

// A spec the policy loader must refuse. `code` is a stable slug: empty_field_name, bad_field_name,
// constraint_not_object, empty_constraint, unknown_constraint, bad_constraint_value, min_above_max, bad_pattern,
// glob_not_absolute, bad_glob, bad_host, bad_cidr.
struct CompileError {
  std::string field;
  std::string code;
  std::string message;
};

// The verdict on one call. On failure `field` names the first failing field (fields run sorted by name) and `reason`
// is a stable slug: argument_missing, type_mismatch, not_in_enum, not_const, no_prefix, path_traversal,
// path_not_absolute, glob_mismatch, glob_excluded, pattern_mismatch, below_min, above_max, too_long, bad_url,
// host_not_ascii, host_not_allowed.
struct ArgCheck {
  bool satisfied = true;
  std::string field;
  std::string reason;
};

class ArgConstraints {
 public:
  // `spec` maps an argument name ("a.b" names member b of object argument a) to its constraint object.
  static std::variant<ArgConstraints, CompileError> compile(const json::object& spec);

  // `arguments` is the tool call's `arguments`, any JSON value: a non-object has no arguments, so every constrained
  // field is argument_missing.
  ArgCheck check(const json::value& arguments) const;
  bool empty() const;

  ArgConstraints();  // no constraints: empty(), every check satisfied (as compile({}))
  ArgConstraints(const ArgConstraints&);
  ArgConstraints(ArgConstraints&&) noexcept;
  ArgConstraints& operator=(const ArgConstraints&);
  ArgConstraints& operator=(ArgConstraints&&) noexcept;
  ~ArgConstraints();

 private:
  struct Field;  // compiled constraints of one argument; immutable, regexes shared
  std::vector<Field> fields_;  // sorted by name
};

// Lexical normalization of an absolute path: repeated '/' collapse, "." segments drop, a trailing '/' drops.
// nullopt for a path that is not absolute, holds a NUL byte, or has a ".." segment (never resolved, always refused).
std::optional<std::string> normalize_path(std::string_view path);

// Segment-wise glob match of two absolute paths (empty and "." segments are skipped in both): `*` matches any run
// within one segment, `?` one code point other than '/', a whole `**` segment zero or more segments. Worst case
// O(|glob| x |path|), no backtracking blow-up. The caller rejects ".." and `[` beforehand (check() and compile() do).
bool glob_match(std::string_view glob, std::string_view path);

}  // namespace sandgate::policy
