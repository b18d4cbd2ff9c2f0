// Network kernels: softmax family, cross-entropy, indexing, im2col/col2im,
// normalisation, the fused LSTM pointwise step and fused optimizer updates.
// Shapes as in tensor/backend.h: rows x n for softmax, [B, C, L] for
// convolution and norms, [B, 4H] gates for the LSTM.
#include <cmath>

#include "kernels/cuda/cuda_backend.h"

namespace mg::cuda {

using detail::dispatch_float;

namespace {

constexpr int kThreads = 256;

// Block-wide reduction of one double per thread (blockDim.x a power of two
// <= 1024); every thread gets the result. `combine` is sum or max.
template <typename Combine>
__device__ double block_reduce(double v, double* shared, Combine combine) {
  shared[threadIdx.x] = v;
  __syncthreads();
  for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) shared[threadIdx.x] = combine(shared[threadIdx.x], shared[threadIdx.x + s]);
    __syncthreads();
  }
  const double total = shared[0];
  __syncthreads();
  return total;
}

struct Sum {
  __device__ double operator()(double a, double b) const { return a + b; }
};
struct Max {
  __device__ double operator()(double a, double b) const { return fmax(a, b); }
};

__device__ double block_sum(double v, double* shared) { return block_reduce(v, shared, Sum{}); }
__device__ double block_max(double v, double* shared) { return block_reduce(v, shared, Max{}); }

// ---- softmax: one block per row ---------------------------------------------------

template <typename T>
__global__ void softmax_kernel(const T* x, T* y, int64_t n, bool log_out) {
  __shared__ double shared[kThreads];
  const T* xr = x + blockIdx.x * n;
  T* yr = y + blockIdx.x * n;
  double mx = -INFINITY;
  for (int64_t j = threadIdx.x; j < n; j += blockDim.x) mx = fmax(mx, static_cast<double>(xr[j]));
  mx = block_max(mx, shared);
  double s = 0;
  for (int64_t j = threadIdx.x; j < n; j += blockDim.x) s += exp(static_cast<double>(xr[j]) - mx);
  s = block_sum(s, shared);
  const double lse = log(s);
  for (int64_t j = threadIdx.x; j < n; j += blockDim.x) {
    const double v = static_cast<double>(xr[j]) - mx;
    yr[j] = static_cast<T>(log_out ? v - lse : exp(v) / s);
  }
}

template <typename T>
__global__ void softmax_backward_kernel(const T* gy, const T* y, T* gx, int64_t n, bool log_out) {
  __shared__ double shared[kThreads];
  const T* g = gy + blockIdx.x * n;
  const T* yr = y + blockIdx.x * n;
  T* out = gx + blockIdx.x * n;
  double acc = 0;
  for (int64_t j = threadIdx.x; j < n; j += blockDim.x)
    acc += log_out ? static_cast<double>(g[j]) : static_cast<double>(g[j]) * yr[j];
  acc = block_sum(acc, shared);
  for (int64_t j = threadIdx.x; j < n; j += blockDim.x)
    out[j] = static_cast<T>(log_out ? g[j] - exp(static_cast<double>(yr[j])) * acc : yr[j] * (g[j] - acc));
}

template <typename T>
__global__ void cross_entropy_kernel(const T* logits, const int64_t* targets, T* losses, T* probs, int64_t n) {
  __shared__ double shared[kThreads];
  const T* xr = logits + blockIdx.x * n;
  T* pr = probs + blockIdx.x * n;
  double mx = -INFINITY;
  for (int64_t j = threadIdx.x; j < n; j += blockDim.x) mx = fmax(mx, static_cast<double>(xr[j]));
  mx = block_max(mx, shared);
  double s = 0;
  for (int64_t j = threadIdx.x; j < n; j += blockDim.x) s += exp(static_cast<double>(xr[j]) - mx);
  s = block_sum(s, shared);
  for (int64_t j = threadIdx.x; j < n; j += blockDim.x)
    pr[j] = static_cast<T>(exp(static_cast<double>(xr[j]) - mx) / s);
  if (threadIdx.x == 0)
    losses[blockIdx.x] = static_cast<T>(log(s) - (static_cast<double>(xr[targets[blockIdx.x]]) - mx));
}

