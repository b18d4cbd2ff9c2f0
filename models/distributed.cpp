#include "models/distributed.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "autograd/graph.h"
#include "io/atomic_file.h"
#include "models/stop_request.h"
#include "tensor/error.h"
#include "tensor/rng.h"

#if MUSICGEN_WITH_NCCL
#include "models/distributed_nccl.h"
#endif

#if MUSICGEN_WITH_MPI
// The C interface only (Open MPI and MPICH would otherwise pull in their C++ bindings).
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>
#endif

namespace mg::nn::dist {

namespace {

Communicator& mutable_world() {
  static Communicator c;
  return c;
}

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}

// The ranks of this job as the launcher states them (Open MPI, then PMIx/PMI).
int launcher_size() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "PMI_SIZE"})
    if (const int n = env_int(name, 0); n > 0) return n;
  return 0;
}

#if MUSICGEN_WITH_MPI
// An MPI error as one line naming the collective and the rank.
void check(int rc, const char* call, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, text, &len);
  fail("{} of {} failed on rank {} of {}: {}", call, what, world().rank(), world().size(), std::string(text, len));
}
#endif

}  // namespace

bool built_with_mpi() { return MUSICGEN_WITH_MPI != 0; }

const Communicator& world() { return mutable_world(); }

bool launched_by_mpirun() { return launcher_size() > 1; }

Session::Session() {
  if (!launched_by_mpirun()) return;
#if MUSICGEN_WITH_MPI
  int provided = 0;
  if (MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
    fail("MPI_Init failed: this process was started by mpirun with {} ranks", launcher_size());
  started_ = true;
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  Communicator& c = mutable_world();
  MPI_Comm_rank(MPI_COMM_WORLD, &c.rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &c.size_);
  MPI_Comm local;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, c.rank_, MPI_INFO_NULL, &local);
  MPI_Comm_rank(local, &c.local_rank_);
  MPI_Comm_free(&local);
  if (c.rank_ != 0) {
    // One writer: the other ranks print nothing on stdout and write no files; their errors still reach stderr.
    if (!std::freopen("/dev/null", "w", stdout)) fail("rank {}: cannot silence stdout", c.rank_);
    mg::io::disable_writes(fmt::format("rank {} of {} writes nothing; rank 0 writes the run's files", c.rank_, c.size_));
    StopRequest::silence();
  }
#else
  fail("this build has no MPI, but mpirun started it as one of {} ranks; install libopenmpi-dev "
       "(scripts/install-deps.sh) and rebuild, or run without mpirun",
       launcher_size());
#endif
}

Session::~Session() = default;

void Session::finish() {
#if MUSICGEN_WITH_MPI
  if (started_) {
    started_ = false;
    MPI_Finalize();
  }
#endif
}

