#pragma once
// Shared by the command-line fuzz targets: the input is the arguments, one a
// line (so seeds are plain text), after the program name.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace mg::fuzz {

// At most 64 arguments; longer inputs are cut.
inline std::vector<std::string> arguments(const char* program, const uint8_t* data, size_t size) {
  std::vector<std::string> args{program};
  std::string current;
  for (size_t i = 0; i < size && args.size() < 64; ++i) {
    if (data[i] == '\n') {
      args.push_back(current);
      current.clear();
    } else {
      current.push_back(static_cast<char>(data[i]));
    }
  }
  if (!current.empty() && args.size() < 64) args.push_back(current);
  return args;
}

inline std::vector<const char*> argv_of(const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  for (const std::string& a : args) argv.push_back(a.c_str());
  return argv;
}

}  // namespace mg::fuzz