template <typename T>
__global__ void probs_minus_onehot_kernel(const T* probs, const int64_t* targets, T* grad, int64_t rows, int64_t n) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i >= rows * n) return;
  const int64_t r = i / n, j = i - r * n;
  grad[i] = probs[i] - (targets[r] == j ? T(1) : T(0));
}

// ---- indexing -----------------------------------------------------------------------

template <typename T>
__global__ void index_select_kernel(const T* src, const int64_t* idx, T* out, int64_t n, int64_t d) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i >= n * d) return;
  const int64_t row = i / d, col = i - row * d;
  out[i] = src[idx[row] * d + col];
}

template <typename T>
__global__ void index_add_kernel(T* dst, const int64_t* idx, const T* src, int64_t n, int64_t d) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i >= n * d) return;
  const int64_t row = i / d, col = i - row * d;
  atomicAdd(dst + idx[row] * d + col, src[i]);  // repeated ids meet here
}

// ---- convolution lowering --------------------------------------------------------------

template <typename T>
__global__ void im2col_kernel(const T* x, T* cols, Conv1dGeometry g, int64_t t_out, int64_t total) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i >= total) return;
  // i = ((b * C + c) * K + k) * T + t
  const int64_t t = i % t_out;
  const int64_t k = (i / t_out) % g.kernel;
  const int64_t bc = i / (t_out * g.kernel);
  const int64_t pos = t * g.stride - g.pad_left + k * g.dilation;
  cols[i] = (pos >= 0 && pos < g.length) ? x[bc * g.length + pos] : T(0);
}

// One thread per input element gathers every column entry that reads it:
// no atomics, so the result does not depend on scheduling.
template <typename T>
__global__ void col2im_kernel(const T* cols, T* x, Conv1dGeometry g, int64_t t_out, int64_t total) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i >= total) return;
  const int64_t pos = i % g.length, bc = i / g.length;
  T acc = 0;
  for (int64_t k = 0; k < g.kernel; ++k) {
    const int64_t num = pos + g.pad_left - k * g.dilation;
    if (num < 0 || num % g.stride != 0) continue;
    const int64_t t = num / g.stride;
    if (t < t_out) acc += cols[(bc * g.kernel + k) * t_out + t];
  }
  x[i] += acc;
}

// ---- normalisation: one block per group ---------------------------------------------------
// Group gi covers (n, c) rows [n_begin, n_end) x channel c, each of length L.

__device__ __forceinline__ void group_of(int64_t gi, int64_t N, int64_t C, bool per_instance, int64_t& c,
                                         int64_t& n_begin, int64_t& n_end) {
  c = per_instance ? gi % C : gi;
  n_begin = per_instance ? gi / C : 0;
  n_end = per_instance ? n_begin + 1 : N;
}

template <typename T>
__global__ void norm_forward_kernel(const T* x, const T* w, const T* b, T* y, T* mean, T* rstd, int64_t N, int64_t C,
                                    int64_t L, bool per_instance, double eps) {
  __shared__ double shared[kThreads];
  int64_t c, n0, n1;
  group_of(blockIdx.x, N, C, per_instance, c, n0, n1);
  const int64_t count = (n1 - n0) * L;
  double s = 0;
  for (int64_t e = threadIdx.x; e < count; e += blockDim.x) s += x[((n0 + e / L) * C + c) * L + e % L];
  const double mu = block_sum(s, shared) / static_cast<double>(count);
  double ss = 0;
  for (int64_t e = threadIdx.x; e < count; e += blockDim.x) {
    const double d = x[((n0 + e / L) * C + c) * L + e % L] - mu;
    ss += d * d;
  }
  const double r = rsqrt(block_sum(ss, shared) / static_cast<double>(count) + eps);
  const double wc = w ? static_cast<double>(w[c]) : 1.0, bc = b ? static_cast<double>(b[c]) : 0.0;
  for (int64_t e = threadIdx.x; e < count; e += blockDim.x) {
    const int64_t at = ((n0 + e / L) * C + c) * L + e % L;
    y[at] = static_cast<T>((x[at] - mu) * r * wc + bc);
  }
  if (threadIdx.x == 0) {
    mean[blockIdx.x] = static_cast<T>(mu);
    rstd[blockIdx.x] = static_cast<T>(r);
  }
}

