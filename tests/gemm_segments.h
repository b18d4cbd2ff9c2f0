#pragma once
// GEMM column segments (GemmArgs' seg_*) against the plain layout, through
// one kernel: a [S, K, L] operand read as [K, S*L] and a [S, M, L] result
// written as [M, S*L] must give the bits of the same product computed on
// plain copies.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <functional>
#include <vector>

#include "tensor/backend.h"

namespace mg::test {

// [S, K, L] laid out plainly as [K, S*L].
inline std::vector<float> join_segments(const std::vector<float>& sl, int64_t S, int64_t K, int64_t L) {
  std::vector<float> plain(static_cast<size_t>(K * S * L));
  for (int64_t s = 0; s < S; ++s)
    for (int64_t k = 0; k < K; ++k)
      for (int64_t l = 0; l < L; ++l) plain[k * S * L + s * L + l] = sl[(s * K + k) * L + l];
  return plain;
}

// Two products through `sgemm`, each against its plain twin (CHECKs that the
// bits agree):
//   C [S, M, L] = A [M, K] @ B [S, K, L] + beta C, C starting at c0 everywhere
//   (B and C segmented by L columns);
//   out [K, M] = A2 @ B2ᵀ with A2 = B read as [K, S*L] (segmented along k, as a
//   convolution's filter gradient reads its input) and B2 [M, S*L] plain.
// Returns the segmented C (for a check against a reference).
inline std::vector<float> check_segments_as_plain(const std::function<void(const GemmArgs&)>& sgemm,
                                                  const std::vector<float>& a, const std::vector<float>& bsl,
                                                  const std::vector<float>& b2, int64_t M, int64_t K, int64_t S,
                                                  int64_t L, double beta, float c0) {
  const int64_t N = S * L;
  const std::vector<float> plain_b = join_segments(bsl, S, K, L);
  std::vector<float> c_seg(static_cast<size_t>(S * M * L), c0), c_plain(static_cast<size_t>(M * N), c0);
  GemmArgs g;
  g.m = M;
  g.n = N;
  g.k = K;
  g.beta = beta;
  g.a = a.data();
  g.lda = K;
  g.b = bsl.data();
  g.ldb = L;
  g.seg_b = L;
  g.seg_stride_b = K * L;
  g.c = c_seg.data();
  g.ldc = L;
  g.seg_c = L;
  g.seg_stride_c = M * L;
  sgemm(g);
  GemmArgs p = g;
  p.b = plain_b.data();
  p.ldb = N;
  p.seg_b = p.seg_stride_b = 0;
  p.c = c_plain.data();
  p.ldc = N;
  p.seg_c = p.seg_stride_c = 0;
  sgemm(p);
  bool same = true;
  for (int64_t s = 0; s < S; ++s)
    for (int64_t i = 0; i < M; ++i)
      for (int64_t l = 0; l < L; ++l) same = same && c_seg[(s * M + i) * L + l] == c_plain[i * N + s * L + l];
  CHECK(same);

  std::vector<float> out(static_cast<size_t>(K * M)), out_plain(out.size());
  GemmArgs h;
  h.m = K;
  h.n = M;
  h.k = N;
  h.trans_b = true;
  h.a = bsl.data();
  h.lda = L;
  h.seg_a = L;
  h.seg_stride_a = K * L;
  h.b = b2.data();
  h.ldb = N;
  h.c = out.data();
  h.ldc = M;
  sgemm(h);
  GemmArgs hp = h;
  hp.a = plain_b.data();
  hp.lda = N;
  hp.seg_a = hp.seg_stride_a = 0;
  hp.c = out_plain.data();
  sgemm(hp);
  CHECK(std::memcmp(out.data(), out_plain.data(), out.size() * sizeof(float)) == 0);
  return c_seg;
}

}  // namespace mg::test
