#pragma once
// The folder a run writes into, held for as long as the run lives:
//
//  - One run per folder. An advisory lock (flock) on OUT/run.lock, which holds
//    the owner's PID, is taken before anything else is written; a second run
//    on the same folder fails at once with an error naming the folder and the
//    other process. The kernel drops the lock when its process ends however it
//    ends, so the file a killed run leaves behind blocks nobody. The lock file
//    is removed when the run ends.
//  - Writable before the first step: a probe file is created, written,
//    fsynced and removed, so a read-only folder or a full disk is an error at
//    once instead of after an hour of training.
//  - Nothing left behind by a failed run: folders this run created are
//    removed again at the end when they are still empty.
//
// The files themselves are written by io/atomic_file.h, which never writes
// through a symbolic link.
#include <string>
#include <vector>

namespace mg::io {

class RunFolder {
 public:
  // Creates `dir` (and its parents) when absent, locks it and proves it
  // writable. `what` names the folder in errors ("--out", or a sentence).
  RunFolder(std::string dir, std::string what);
  ~RunFolder();
  RunFolder(const RunFolder&) = delete;
  RunFolder& operator=(const RunFolder&) = delete;

  const std::string& path() const { return dir_; }
  // OUT/run.lock, for messages and tests.
  std::string lock_path() const;

 private:
  // Unlocks (removing the lock file) and removes the folders this run made that are still empty.
  void release();
  std::string dir_, what_;
  int lock_fd_ = -1;
  std::vector<std::string> created_;  // folders this run made, deepest first
};

}  // namespace mg::io