// gx per group; per-group sums of gy and gy*xhat go to part_g / part_gx so
// that weight and bias gradients are summed per channel afterwards.
template <typename T>
__global__ void norm_backward_kernel(const T* gy, const T* x, const T* w, const T* mean, const T* rstd, T* gx,
                                     double* part_g, double* part_gx, int64_t N, int64_t C, int64_t L,
                                     bool per_instance) {
  __shared__ double shared[kThreads];
  int64_t c, n0, n1;
  group_of(blockIdx.x, N, C, per_instance, c, n0, n1);
  const int64_t count = (n1 - n0) * L;
  const double mu = mean[blockIdx.x], r = rstd[blockIdx.x], wc = w ? static_cast<double>(w[c]) : 1.0;
  double sg = 0, sgx = 0;
  for (int64_t e = threadIdx.x; e < count; e += blockDim.x) {
    const int64_t at = ((n0 + e / L) * C + c) * L + e % L;
    const double g = gy[at];
    sg += g;
    sgx += g * (x[at] - mu) * r;
  }
  sg = block_sum(sg, shared);
  sgx = block_sum(sgx, shared);
  const double md = sg * wc / static_cast<double>(count), mdx = sgx * wc / static_cast<double>(count);
  for (int64_t e = threadIdx.x; e < count; e += blockDim.x) {
    const int64_t at = ((n0 + e / L) * C + c) * L + e % L;
    const double xh = (x[at] - mu) * r;
    gx[at] = static_cast<T>(r * (gy[at] * wc - md - xh * mdx));
  }
  if (threadIdx.x == 0) {
    part_g[blockIdx.x] = sg;
    part_gx[blockIdx.x] = sgx;
  }
}

template <typename T>
__global__ void norm_param_grad_kernel(const double* part_g, const double* part_gx, T* gw, T* gb, int64_t C,
                                       int64_t groups_per_channel, bool per_instance) {
  const int64_t c = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (c >= C) return;
  double g = 0, gxh = 0;
  for (int64_t k = 0; k < groups_per_channel; ++k) {
    const int64_t gi = per_instance ? k * C + c : c;
    g += part_g[gi];
    gxh += part_gx[gi];
  }
  if (gw) gw[c] = static_cast<T>(gxh);
  if (gb) gb[c] = static_cast<T>(g);
}

// ---- LSTM pointwise: one thread per (b, j) computes all four gates ------------------------

template <typename T>
__device__ __forceinline__ T sigmoid(T v) {
  return T(1) / (T(1) + exp(-v));
}

template <typename T>
__global__ void lstm_forward_kernel(const T* gates, const T* c_prev, T* h, T* c, T* act, int64_t B, int64_t H) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i >= B * H) return;
  const int64_t b = i / H, j = i - b * H;
  const T* g = gates + b * 4 * H;
  T* a = act + b * 4 * H;
  const T ig = sigmoid(g[j]), fg = sigmoid(g[H + j]), gg = tanh(g[2 * H + j]), og = sigmoid(g[3 * H + j]);
  a[j] = ig;
  a[H + j] = fg;
  a[2 * H + j] = gg;
  a[3 * H + j] = og;
  const T cn = fg * c_prev[i] + ig * gg;
  c[i] = cn;
  h[i] = og * tanh(cn);
}

