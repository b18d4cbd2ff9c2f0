#include "io/atomic_file.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>
#include <set>

#include "tensor/error.h"

namespace mg::io {

namespace fs = std::filesystem;

namespace {

const char* kind_of(mode_t mode) {
  if (S_ISDIR(mode)) return "a folder";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

// fsync of a file or folder by path; a read-only descriptor is enough on Linux.
void sync_path(const std::string& path, const std::string& what, bool folder) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | (folder ? O_DIRECTORY : 0));
  if (fd < 0) fail("{}: cannot open to sync: {}", what, std::strerror(errno));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  // Some file systems (and /proc-like ones) do not sync folders; that is not a write failure.
  if (rc != 0 && !(folder && (err == EINVAL || err == EROFS))) fail("{}: cannot sync: {}", what, std::strerror(err));
}

// A name "<anything>.tmp.<digits>"; returns the pid, or 0 when the name does not match.
pid_t temporary_owner(const std::string& name) {
  const size_t mark = name.rfind(".tmp.");
  if (mark == std::string::npos || mark == 0) return 0;
  const std::string digits = name.substr(mark + 5);
  if (digits.empty() || digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos) return 0;
  return static_cast<pid_t>(std::stol(digits));
}

bool process_exists(pid_t pid) { return ::kill(pid, 0) == 0 || errno != ESRCH; }

// What abandon_writes() removes: the temporary file of the write in progress and
// a few registered paths, as fixed buffers a signal handler can read without
// allocating. Writes happen on the main thread; the handler only reads.
constexpr size_t kAbandonSlots = 4, kPathBytes = 4096;
char g_in_progress[kPathBytes];
char g_abandon[kAbandonSlots][kPathBytes];

void set_slot(char* slot, const std::string& path) {
  slot[0] = '\0';
  if (path.size() + 1 > kPathBytes) return;  // too long to keep; the sweep removes it later
  std::memcpy(slot + 1, path.c_str(), path.size());
  slot[path.size() + 1] = '\0';
  slot[0] = '/';  // set last: a handler sees either nothing or the whole path
}

void clear_slot(char* slot) { slot[0] = '\0'; }

// Each folder is swept once per process: the first write into it.
void sweep_once(const std::string& dir) {
  static std::mutex mutex;
  static std::set<std::string> swept;
  std::lock_guard<std::mutex> lock(mutex);
  if (swept.insert(dir).second) remove_stale_temporaries(dir);
}

}  // namespace

namespace {
bool g_writes_disabled = false;
}  // namespace

void disable_writes(const std::string&) { g_writes_disabled = true; }
bool writes_disabled() { return g_writes_disabled; }

std::string output_target(const std::string& path) {
  if (path.empty()) fail("an output path is empty");
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) fail("{}: cannot write: {}", path, std::strerror(errno));
    return path;  // a new file
  }
  if (S_ISLNK(st.st_mode))
    fail("{}: is a symbolic link; outputs are never written through links (remove it or choose another path)", path);
  if (!S_ISREG(st.st_mode)) fail("{}: is {}; outputs are written only to regular files", path, kind_of(st.st_mode));
  return path;
}

void ensure_parent_dir(const std::string& path) {
  if (g_writes_disabled) return;
  const fs::path parent = fs::path(path).parent_path();
  if (parent.empty()) return;
  std::error_code ec;
  if (fs::is_directory(parent, ec)) return;
  fs::create_directories(parent, ec);
  if (ec) fail("{}: cannot create folder: {}", parent.string(), ec.message());
}

void check_output_folder(const std::string& dir, const std::string& what) {
  if (dir.empty()) fail("{}: the folder name is empty", what);
  std::error_code ec;
  const fs::file_status st = fs::status(dir, ec);
  if (fs::exists(st) && !fs::is_directory(st)) fail("{} {}: exists and is not a folder", what, dir);
}

