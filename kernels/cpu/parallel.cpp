// The thread pool behind run_tasks (see parallel.h for why it exists).
//
// One job at a time: the caller publishes a Job on the stack, bumps the
// generation counter (waking sleeping workers only if there are any), claims
// tasks itself, then waits until every task is done and no worker still holds
// a pointer to the job.
#include "kernels/cpu/parallel.h"

#include "tensor/backend.h"
#include "tensor/error.h"

#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <climits>
#include <exception>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define MG_CPU_RELAX() _mm_pause()
#else
#define MG_CPU_RELAX() std::this_thread::yield()
#endif

namespace mg::cpu {

namespace {

// How long an idle thread keeps polling before it sleeps. Long enough to
// bridge the gap between two kernels of one training step, short enough that
// a core taken by another process is given back almost at once.
constexpr auto kSpin = std::chrono::microseconds(50);

// Sleeping and waking through the futex system call directly: a sleeper
// blocks only while *word == expected, so a wake-up between its check and
// its sleep is never lost.
void futex_wait(const std::atomic<uint32_t>& word, uint32_t expected) {
  syscall(SYS_futex, reinterpret_cast<const uint32_t*>(&word), FUTEX_WAIT_PRIVATE, expected, nullptr, nullptr, 0);
}
void futex_wake_all(const std::atomic<uint32_t>& word) {
  syscall(SYS_futex, reinterpret_cast<const uint32_t*>(&word), FUTEX_WAKE_PRIVATE, INT_MAX, nullptr, nullptr, 0);
}
static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t));

struct Job {
  Job(TaskRef t, int64_t n) : task(t), ntasks(n) {}
  TaskRef task;
  int64_t ntasks;
  std::atomic<int64_t> next{0};
  std::atomic<uint32_t> done{0};  // tasks finished (ntasks < 2^31 is checked)
  std::atomic<uint32_t> caller_sleeping{0};
  // The first exception a task threw; the caller rethrows it. Tasks not yet
  // started when it happened are skipped.
  std::atomic<bool> failed{false};
  std::mutex error_mutex;
  std::exception_ptr error;

  // Claims and runs tasks until none are left.
  void work() {
    for (int64_t i = next.fetch_add(1, std::memory_order_relaxed); i < ntasks;
         i = next.fetch_add(1, std::memory_order_relaxed)) {
      if (!failed.load(std::memory_order_relaxed)) {
        try {
          task(i);
        } catch (...) {
          std::lock_guard<std::mutex> lock(error_mutex);
          if (!error) error = std::current_exception();
          failed.store(true, std::memory_order_relaxed);
        }
      }
      const uint32_t finished = done.fetch_add(1, std::memory_order_seq_cst) + 1;
      if (finished == static_cast<uint32_t>(ntasks) && caller_sleeping.load(std::memory_order_seq_cst)) futex_wake_all(done);
    }
  }
};

// Polls `ready` for kSpin, then sleeps on `word` until it differs from `seen`.
template <typename Ready>
void spin_then_wait(const std::atomic<uint32_t>& word, uint32_t seen, Ready&& ready,
                    std::atomic<uint32_t>* sleepers = nullptr) {
  const auto until = std::chrono::steady_clock::now() + kSpin;
  for (int i = 1;; ++i) {
    if (ready()) return;
    MG_CPU_RELAX();
    if ((i & 63) == 0 && std::chrono::steady_clock::now() > until) break;
  }
  while (!ready()) {
    if (sleepers) sleepers->fetch_add(1, std::memory_order_seq_cst);
    if (!ready()) futex_wait(word, seen);
    if (sleepers) sleepers->fetch_sub(1, std::memory_order_seq_cst);
    seen = word.load(std::memory_order_acquire);
  }
}

thread_local bool t_inside_task = false;

class Pool {
 public:
  ~Pool() { stop_workers(); }

  int threads() const { return threads_; }

  void set_threads(int n) {
    std::lock_guard<std::mutex> lock(mutex_);
    n = n <= 0 ? available_cpus() : n;
    if (n == threads_) return;
    stop_workers();
    threads_ = n;
  }

