#pragma once
// The check every reader makes before opening a file: it must exist and be a
// regular file (or a link to one). Opening a FIFO or a device would block or
// read forever; a folder cannot be read at all.
#include <cstdint>
#include <string>

namespace mg::io {

// Size in bytes of the regular file at `path`; throws mg::Error
// "<path>: cannot read <kind>: ..." when it is missing or not a regular file.
uint64_t input_file_size(const std::string& path, const std::string& kind);

}  // namespace mg::io