template <typename T>
__global__ void lstm_backward_kernel(const T* gh, const T* gc, const T* act, const T* c_prev, const T* c, T* ggates,
                                     T* gc_prev, int64_t B, int64_t H) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i >= B * H) return;
  const int64_t b = i / H, j = i - b * H;
  const T* a = act + b * 4 * H;
  T* dg = ggates + b * 4 * H;
  const T ig = a[j], fg = a[H + j], gg = a[2 * H + j], og = a[3 * H + j];
  const T tc = tanh(c[i]);
  const T dh = gh ? gh[i] : T(0);
  const T dc = (gc ? gc[i] : T(0)) + dh * og * (T(1) - tc * tc);
  dg[j] = dc * gg * ig * (T(1) - ig);
  dg[H + j] = dc * c_prev[i] * fg * (T(1) - fg);
  dg[2 * H + j] = dc * ig * (T(1) - gg * gg);
  dg[3 * H + j] = dh * tc * og * (T(1) - og);
  gc_prev[i] = dc * fg;
}

// ---- optimizers (same update rules as kernels/cpu/nn.cpp) ----------------------------------

template <typename T>
__global__ void adam_kernel(T* p, const T* g, T* m, T* v, double lr, double b1, double b2, double eps, double wd,
                            double bc1, double bc2, int64_t n) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i >= n) return;
  const double gi = g[i] + wd * p[i];
  m[i] = static_cast<T>(b1 * m[i] + (1.0 - b1) * gi);
  v[i] = static_cast<T>(b2 * v[i] + (1.0 - b2) * gi * gi);
  p[i] = static_cast<T>(p[i] - lr * (m[i] / bc1) / (sqrt(v[i] / bc2) + eps));
}

template <typename T>
__global__ void adamax_kernel(T* p, const T* g, T* m, T* u, double lr, double b1, double b2, double eps, double wd,
                              double bc1, int64_t n) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i >= n) return;
  const double gi = g[i] + wd * p[i];
  m[i] = static_cast<T>(b1 * m[i] + (1.0 - b1) * gi);
  u[i] = static_cast<T>(fmax(b2 * u[i], fabs(gi)));
  p[i] = static_cast<T>(p[i] - lr / bc1 * m[i] / (u[i] + eps));
}

template <typename T>
__global__ void sgd_kernel(T* p, const T* g, T* buf, double lr, double momentum, double wd, bool nesterov, int64_t n) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i >= n) return;
  double d = g[i] + wd * p[i];
  if (buf) {
    buf[i] = static_cast<T>(momentum * buf[i] + d);
    d = nesterov ? d + momentum * buf[i] : buf[i];
  }
  p[i] = static_cast<T>(p[i] - lr * d);
}

}  // namespace

void CudaBackend::softmax(const Tensor& x, const Tensor& y, bool log_out) {
  const int64_t n = x.size(-1), rows = x.numel() / std::max<int64_t>(n, 1);
  if (rows == 0) return;
  dispatch_float(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    softmax_kernel<<<static_cast<unsigned>(rows), kThreads>>>(x.data<T>(), y.data<T>(), n, log_out);
  });
  MG_CUDA_LAUNCHED();
}

void CudaBackend::softmax_backward(const Tensor& gy, const Tensor& y, const Tensor& gx, bool log_out) {
  const int64_t n = y.size(-1), rows = y.numel() / std::max<int64_t>(n, 1);
  if (rows == 0) return;
  dispatch_float(y.dtype(), [&](auto tag) {
    using T = decltype(tag);
    softmax_backward_kernel<<<static_cast<unsigned>(rows), kThreads>>>(gy.data<T>(), y.data<T>(), gx.data<T>(), n,
                                                                       log_out);
  });
  MG_CUDA_LAUNCHED();
}

void CudaBackend::cross_entropy(const Tensor& logits, const Tensor& targets, const Tensor& losses,
                                const Tensor& probs) {
  const int64_t rows = logits.size(0), n = logits.size(1);
  check_indices(targets, n, "cross_entropy target");
  dispatch_float(logits.dtype(), [&](auto tag) {
    using T = decltype(tag);
    cross_entropy_kernel<<<static_cast<unsigned>(rows), kThreads>>>(logits.data<T>(), targets.data<int64_t>(),
                                                                    losses.data<T>(), probs.data<T>(), n);
  });
  MG_CUDA_LAUNCHED();
}

