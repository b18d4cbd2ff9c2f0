// Normalisation over x [N, C, L]: instance norm (one group per (n, c), over
// L) or batch norm (one group per c, over N and L). mean/rstd hold one value
// per group; weight/bias [C] are optional. One block per group; statistics
// in double with the biased variance, like the CPU reference, and the
// groups and formulas of kernels/pointwise.h that it uses too.
#include "kernels/cuda/launch.h"
#include "kernels/pointwise.h"

namespace mg::cuda {

using detail::data_or_null;
using detail::dispatch_float;

namespace {

using pointwise::NormGroup;

template <typename T>
__global__ void norm_forward_kernel(const T* x, const T* w, const T* b, T* y, T* mean, T* rstd, int64_t N, int64_t C,
                                    int64_t L, bool per_instance, double eps) {
  const NormGroup grp(blockIdx.x, N, C, L, per_instance);
  double s = 0.0;
  for (int64_t e = threadIdx.x; e < grp.count(); e += blockDim.x) s += x[grp.at(e)];
  const double mu = block_sum(s) / static_cast<double>(grp.count());
  double ss = 0.0;
  for (int64_t e = threadIdx.x; e < grp.count(); e += blockDim.x) {
    const double d = x[grp.at(e)] - mu;
    ss += d * d;
  }
  const double r = pointwise::norm_rstd(block_sum(ss), static_cast<double>(grp.count()), eps);
  const double wc = w ? static_cast<double>(w[grp.c]) : 1.0, bc = b ? static_cast<double>(b[grp.c]) : 0.0;
  for (int64_t e = threadIdx.x; e < grp.count(); e += blockDim.x) {
    const int64_t at = grp.at(e);
    y[at] = static_cast<T>(pointwise::norm_xhat(x[at], mu, r) * wc + bc);
  }
  if (threadIdx.x == 0) {
    mean[blockIdx.x] = static_cast<T>(mu);
    rstd[blockIdx.x] = static_cast<T>(r);
  }
}

// With xhat = (x - mean) rstd and d = gy w, per group:
//   gx = rstd (d - mean(d) - xhat mean(d xhat))   (pointwise::norm_input_grad).
// The group's sums of gy and gy xhat go to part_g / part_gx so that the
// weight and bias gradients are summed per channel by a second kernel.
template <typename T>
__global__ void norm_backward_kernel(const T* gy, const T* x, const T* w, const T* mean, const T* rstd, T* gx,
                                     double* part_g, double* part_gx, int64_t N, int64_t C, int64_t L,
                                     bool per_instance) {
  const NormGroup grp(blockIdx.x, N, C, L, per_instance);
  const double mu = mean[blockIdx.x], r = rstd[blockIdx.x], wc = w ? static_cast<double>(w[grp.c]) : 1.0;
  double sg = 0.0, sgx = 0.0;
  for (int64_t e = threadIdx.x; e < grp.count(); e += blockDim.x) {
    const int64_t at = grp.at(e);
    const double g = gy[at];
    sg += g;
    sgx += g * pointwise::norm_xhat(x[at], mu, r);
  }
  sg = block_sum(sg);
  sgx = block_sum(sgx);
  const double md = sg * wc / static_cast<double>(grp.count()), mdx = sgx * wc / static_cast<double>(grp.count());
  for (int64_t e = threadIdx.x; e < grp.count(); e += blockDim.x) {
    const int64_t at = grp.at(e);
    const double xh = pointwise::norm_xhat(x[at], mu, r);
    gx[at] = static_cast<T>(pointwise::norm_input_grad(gy[at], wc, xh, r, md, mdx));
  }
  if (threadIdx.x == 0) {
    part_g[blockIdx.x] = sg;
    part_gx[blockIdx.x] = sgx;
  }
}

// gweight[c] = sum of part_gx over c's groups, gbias[c] = sum of part_g.
template <typename T>
__global__ void norm_param_grad_kernel(const double* part_g, const double* part_gx, T* gw, T* gb, int64_t C,
                                       int64_t groups_per_channel) {
  const int64_t c = global_index();
  if (c >= C) return;
  double g = 0.0, gxh = 0.0;
  for (int64_t k = 0; k < groups_per_channel; ++k) {  // group of (n = k, c) is k C + c; batch norm has k = 0 only
    g += part_g[k * C + c];
    gxh += part_gx[k * C + c];
  }
  if (gw) gw[c] = static_cast<T>(gxh);
  if (gb) gb[c] = static_cast<T>(g);
}

}  // namespace

void CudaBackend::norm1d_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, bool per_instance,
                                 double eps, const Tensor& y, const Tensor& mean, const Tensor& rstd) {
  const int64_t N = x.size(0), C = x.size(1), L = x.size(2), groups = per_instance ? N * C : C;
  if (groups == 0 || N * L == 0) return;
  const int threads = threads_for_row(per_instance ? L : N * L);
  dispatch_float(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    norm_forward_kernel<<<static_cast<unsigned>(groups), threads>>>(x.data<T>(), data_or_null<T>(weight),
                                                                    data_or_null<T>(bias), y.data<T>(), mean.data<T>(),
                                                                    rstd.data<T>(), N, C, L, per_instance, eps);
  });
  MG_CUDA_LAUNCHED();
}

void CudaBackend::norm1d_backward(const Tensor& gy, const Tensor& x, const Tensor& weight, const Tensor& mean,
                                  const Tensor& rstd, bool per_instance, const Tensor& gx, const Tensor& gweight,
                                  const Tensor& gbias) {
  const int64_t N = x.size(0), C = x.size(1), L = x.size(2), groups = per_instance ? N * C : C;
  if (groups == 0) return;
  if (N * L == 0) {  // no elements: the parameter gradients are empty sums
    if (gweight.defined()) fill(gweight, 0.0);
    if (gbias.defined()) fill(gbias, 0.0);
    return;
  }
  const int threads = threads_for_row(per_instance ? L : N * L);
  Tensor part_g = empty({groups}, DType::F64, Device::CUDA), part_gx = empty({groups}, DType::F64, Device::CUDA);
  dispatch_float(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    norm_backward_kernel<<<static_cast<unsigned>(groups), threads>>>(
        gy.data<T>(), x.data<T>(), data_or_null<T>(weight), mean.data<T>(), rstd.data<T>(), gx.data<T>(),
        part_g.data<double>(), part_gx.data<double>(), N, C, L, per_instance);
    MG_CUDA_LAUNCHED();
    if (gweight.defined() || gbias.defined()) {
      norm_param_grad_kernel<<<blocks_for(C), kThreads>>>(part_g.data<double>(), part_gx.data<double>(),
                                                          data_or_null<T>(gweight), data_or_null<T>(gbias), C,
                                                          per_instance ? N : 1);
      MG_CUDA_LAUNCHED();
    }
  });
}

}  // namespace mg::cuda
