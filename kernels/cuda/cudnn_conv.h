#pragma once
// cuDNN for the three products of a 1-D convolution (tensor/backend.h),
// chosen per shape by measurement, with musicgen's own im2col + cuBLAS
// lowering kept as the checked fallback.
//
// cuDNN is loaded at run time (libcudnn.so.9), so the programs run, and
// train, on machines without it. The first time a product meets a new shape
// both implementations run on the same inputs: cuDNN's result must agree with
// ours (relative 1e-4 in float32, 1e-10 in float64) before its time counts,
// and the faster one is then used for that shape for the rest of the run.
//
// MUSICGEN_CUDNN=auto (the default) | on | off. `on` uses cuDNN for every
// shape it supports without measuring (the parity suite runs once this way,
// so cuDNN's path is checked against the CPU reference too); it is an error
// when libcudnn cannot be loaded. `off` never loads it.
// MUSICGEN_KERNEL_LOG=1 prints one line per shape with both times and the choice.
//
// cuDNN's 2-D API takes the 1-D convolution as height 1. It pads both sides
// alike, so shapes with pad_left != pad_right (Keras 'same' with stride 2,
// output_padding) always run on our kernels.
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "kernels/cuda/measure.h"
#include "tensor/backend.h"

namespace mg::cuda {

enum class ConvProduct { Forward, BackwardData, BackwardFilter };

class CudnnConv {
 public:
  CudnnConv();
  ~CudnnConv();
  CudnnConv(const CudnnConv&) = delete;
  CudnnConv& operator=(const CudnnConv&) = delete;

  // Computes `product` of the convolution g with weight w [Cout, C, K] into
  // out: through cuDNN or through `ours`, which must write the same result
  // into out. a and b are the product's two inputs in cuDNN's order:
  // Forward (x, w), BackwardData (gy, w), BackwardFilter (x, gy). bias is
  // added by Forward only (undefined: none).
  void run(ConvProduct product, const Conv1dGeometry& g, const Tensor& w_shape, const Tensor& a, const Tensor& b,
           const Tensor& bias, const Tensor& out, const std::function<void()>& ours);

  // "cuDNN 9.x.y (auto)", "off", or why it is not in use.
  std::string describe();

  // The output length cuDNN computes for the convolution g as described to
  // it here (height 1, both sides padded by pad_left); none when libcudnn
  // cannot be loaded. Needs no GPU, so the geometry is tested everywhere.
  std::optional<int64_t> output_length(const Conv1dGeometry& g, int64_t out_channels, DType dtype);

 private:
  struct Plan;
  struct Api;

  bool load_library();  // the entry points (no GPU needed); idempotent
  bool load();          // the library and a handle: cuDNN is usable; idempotent
  // The plan's descriptors for g; "" or what failed. dims: cuDNN's output [B, Cout, 1, T].
  std::string set_descriptors(Plan& p, const Conv1dGeometry& g, int64_t out_channels, DType dtype, int (&dims)[4]);
  Plan* plan_for(ConvProduct product, const Conv1dGeometry& g, const Tensor& w_shape, DType dtype);
  bool execute(const Plan& plan, const Tensor& a, const Tensor& b, const Tensor& bias, const Tensor& out);
  void choose(Plan& plan, const Tensor& a, const Tensor& b, const Tensor& bias, const Tensor& out,
              const std::function<void()>& ours);

  KernelChoice mode_ = KernelChoice::Auto;  // MUSICGEN_CUDNN: auto, on (Alternative), off (Ours)
  bool log_ = false;
  bool tried_library_ = false, tried_handle_ = false;
  std::string unavailable_;  // why cuDNN is not in use, when it is not
  std::unique_ptr<Api> api_;
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<Plan>> plans_;
};

}  // namespace mg::cuda
