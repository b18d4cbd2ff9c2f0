#include "io/json_limits.h"

#include <algorithm>

#include "tensor/error.h"

namespace mg::io {

int json_nesting_depth(std::string_view text) {
  int depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    switch (c) {
      case '"': in_string = true; break;
      case '[': case '{': deepest = std::max(deepest, ++depth); break;
      case ']': case '}': depth = std::max(0, depth - 1); break;
      default: break;
    }
  }
  return deepest;
}

void check_json_limits(std::string_view text, const JsonLimits& limits, const std::string& what) {
  if (text.size() > limits.max_bytes)
    fail("{}: {} bytes of JSON, more than the limit of {}", what, text.size(), limits.max_bytes);
  if (const int depth = json_nesting_depth(text); depth > limits.max_depth)
    fail("{}: JSON nested {} levels deep, more than the limit of {}", what, depth, limits.max_depth);
}

}  // namespace mg::io
