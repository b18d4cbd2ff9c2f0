#include "models/sampling.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "tensor/error.h"

namespace mg::nn {

namespace {

bool is_greedy(const SamplingOptions& o) { return o.greedy || o.temperature == 0.0; }

int64_t argmax(const std::vector<float>& logits) {
  MG_CHECK(!logits.empty(), "sampling: no logits");
  const auto top = std::max_element(logits.begin(), logits.end());
  MG_CHECK(*top > -INFINITY, "sampling: every token is masked (all logits -inf)");
  return top - logits.begin();
}

}  // namespace

std::vector<double> sampling_distribution(const std::vector<float>& logits, const SamplingOptions& o) {
  const size_t best = static_cast<size_t>(argmax(logits));
  MG_CHECK(o.temperature >= 0 && std::isfinite(o.temperature), "sampling: temperature {} is not >= 0", o.temperature);
  MG_CHECK(o.top_k >= 0, "sampling: top-k {} is negative", o.top_k);
  MG_CHECK(o.top_p > 0 && o.top_p <= 1, "sampling: top-p {} outside (0, 1]", o.top_p);
  const size_t V = logits.size();
  std::vector<double> p(V, 0.0);
  if (is_greedy(o)) {
    p[best] = 1.0;
    return p;
  }
  // Most likely first; equal logits keep id order, so the kept set is well defined.
  std::vector<size_t> order(V);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return logits[a] > logits[b]; });
  const size_t keep_k = o.top_k > 0 ? std::min<size_t>(V, static_cast<size_t>(o.top_k)) : V;
  // softmax(logits / T) over the top k, shifted by the maximum so exp never overflows.
  const double top = logits[order[0]];
  double total = 0;
  for (size_t i = 0; i < keep_k; ++i) total += p[order[i]] = std::exp((logits[order[i]] - top) / o.temperature);
  // The smallest prefix whose mass reaches top_p (at least one token).
  size_t keep = keep_k;
  if (o.top_p < 1.0) {
    double mass = 0;
    keep = 0;
    while (keep < keep_k && mass < o.top_p * total) mass += p[order[keep++]];
    keep = std::max<size_t>(keep, 1);
    for (size_t i = keep; i < keep_k; ++i) p[order[i]] = 0;
    total = mass > 0 ? mass : p[order[0]];
  }
  for (size_t i = keep_k; i < V; ++i) p[order[i]] = 0;
  for (size_t i = 0; i < keep; ++i) p[order[i]] /= total;
  return p;
}

int64_t sample_token(const std::vector<float>& logits, const SamplingOptions& o, Generator& generator) {
  if (is_greedy(o)) return argmax(logits);
  const std::vector<double> p = sampling_distribution(logits, o);
  const double u = Philox::uniform(generator.seed, generator.advance(1));
  // The inverse of the cumulative distribution, in id order; rounding leaves
  // u past the last step at most by an ulp, which the last kept id takes.
  double cumulative = 0;
  int64_t last = -1;
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] <= 0) continue;
    last = static_cast<int64_t>(i);
    cumulative += p[i];
    if (u < cumulative) return last;
  }
  return last;
}

}  // namespace mg::nn