  void run(int64_t ntasks, TaskRef task) {
    if (ntasks <= 0) return;
    MG_CHECK(ntasks < (int64_t{1} << 31), "run_tasks: {} tasks is too many", ntasks);
    if (t_inside_task || threads_ == 1 || ntasks == 1) {
      run_serial(ntasks, task);
      return;
    }
    std::lock_guard<std::mutex> lock(mutex_);  // one job at a time
    start_workers();
    dispatches_.fetch_add(1, std::memory_order_relaxed);
    Job job(task, ntasks);
    current_.store(&job, std::memory_order_seq_cst);
    generation_.fetch_add(1, std::memory_order_seq_cst);
    if (sleepers_.load(std::memory_order_seq_cst) > 0) futex_wake_all(generation_);

    t_inside_task = true;
    job.work();
    t_inside_task = false;

    // Wait for tasks other threads still run; sleep if it takes long, so a
    // descheduled worker can have this core.
    auto all_done = [&] { return job.done.load(std::memory_order_acquire) == static_cast<uint32_t>(ntasks); };
    const auto until = std::chrono::steady_clock::now() + kSpin;
    for (int i = 1; !all_done(); ++i) {
      MG_CPU_RELAX();
      if ((i & 63) == 0 && std::chrono::steady_clock::now() > until) {
        job.caller_sleeping.store(1, std::memory_order_seq_cst);
        for (uint32_t d = job.done.load(std::memory_order_acquire); d != static_cast<uint32_t>(ntasks);
             d = job.done.load(std::memory_order_acquire))
          futex_wait(job.done, d);
        break;
      }
    }
    // No worker may still be reading `job` when it goes out of scope.
    current_.store(nullptr, std::memory_order_seq_cst);
    for (int i = 1; inside_.load(std::memory_order_seq_cst) != 0; ++i) {
      if (i < 1024) MG_CPU_RELAX();
      else std::this_thread::yield();
    }
    if (job.error) std::rethrow_exception(job.error);
  }

  int64_t dispatches() const { return dispatches_.load(std::memory_order_relaxed); }

 private:
  static void run_serial(int64_t ntasks, TaskRef task) {
    const bool outer = t_inside_task;
    t_inside_task = true;
    try {
      for (int64_t i = 0; i < ntasks; ++i) task(i);
    } catch (...) {
      t_inside_task = outer;
      throw;
    }
    t_inside_task = outer;
  }

  void start_workers() {
    if (!workers_.empty() || threads_ <= 1) return;
    stopping_.store(false);
    // Each worker starts from the generation of this moment, so a job or a
    // stop published before the thread gets to run is not missed.
    const uint32_t now = generation_.load(std::memory_order_seq_cst);
    for (int i = 1; i < threads_; ++i) workers_.emplace_back([this, now] { worker_loop(now); });
  }

  void stop_workers() {
    if (workers_.empty()) return;
    stopping_.store(true, std::memory_order_seq_cst);
    generation_.fetch_add(1, std::memory_order_seq_cst);
    futex_wake_all(generation_);
    for (auto& w : workers_) w.join();
    workers_.clear();
  }

  void worker_loop(uint32_t seen) {
    t_inside_task = true;  // a task's own parallel calls run serially
    for (;;) {
      spin_then_wait(
          generation_, seen, [&] { return generation_.load(std::memory_order_acquire) != seen; }, &sleepers_);
      seen = generation_.load(std::memory_order_acquire);
      if (stopping_.load(std::memory_order_acquire)) return;
      inside_.fetch_add(1, std::memory_order_seq_cst);
      if (Job* job = current_.load(std::memory_order_seq_cst)) job->work();
      inside_.fetch_sub(1, std::memory_order_seq_cst);
    }
  }

  std::mutex mutex_;
  int threads_ = available_cpus();
  std::vector<std::thread> workers_;
  std::atomic<uint32_t> generation_{0};
  std::atomic<uint32_t> sleepers_{0};
  std::atomic<int> inside_{0};
  std::atomic<Job*> current_{nullptr};
  std::atomic<bool> stopping_{false};
  std::atomic<int64_t> dispatches_{0};
};

Pool& pool() {
  static Pool p;
  return p;
}

}  // namespace

int available_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

int num_threads() { return pool().threads(); }
void set_num_threads(int n) { pool().set_threads(n); }
int64_t parallel_dispatches() { return pool().dispatches(); }

void run_tasks(int64_t ntasks, TaskRef task) { pool().run(ntasks, task); }

}  // namespace mg::cpu

namespace mg {
void set_cpu_threads(int n) { cpu::set_num_threads(n); }
int cpu_threads() { return cpu::num_threads(); }
}  // namespace mg
