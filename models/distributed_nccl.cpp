// The gradients' all-reduce on GPUs: NCCL, as llm.c uses it. Rank 0 makes
// the communicator's unique id and MPI broadcasts it; every rank then joins
// with ncclCommInitRank and sums the gradients in place on its GPU. NCCL is
// loaded at run time (libnccl.so.2 from the CUDA toolkit), like cuDNN
// (kernels/cuda/cudnn_conv.h): without it the gradients go through the
// host and MPI.
#include "models/distributed_nccl.h"

#include <dlfcn.h>

#include <cuda_runtime.h>
#include <nccl.h>

#include <fmt/format.h>

#include "models/distributed.h"
#include "tensor/error.h"

namespace mg::nn::dist {

namespace {

struct Nccl {
  void* lib = nullptr;
  decltype(&ncclGetUniqueId) get_unique_id = nullptr;
  decltype(&ncclCommInitRank) comm_init_rank = nullptr;
  decltype(&ncclAllReduce) all_reduce = nullptr;
  decltype(&ncclGetErrorString) error_string = nullptr;
  ncclComm_t comm = nullptr;
};

Nccl& nccl() {
  static Nccl n = [] {
    Nccl n;
    for (const char* name : {"libnccl.so.2", "libnccl.so"})
      if ((n.lib = dlopen(name, RTLD_NOW | RTLD_LOCAL)) != nullptr) break;
    if (!n.lib) return n;
    n.get_unique_id = reinterpret_cast<decltype(n.get_unique_id)>(dlsym(n.lib, "ncclGetUniqueId"));
    n.comm_init_rank = reinterpret_cast<decltype(n.comm_init_rank)>(dlsym(n.lib, "ncclCommInitRank"));
    n.all_reduce = reinterpret_cast<decltype(n.all_reduce)>(dlsym(n.lib, "ncclAllReduce"));
    n.error_string = reinterpret_cast<decltype(n.error_string)>(dlsym(n.lib, "ncclGetErrorString"));
    if (!n.get_unique_id || !n.comm_init_rank || !n.all_reduce || !n.error_string) n.lib = nullptr;
    return n;
  }();
  return n;
}

void check(ncclResult_t rc, const char* call, const char* what) {
  if (rc == ncclSuccess) return;
  fail("{} of {} failed on rank {} of {}: {}", call, what, world().rank(), world().size(), nccl().error_string(rc));
}

}  // namespace

bool nccl_available() { return nccl().lib != nullptr; }

void nccl_all_reduce_sum(float* device_data, size_t n, const char* what) {
  Nccl& x = nccl();
  MG_CHECK(x.lib, "nccl_all_reduce_sum: NCCL is not loaded");
  const Communicator& c = world();
  if (!x.comm) {
    ncclUniqueId id{};
    if (c.root()) check(x.get_unique_id(&id), "ncclGetUniqueId", "the communicator");
    c.broadcast(&id, sizeof id, "NCCL's unique id");
    check(x.comm_init_rank(&x.comm, c.size(), id, c.rank()), "ncclCommInitRank", "the communicator");
  }
  // The engine's kernels run on the legacy default stream: the gradients are complete when it is.
  check(x.all_reduce(device_data, device_data, n, ncclFloat, ncclSum, x.comm, nullptr), "ncclAllReduce", what);
  if (const cudaError_t e = cudaStreamSynchronize(nullptr); e != cudaSuccess)
    fail("ncclAllReduce of {} failed on rank {}: {}", what, c.rank(), cudaGetErrorString(e));
}

}  // namespace mg::nn::dist
