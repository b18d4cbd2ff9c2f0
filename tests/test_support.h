#pragma once
// Helpers shared by the test suites.
#include <cstdlib>
#include <filesystem>
#include <string>

namespace mg::test {

// ../shared/data beside the repository, or $MUSICGEN_DATA; empty when absent.
inline std::string shared_data_dir() {
  if (const char* env = std::getenv("MUSICGEN_DATA"); env && *env) {
    return std::filesystem::is_directory(env) ? std::string(env) : std::string();
  }
  std::filesystem::path p = std::filesystem::path(MUSICGEN_SOURCE_DIR) / ".." / "shared" / "data";
  return std::filesystem::is_directory(p) ? std::filesystem::weakly_canonical(p).string() : std::string();
}

// A fresh, empty scratch folder for one test under the build tree.
inline std::string scratch_dir(const std::string& name) {
  std::filesystem::path p = std::filesystem::path(MUSICGEN_BINARY_DIR) / "test-scratch" / name;
  std::filesystem::remove_all(p);
  std::filesystem::create_directories(p);
  return p.string();
}

}  // namespace mg::test
