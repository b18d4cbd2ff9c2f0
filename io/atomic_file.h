#pragma once
// Crash-safe output files. Every file musicgen writes goes through here:
//
//  - Only regular files are written. A path that names a folder, a device, a
//    FIFO or a socket is refused with an error naming it (so `--out /dev/full`
//    cannot replace the device node with a file).
//  - A symbolic link is never written through: a path that is a link is
//    refused with an error naming it, so a link planted in an output folder
//    cannot make a run replace a file elsewhere. The temporary file is created
//    with O_EXCL | O_NOFOLLOW, so a link cannot take its place either.
//  - The new content goes to a temporary file beside the target,
//    "<name>.tmp.<pid>", which is fsynced, renamed over the target, and then
//    the folder is fsynced, so a crash or a power loss leaves either the old
//    file or the new one, never a torn one.
//  - Temporary files "*.tmp.<pid>" left in a folder by processes that no
//    longer run (killed in the middle of a write) are removed the first time a
//    process writes into that folder. A process that must end at once (a
//    second Ctrl-C) calls abandon_writes() first, which removes the temporary
//    file being written now, so not even that is left behind.
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace mg::io {

// Checks that a write may replace `path`: it does not exist yet or is a
// regular file. Throws mg::Error naming path when it is a symbolic link, a
// folder, a device, a FIFO or a socket. Returns path.
std::string output_target(const std::string& path);

// Calls write(tmp_path), then renames tmp_path over path (checked by
// output_target). If write throws, the temporary file is removed and the
// exception propagates; the target is untouched.
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

// A folder inside an output folder (OUT/epochs): an mg::Error naming it when
// it is a symbolic link or not a folder, so that nothing is written through a
// link into another place. ensure_subfolder then creates it when absent.
void check_subfolder(const std::string& dir);
void ensure_subfolder(const std::string& dir);

// Files to remove if the process must end at once: at most a few paths (a run
// lock), registered by their owner and removed by abandon_writes().
void register_abandon_path(const std::string& path);
void unregister_abandon_path(const std::string& path);

// One writer per job: a process that must write nothing (a rank other than 0
// of a distributed run, models/distributed.h) disables writes, after which
// write_file_atomic, the ensure_* folder functions and RunFolder do nothing,
// so that process leaves no file, folder or lock behind. `why` is for logs.
void disable_writes(const std::string& why);
bool writes_disabled();

// Removes the temporary file of the write in progress, if any, and the
// registered paths. Async-signal-safe (unlink only), for a signal handler
// that is about to call _exit().
void abandon_writes() noexcept;

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