void Communicator::all_reduce_sum(float* data, size_t n, const char* what) const {
  if (size_ == 1 || n == 0) return;
#if MUSICGEN_WITH_MPI
  check(MPI_Allreduce(MPI_IN_PLACE, data, static_cast<int>(n), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce",
        what);
#endif
}

void Communicator::all_reduce_sum(double* data, size_t n, const char* what) const {
  if (size_ == 1 || n == 0) return;
#if MUSICGEN_WITH_MPI
  check(MPI_Allreduce(MPI_IN_PLACE, data, static_cast<int>(n), MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce",
        what);
#endif
}

int64_t Communicator::all_reduce_max(int64_t value, const char* what) const {
  if (size_ == 1) return value;
#if MUSICGEN_WITH_MPI
  check(MPI_Allreduce(MPI_IN_PLACE, &value, 1, MPI_INT64_T, MPI_MAX, MPI_COMM_WORLD), "MPI_Allreduce", what);
#endif
  return value;
}

std::vector<std::string> Communicator::all_gather(const std::string& s, const char* what) const {
  if (size_ == 1) return {s};
  std::vector<std::string> out(static_cast<size_t>(size_));
#if MUSICGEN_WITH_MPI
  int len = static_cast<int>(s.size());
  std::vector<int> lens(static_cast<size_t>(size_)), offsets(static_cast<size_t>(size_));
  check(MPI_Allgather(&len, 1, MPI_INT, lens.data(), 1, MPI_INT, MPI_COMM_WORLD), "MPI_Allgather", what);
  int total = 0;
  for (int r = 0; r < size_; ++r) {
    offsets[static_cast<size_t>(r)] = total;
    total += lens[static_cast<size_t>(r)];
  }
  std::string all(static_cast<size_t>(total), '\0');
  check(MPI_Allgatherv(s.data(), len, MPI_CHAR, all.data(), lens.data(), offsets.data(), MPI_CHAR, MPI_COMM_WORLD),
        "MPI_Allgatherv", what);
  for (int r = 0; r < size_; ++r)
    out[static_cast<size_t>(r)] = all.substr(static_cast<size_t>(offsets[static_cast<size_t>(r)]),
                                             static_cast<size_t>(lens[static_cast<size_t>(r)]));
#endif
  return out;
}

void Communicator::broadcast(void* data, size_t bytes, const char* what) const {
  if (size_ == 1 || bytes == 0) return;
#if MUSICGEN_WITH_MPI
  check(MPI_Bcast(data, static_cast<int>(bytes), MPI_BYTE, 0, MPI_COMM_WORLD), "MPI_Bcast", what);
#endif
}

void require_same(const std::vector<std::pair<std::string, std::string>>& items, const std::string& what) {
  const Communicator& c = world();
  if (!c.distributed()) return;
  // Lines "name\tvalue"; names and values hold no newline (values are escaped by the caller's formatting).
  std::string mine;
  for (const auto& [name, value] : items) {
    std::string v = value;
    for (char& ch : v)
      if (ch == '\n') ch = ' ';
    mine += name + '\t' + v + '\n';
  }
  const std::vector<std::string> all = c.all_gather(mine, "the ranks' flags and data");
  auto lines = [](const std::string& s) {
    std::vector<std::pair<std::string, std::string>> out;
    size_t at = 0;
    while (at < s.size()) {
      const size_t end = s.find('\n', at), tab = s.find('\t', at);
      out.emplace_back(s.substr(at, tab - at), s.substr(tab + 1, end - tab - 1));
      at = end + 1;
    }
    return out;
  };
  const auto first = lines(all[0]);
  for (size_t r = 1; r < all.size(); ++r) {
    if (all[r] == all[0]) continue;
    const auto other = lines(all[r]);
    std::string message;
    for (size_t i = 0; i < std::max(first.size(), other.size()) && message.empty(); ++i) {
      const std::string name = i < first.size() ? first[i].first : other[i].first;
      const std::string a = i < first.size() ? first[i].second : "(nothing)";
      const std::string b = i < other.size() && other[i].first == name ? other[i].second : "(nothing)";
      if (a != b)
        message = fmt::format("ranks started with different {}: {} is {} on rank 0 but {} on rank {}; start every "
                              "rank with the same command and data",
                              what, name, a, b, r);
    }
    if (message.empty()) message = fmt::format("ranks started with different {} (rank 0 and rank {})", what, r);
    if (c.root()) throw Error(message);
    throw ReportedByRankZero();
  }
}

RowRange rank_rows(int64_t rows, int rank, int size) {
  return {rows * rank / size, rows * (rank + 1) / size};
}

BatchShard::BatchShard(int64_t rows, int64_t begin, int64_t end) { batch_rows() = {rows, begin, end}; }
BatchShard::~BatchShard() { batch_rows() = {}; }

namespace {

bool sharded() { return batch_rows().sharded() && world().distributed(); }

// x summed over the ranks, as a new tensor on x's device.
Tensor reduced(const Tensor& x) {
  Tensor host = x.detach().to(Device::CPU).to(DType::F64).contiguous();
  world().all_reduce_sum(host.data<double>(), static_cast<size_t>(host.numel()), "a batch statistic");
  return host.to(x.dtype()).to(x.device());
}

}  // namespace

int64_t batch_count(int64_t local) { return sharded() ? batch_rows().rows : local; }

Tensor all_reduce_sum(const Tensor& x) {
  if (!sharded()) return x;
  Tensor y = reduced(x);
  if (needs_grad({x}))
    record("all_reduce_sum", {y}, {x}, [](const TensorList& g) { return TensorList{reduced(g[0])}; });
  return y;
}

Tensor batch_mean(const Tensor& x, const std::vector<int64_t>& dims) {
  if (!sharded()) return mean(x, dims);
  int64_t per_row = 1;
  for (const int64_t d : dims)
    if (d != 0) per_row *= x.size(d);
  return mul(all_reduce_sum(sum(x, dims)), 1.0 / static_cast<double>(batch_rows().rows * per_row));
}

void all_reduce_gradients(const std::vector<Tensor>& params) {
  const Communicator& c = world();
  if (!c.distributed() || params.empty()) return;
  NoGradGuard no_grad;
#if MUSICGEN_WITH_NCCL
  if (params[0].device() != Device::CPU && nccl_available()) {
    // On the GPU: one flat buffer of every gradient, summed in place by NCCL.
    std::vector<Tensor> flat;
    for (const Tensor& p : params) {
      const Tensor g = p.grad();
      flat.push_back(g.defined() ? g.to(DType::F32).reshape({p.numel()}) : zeros({p.numel()}, DType::F32, p.device()));
    }
    Tensor all = concat(flat, 0).contiguous();
    nccl_all_reduce_sum(all.data<float>(), static_cast<size_t>(all.numel()), "the gradients");
    int64_t at = 0;
    for (const Tensor& p : params) {
      Tensor q = p;
      q.set_grad(all.slice(0, at, at + p.numel()).reshape(p.shape()).contiguous().to(p.dtype()));
      at += p.numel();
    }
    return;
  }
#endif
  // On the CPU (and a GPU without NCCL): each gradient summed in place, a
  // missing one as zeros, so that every rank sends the same sequence.
  for (const Tensor& p : params) {
    Tensor q = p, g = p.grad();
    const DType dt = p.dtype() == DType::F64 ? DType::F64 : DType::F32;
    if (!g.defined()) g = zeros(p.shape(), dt, Device::CPU);
    else if (g.device() != Device::CPU || g.dtype() != dt || !g.is_contiguous()) g = g.to(Device::CPU).to(dt).contiguous();
    if (dt == DType::F64) c.all_reduce_sum(g.data<double>(), static_cast<size_t>(g.numel()), "the gradients");
    else c.all_reduce_sum(g.data<float>(), static_cast<size_t>(g.numel()), "the gradients");
    q.set_grad(g.device() == p.device() && g.dtype() == p.dtype() ? g : g.to(p.dtype()).to(p.device()));
  }
}

}  // namespace mg::nn::dist
