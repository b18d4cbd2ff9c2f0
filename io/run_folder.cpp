#include "io/run_folder.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>

#include "io/atomic_file.h"
#include "tensor/error.h"

namespace mg::io {

namespace fs = std::filesystem;

namespace {

constexpr const char* kLockName = "run.lock";

// The PID written in a lock file, or "" when it holds none.
std::string pid_in(int fd) {
  char buf[32] = {};
  const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  std::string text(buf, n > 0 ? static_cast<size_t>(n) : 0);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text.find_first_not_of("0123456789") == std::string::npos ? text : std::string();
}

}  // namespace

RunFolder::RunFolder(std::string dir, std::string what) : dir_(std::move(dir)), what_(std::move(what)) {
  check_output_folder(dir_, what_);
  if (writes_disabled()) return;  // a rank other than 0: rank 0 holds the folder
  // The folders to create, outermost last, so the destructor can take back exactly these.
  for (fs::path p = fs::path(dir_); !p.empty() && !fs::exists(fs::symlink_status(p)); p = p.parent_path()) {
    created_.push_back(p.string());
    if (p == p.parent_path()) break;
  }
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) {
    created_.clear();
    fail("{} {}: cannot create folder: {}", what_, dir_, ec.message());
  }

  // The lock. A lock file unlinked by its last owner between our open and our
  // flock is not the folder's lock any more: open the path again until the
  // file locked is the one the path names.
  const std::string lock = lock_path();
  for (int attempt = 0; attempt < 100 && lock_fd_ < 0; ++attempt) {
    const int fd = ::open(lock.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) {
      const int err = errno;
      release();
      if (err == ELOOP) fail("{}: is a symbolic link; outputs are never written through links (remove it)", lock);
      fail("{} {}: cannot write into the folder: {}", what_, dir_, std::strerror(err));
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      const std::string pid = pid_in(fd);
      ::close(fd);
      release();
      fail("{} {}: another run{} is writing into this folder; wait for it to end or choose another folder", what_,
           dir_, pid.empty() ? "" : " (PID " + pid + ")");
    }
    struct stat held {}, named {};
    if (::fstat(fd, &held) == 0 && ::lstat(lock.c_str(), &named) == 0 && held.st_ino == named.st_ino &&
        held.st_dev == named.st_dev) {
      lock_fd_ = fd;
    } else {
      ::close(fd);
    }
  }
  if (lock_fd_ < 0) {
    release();
    fail("{} {}: cannot take the folder's lock ({})", what_, dir_, lock);
  }
  register_abandon_path(lock);
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(lock_fd_, 0) != 0 || ::pwrite(lock_fd_, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    const int err = errno;
    release();
    fail("{} {}: cannot write into the folder: {}", what_, dir_, std::strerror(err));
  }

  // The probe: what every later write needs (create, write, sync, remove) done once now. A process that must
  // end at once in the middle of it (a second signal) removes it too.
  const std::string probe = (fs::path(dir_) / (".write-probe." + std::to_string(::getpid()))).string();
  register_abandon_path(probe);
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  int err = fd < 0 ? errno : 0;
  if (fd >= 0) {
    if (::write(fd, "probe\n", 6) != 6 || ::fsync(fd) != 0) err = errno == 0 ? EIO : errno;
    ::close(fd);
    if (::unlink(probe.c_str()) != 0 && err == 0) err = errno;
  }
  unregister_abandon_path(probe);
  if (err != 0) {
    release();
    fail("{} {}: cannot write into the folder: {}", what_, dir_, std::strerror(err));
  }
}

RunFolder::~RunFolder() { release(); }

void RunFolder::release() {
  if (lock_fd_ >= 0) {
    const std::string lock = lock_path();
    unregister_abandon_path(lock);
    ::unlink(lock.c_str());  // before the lock goes: a run that opened this file sees it unlinked and retries
    ::close(lock_fd_);
    lock_fd_ = -1;
  }
  for (const std::string& d : created_) {
    std::error_code ec;
    if (!fs::is_empty(d, ec) || ec) break;
    fs::remove(d, ec);
  }
  created_.clear();
}

std::string RunFolder::lock_path() const { return (fs::path(dir_) / kLockName).string(); }

}  // namespace mg::io
