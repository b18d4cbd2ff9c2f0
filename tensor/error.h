#pragma once
// One exception type for every error a user can cause (bad file, bad flag,
// wrong device) and for broken internal invariants. Apps catch mg::Error at
// the top and print e.what() as a single line before exiting non-zero.
#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace mg {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> f, Args&&... args) {
  throw Error(fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace mg

// MG_CHECK(cond, "format {}", args...) throws mg::Error naming the source line.
#define MG_CHECK(cond, ...)                                                      \
  do {                                                                           \
    if (!(cond)) ::mg::fail("{} ({}:{})", fmt::format(__VA_ARGS__), __FILE__, __LINE__); \
  } while (0)