void check_subfolder(const std::string& dir) {
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0) return;
  if (S_ISLNK(st.st_mode)) fail("{}: is a symbolic link; outputs are never written through links (remove it)", dir);
  if (!S_ISDIR(st.st_mode)) fail("{}: exists and is not a folder", dir);
}

void ensure_subfolder(const std::string& dir) {
  check_subfolder(dir);
  if (g_writes_disabled) return;
  std::error_code ec;
  if (fs::is_directory(dir, ec)) return;
  fs::create_directories(dir, ec);
  if (ec) fail("{}: cannot create folder: {}", dir, ec.message());
}

void register_abandon_path(const std::string& path) {
  for (char* slot : g_abandon)
    if (slot[0] == '\0') return set_slot(slot, path);
}

void unregister_abandon_path(const std::string& path) {
  for (char* slot : g_abandon)
    if (slot[0] != '\0' && path == slot + 1) clear_slot(slot);
}

void abandon_writes() noexcept {
  if (g_in_progress[0] != '\0') ::unlink(g_in_progress + 1);
  for (const char* slot : g_abandon)
    if (slot[0] != '\0') ::unlink(slot + 1);
}

void ensure_output_folder(const std::string& dir, const std::string& what) {
  check_output_folder(dir, what);
  if (g_writes_disabled) return;
  std::error_code ec;
  if (fs::is_directory(dir, ec)) return;
  fs::create_directories(dir, ec);
  if (ec) fail("{} {}: cannot create folder: {}", what, dir, ec.message());
}

size_t remove_stale_temporaries(const std::string& dir) {
  std::error_code ec;
  size_t removed = 0;
  for (fs::directory_iterator it(dir.empty() ? "." : dir, ec), end; !ec && it != end; it.increment(ec)) {
    const pid_t owner = temporary_owner(it->path().filename().string());
    if (owner <= 0 || owner == ::getpid() || process_exists(owner)) continue;
    std::error_code type_ec;
    if (!it->is_regular_file(type_ec) || it->is_symlink(type_ec)) continue;
    if (fs::remove(it->path(), type_ec)) ++removed;
  }
  return removed;
}

void write_file_atomic(const std::string& path, const std::function<void(const std::string&)>& write) {
  if (g_writes_disabled) return;
  ensure_parent_dir(path);
  const std::string target = output_target(path);
  const fs::path folder = fs::path(target).parent_path();
  const std::string folder_name = folder.empty() ? "." : folder.string();
  sweep_once(folder_name);
  const std::string tmp = target + ".tmp." + std::to_string(::getpid());
  ::unlink(tmp.c_str());  // never write through whatever a previous run left under this name
  // Created here, exclusively and not through a link, before the writer opens it by name.
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) fail("{}: cannot write: {}", path, std::strerror(errno));
  ::close(fd);
  set_slot(g_in_progress, tmp);
  try {
    write(tmp);
    sync_path(tmp, path, false);
  } catch (...) {
    std::remove(tmp.c_str());
    clear_slot(g_in_progress);
    throw;
  }
  if (std::rename(tmp.c_str(), target.c_str()) != 0) {
    const int err = errno;
    std::remove(tmp.c_str());
    clear_slot(g_in_progress);
    fail("{}: cannot write: {}", path, std::strerror(err));
  }
  clear_slot(g_in_progress);
  sync_path(folder_name, path, true);
}

void write_file_atomic(const std::string& path, const std::string& bytes) {
  write_file_atomic(path, [&](const std::string& tmp) {
    std::ofstream f(tmp, std::ios::binary);
    if (!f) fail("{}: cannot open for writing", path);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    f.flush();
    if (!f) fail("{}: write failed (disk full?)", path);
  });
}

OutputSet::~OutputSet() {
  for (const std::string& p : paths_) {
    std::error_code ec;
    fs::remove(p, ec);
  }
}

void OutputSet::add(const std::string& path) { paths_.push_back(path); }

}  // namespace mg::io
