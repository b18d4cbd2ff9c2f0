#pragma once
// Data-parallel training across processes, on existing engines: Open MPI
// starts the processes (mpirun) and reduces on the CPU; on GPUs the gradients
// are reduced with NCCL, whose unique id travels over MPI (as llm.c does).
//
//   mpirun -np 2 chopin-lstm train ...        two ranks, one model
//   chopin-lstm train ...                     one rank, as without MPI
//
// How N ranks compute the step of one (models/trainer.h does this):
//   - the global batch of B examples is split into N contiguous parts, rank r
//     taking rows [B r / N, B (r + 1) / N) (b_r of them);
//   - every random draw is keyed by the global example, never the rank: the
//     order of an epoch is a function of (seed, epoch), augmentation and
//     crops of (seed, epoch, example), and dropout masks and noise are the
//     rows of the whole batch's draw (tensor/rng.h BatchRows);
//   - statistics over the batch (batch normalisation, the free-bits KL) sum
//     over every rank with all_reduce_sum, which is differentiable: its
//     gradient is the all-reduce of the incoming gradients;
//   - each rank back-propagates its loss times b_r / B, and the gradients are
//     summed over the ranks: with every batch statistic global, that is the
//     gradient of the one-process loss. One process skips the scaling, so a
//     run without mpirun is bit for bit what it was.
//
// Only rank 0 writes files and prints (see io/atomic_file.h's single writer).
#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>
#include <vector>

#include "autograd/ops.h"

namespace mg::nn::dist {

// Whether this build can run several ranks (Open MPI was found at build time).
bool built_with_mpi();

// The processes of one job. world() is one process (rank 0 of 1) until
// Session starts MPI.
class Communicator {
 public:
  int rank() const { return rank_; }
  int size() const { return size_; }
  int local_rank() const { return local_rank_; }
  bool root() const { return rank_ == 0; }
  bool distributed() const { return size_ > 1; }

  // In-place sums over the ranks (host memory). `what` names the data in an error.
  void all_reduce_sum(float* data, size_t n, const char* what) const;
  void all_reduce_sum(double* data, size_t n, const char* what) const;
  // The largest value over the ranks.
  int64_t all_reduce_max(int64_t value, const char* what) const;
  // Every rank's string, in rank order.
  std::vector<std::string> all_gather(const std::string& s, const char* what) const;
  // Rank 0's bytes to every rank.
  void broadcast(void* data, size_t bytes, const char* what) const;

 private:
  friend class Session;
  int rank_ = 0, size_ = 1, local_rank_ = 0;
};

const Communicator& world();

// Whether this process was started by mpirun (or another PMI launcher) as
// one of several.
bool launched_by_mpirun();

// Starts MPI when launched by mpirun, for the lifetime of the object (one per
// process, in main). Ranks other than 0 print nothing on stdout and write no
// files. An error for a build without MPI run under mpirun with -np > 1.
// finish() ends MPI after a successful run; a run that fails leaves without
// it, so mpirun ends the other ranks instead of waiting for them.
class Session {
 public:
  Session();
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  void finish();

 private:
  bool started_ = false;
};

// Thrown on the ranks other than 0 when every rank has found the same error,
// which rank 0 reports: the process exits with a failure status silently.
class ReportedByRankZero : public std::exception {
 public:
  const char* what() const noexcept override { return "reported by rank 0"; }
};

// Refuses ranks started differently: every rank passes the same kind of
// list, (name, value) in the same order (its flags, a hash of its data); the
// first name whose value differs from rank 0's is named with both values in
// an mg::Error on rank 0 (ReportedByRankZero on the others). `what` says
// what was compared ("flags and data"). One rank: nothing to compare.
void require_same(const std::vector<std::pair<std::string, std::string>>& items, const std::string& what);

// The rows [begin, end) of `rows` that rank `rank` of `size` computes.
struct RowRange {
  int64_t begin = 0, end = 0;
};
RowRange rank_rows(int64_t rows, int rank, int size);

// While alive, this process computes rows [begin, end) of a batch of `rows`:
// random draws take those rows of the batch's draw (tensor/rng.h) and
// batch_sum / batch_count below reduce over every rank.
class BatchShard {
 public:
  BatchShard(int64_t rows, int64_t begin, int64_t end);
  ~BatchShard();
  BatchShard(const BatchShard&) = delete;
  BatchShard& operator=(const BatchShard&) = delete;
};

// The number of examples in the whole batch (the local batch without a shard).
int64_t batch_count(int64_t local);
// Differentiable sum over the ranks (the identity on one rank or without a shard).
Tensor all_reduce_sum(const Tensor& x);
// mean(x, dims) where dims include the batch dimension 0, over the whole batch.
Tensor batch_mean(const Tensor& x, const std::vector<int64_t>& dims);

// Sums the gradients of `params` over the ranks, after the backward pass:
// on the CPU each gradient in place with MPI_Allreduce, on GPUs all of them
// in one flat buffer with NCCL (models/distributed_nccl.h). A parameter
// without a gradient takes part with zeros, so every rank sends the same.
void all_reduce_gradients(const std::vector<Tensor>& params);

}  // namespace mg::nn::dist
