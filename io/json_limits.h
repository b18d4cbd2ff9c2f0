#pragma once
// Limits on JSON read from files, checked by one linear scan before the text
// is parsed: a document nested 200,000 levels deep would otherwise exhaust the
// stack in any recursive code that touches it (copying, printing, comparing),
// and a huge one the memory.
#include <cstddef>
#include <string>
#include <string_view>

namespace mg::io {

struct JsonLimits {
  size_t max_bytes = 0;
  int max_depth = 0;  // arrays and objects nested inside each other
};

// Deepest nesting of arrays and objects in `text`, counting brackets outside
// strings (escapes inside strings are honoured). Does not validate the JSON.
int json_nesting_depth(std::string_view text);

// Throws mg::Error "<what>: ..." when text is longer or deeper than `limits`.
void check_json_limits(std::string_view text, const JsonLimits& limits, const std::string& what);

}  // namespace mg::io
