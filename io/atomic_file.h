#pragma once
// Crash-safe output files. Every file musicgen writes goes through here:
//
//  - Only regular files are written. A path that names a folder, a device, a
//    FIFO or a socket is refused with an error naming it (so `--out /dev/full`
//    cannot replace the device node with a file).
//  - A symbolic link is written through: the file it points to is replaced and
//    the link itself stays. A link whose target does not exist is refused.
//  - The new content goes to a temporary file beside the target,
//    "<name>.tmp.<pid>", which is fsynced, renamed over the target, and then
//    the folder is fsynced, so a crash or a power loss leaves either the old
//    file or the new one, never a torn one.
//  - Temporary files "*.tmp.<pid>" left in a folder by processes that no
//    longer run (killed in the middle of a write) are removed the first time a
//    process writes into that folder.
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace mg::io {

// The file a write to `path` replaces: path itself, or the final target of a
// symbolic link. Throws mg::Error naming path when it is not a regular file
// (or a link to one), when a link dangles, or when its folder is not a folder.
std::string output_target(const std::string& path);

// Calls write(tmp_path), then renames tmp_path over output_target(path). If
// write throws, the temporary file is removed and the exception propagates;
// the target is untouched.
void write_file_atomic(const std::string& path, const std::function<void(const std::string& tmp_path)>& write);

// Convenience: atomically write a byte string.
void write_file_atomic(const std::string& path, const std::string& bytes);

// Creates the parent folder of path if it does not exist (error names the folder).
void ensure_parent_dir(const std::string& path);

// An error naming `what` (a flag such as "--out") and dir when dir exists but
// is not a folder (or a link to one). Creates nothing, so a command can check
// its outputs before it starts and create them only once it has succeeded.
void check_output_folder(const std::string& dir, const std::string& what);

// check_output_folder, then creates dir and its parents if needed.
void ensure_output_folder(const std::string& dir, const std::string& what);

// Removes "<name>.tmp.<pid>" regular files in `dir` whose process no longer
// exists; returns how many were removed.
size_t remove_stale_temporaries(const std::string& dir);

// The outputs of one command, kept only together: each file is recorded with
// add() once written; if the command fails before keep(), the destructor
// removes every recorded file, so a failed command leaves no partial set
// (a MIDI file without the WAV that was asked for, say).
class OutputSet {
 public:
  OutputSet() = default;
  OutputSet(const OutputSet&) = delete;
  OutputSet& operator=(const OutputSet&) = delete;
  ~OutputSet();
  void add(const std::string& path);
  void keep() { paths_.clear(); }

 private:
  std::vector<std::string> paths_;
};

}  // namespace mg::io