void CudaBackend::probs_minus_onehot(const Tensor& probs, const Tensor& targets, const Tensor& grad) {
  const int64_t rows = probs.size(0), n = probs.size(1);
  dispatch_float(probs.dtype(), [&](auto tag) {
    using T = decltype(tag);
    probs_minus_onehot_kernel<<<blocks_for(rows * n), kThreads>>>(probs.data<T>(), targets.data<int64_t>(),
                                                                  grad.data<T>(), rows, n);
  });
  MG_CUDA_LAUNCHED();
}

void CudaBackend::index_select(const Tensor& src, const Tensor& index, const Tensor& out) {
  const int64_t v = src.size(0), d = src.numel() / std::max<int64_t>(v, 1), n = index.numel();
  check_indices(index, v, "index_select");
  dispatch_float(src.dtype(), [&](auto tag) {
    using T = decltype(tag);
    index_select_kernel<<<blocks_for(n * d), kThreads>>>(src.data<T>(), index.data<int64_t>(), out.data<T>(), n, d);
  });
  MG_CUDA_LAUNCHED();
}

void CudaBackend::index_add(const Tensor& dst, const Tensor& index, const Tensor& src) {
  const int64_t v = dst.size(0), d = dst.numel() / std::max<int64_t>(v, 1), n = index.numel();
  dispatch_float(dst.dtype(), [&](auto tag) {
    using T = decltype(tag);
    index_add_kernel<<<blocks_for(n * d), kThreads>>>(dst.data<T>(), index.data<int64_t>(), src.data<T>(), n, d);
  });
  MG_CUDA_LAUNCHED();
}

void CudaBackend::im2col1d(const Tensor& x, const Tensor& cols, const Conv1dGeometry& g) {
  const int64_t t_out = g.out_length(), total = g.batch * g.channels * g.kernel * t_out;
  if (total == 0) return;
  dispatch_float(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    im2col_kernel<<<blocks_for(total), kThreads>>>(x.data<T>(), cols.data<T>(), g, t_out, total);
  });
  MG_CUDA_LAUNCHED();
}

void CudaBackend::col2im1d(const Tensor& cols, const Tensor& x, const Conv1dGeometry& g) {
  const int64_t t_out = g.out_length(), total = g.batch * g.channels * g.length;
  if (total == 0) return;
  dispatch_float(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    col2im_kernel<<<blocks_for(total), kThreads>>>(cols.data<T>(), x.data<T>(), g, t_out, total);
  });
  MG_CUDA_LAUNCHED();
}

void CudaBackend::norm1d_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, bool per_instance,
                                 double eps, const Tensor& y, const Tensor& mean, const Tensor& rstd) {
  const int64_t N = x.size(0), C = x.size(1), L = x.size(2), groups = per_instance ? N * C : C;
  dispatch_float(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    norm_forward_kernel<<<static_cast<unsigned>(groups), kThreads>>>(
        x.data<T>(), weight.defined() ? weight.data<T>() : nullptr, bias.defined() ? bias.data<T>() : nullptr,
        y.data<T>(), mean.data<T>(), rstd.data<T>(), N, C, L, per_instance, eps);
  });
  MG_CUDA_LAUNCHED();
}

void CudaBackend::norm1d_backward(const Tensor& gy, const Tensor& x, const Tensor& weight, const Tensor& mean,
                                  const Tensor& rstd, bool per_instance, const Tensor& gx, const Tensor& gweight,
                                  const Tensor& gbias) {
  const int64_t N = x.size(0), C = x.size(1), L = x.size(2), groups = per_instance ? N * C : C;
  Tensor part_g = empty({groups}, DType::F64, Device::CUDA), part_gx = empty({groups}, DType::F64, Device::CUDA);
  dispatch_float(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    norm_backward_kernel<<<static_cast<unsigned>(groups), kThreads>>>(
        gy.data<T>(), x.data<T>(), weight.defined() ? weight.data<T>() : nullptr, mean.data<T>(), rstd.data<T>(),
        gx.data<T>(), part_g.data<double>(), part_gx.data<double>(), N, C, L, per_instance);
    MG_CUDA_LAUNCHED();
    if (gweight.defined() || gbias.defined()) {
      norm_param_grad_kernel<<<blocks_for(C), kThreads>>>(
          part_g.data<double>(), part_gx.data<double>(), gweight.defined() ? gweight.data<T>() : nullptr,
          gbias.defined() ? gbias.data<T>() : nullptr, C, per_instance ? N : 1, per_instance);
      MG_CUDA_LAUNCHED();
    }
  });
}

