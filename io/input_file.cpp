#include "io/input_file.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "tensor/error.h"

namespace mg::io {

uint64_t input_file_size(const std::string& path, const std::string& kind) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) fail("{}: cannot read {}: {}", path, kind, std::strerror(errno));
  if (S_ISDIR(st.st_mode)) fail("{}: cannot read {}: it is a folder", path, kind);
  if (!S_ISREG(st.st_mode)) fail("{}: cannot read {}: not a regular file", path, kind);
  return static_cast<uint64_t>(st.st_size);
}

}  // namespace mg::io
