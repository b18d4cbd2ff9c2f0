#pragma once
// NCCL for the gradients of ranks on GPUs (models/distributed_nccl.cpp).
// Built when CUDA and nccl.h are present; loaded at run time.
#include <cstddef>

namespace mg::nn::dist {

// Whether libnccl could be loaded (false in a build without CUDA or NCCL).
bool nccl_available();
// In-place sum over the ranks of n floats in GPU memory (the job's
// communicator is made on first use, its id broadcast over MPI).
void nccl_all_reduce_sum(float* device_data, size_t n, const char* what);

}  // namespace mg::nn::dist