void CudaBackend::lstm_pointwise_forward(const Tensor& gates, const Tensor& c_prev, const Tensor& h, const Tensor& c,
                                         const Tensor& act) {
  const int64_t B = c_prev.size(0), H = c_prev.size(1);
  dispatch_float(gates.dtype(), [&](auto tag) {
    using T = decltype(tag);
    lstm_forward_kernel<<<blocks_for(B * H), kThreads>>>(gates.data<T>(), c_prev.data<T>(), h.data<T>(), c.data<T>(),
                                                         act.data<T>(), B, H);
  });
  MG_CUDA_LAUNCHED();
}

void CudaBackend::lstm_pointwise_backward(const Tensor& gh, const Tensor& gc, const Tensor& act, const Tensor& c_prev,
                                          const Tensor& c, const Tensor& ggates, const Tensor& gc_prev) {
  const int64_t B = c_prev.size(0), H = c_prev.size(1);
  dispatch_float(act.dtype(), [&](auto tag) {
    using T = decltype(tag);
    lstm_backward_kernel<<<blocks_for(B * H), kThreads>>>(
        gh.defined() ? gh.data<T>() : nullptr, gc.defined() ? gc.data<T>() : nullptr, act.data<T>(), c_prev.data<T>(),
        c.data<T>(), ggates.data<T>(), gc_prev.data<T>(), B, H);
  });
  MG_CUDA_LAUNCHED();
}

void CudaBackend::adam_step(const Tensor& param, const Tensor& grad, const Tensor& m, const Tensor& v,
                            const AdamArgs& a) {
  const int64_t n = param.numel();
  const double bc1 = 1.0 - std::pow(a.beta1, static_cast<double>(a.step));
  const double bc2 = 1.0 - std::pow(a.beta2, static_cast<double>(a.step));
  dispatch_float(param.dtype(), [&](auto tag) {
    using T = decltype(tag);
    adam_kernel<<<blocks_for(n), kThreads>>>(param.data<T>(), grad.data<T>(), m.data<T>(), v.data<T>(), a.lr, a.beta1,
                                             a.beta2, a.eps, a.weight_decay, bc1, bc2, n);
  });
  MG_CUDA_LAUNCHED();
}

void CudaBackend::adamax_step(const Tensor& param, const Tensor& grad, const Tensor& m, const Tensor& u,
                              const AdamArgs& a) {
  const int64_t n = param.numel();
  const double bc1 = 1.0 - std::pow(a.beta1, static_cast<double>(a.step));
  dispatch_float(param.dtype(), [&](auto tag) {
    using T = decltype(tag);
    adamax_kernel<<<blocks_for(n), kThreads>>>(param.data<T>(), grad.data<T>(), m.data<T>(), u.data<T>(), a.lr, a.beta1,
                                               a.beta2, a.eps, a.weight_decay, bc1, n);
  });
  MG_CUDA_LAUNCHED();
}

void CudaBackend::sgd_step(const Tensor& param, const Tensor& grad, const Tensor& buf, double lr, double momentum,
                           double weight_decay, bool nesterov) {
  const int64_t n = param.numel();
  dispatch_float(param.dtype(), [&](auto tag) {
    using T = decltype(tag);
    sgd_kernel<<<blocks_for(n), kThreads>>>(param.data<T>(), grad.data<T>(), buf.defined() ? buf.data<T>() : nullptr,
                                            lr, momentum, weight_decay, nesterov, n);
  });
  MG_CUDA_LAUNCHED();
}

}  // namespace mg::cuda
