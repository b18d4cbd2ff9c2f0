#pragma once
// Crash-safe output: write to a temporary file beside the target, then
// rename() over it. A crash or an exception leaves either the old file or the
// new one, never a torn one.
#include <filesystem>
#include <functional>
#include <string>

namespace mg::io {

// Calls write(tmp_path), then renames tmp_path to path. If write throws, the
// temporary file is removed and the exception propagates; path is untouched.
void write_file_atomic(const std::string& path, const std::function<void(const std::string& tmp_path)>& write);

// Convenience: atomically write a byte string.
void write_file_atomic(const std::string& path, const std::string& bytes);

// Creates the parent folder of path if it does not exist (error names the folder).
void ensure_parent_dir(const std::string& path);

}  // namespace mg::io
