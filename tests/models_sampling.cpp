// Next-token sampling: the distribution it draws from, and the draws.
#include <doctest/doctest.h>

#include <cmath>
#include <numeric>
#include <vector>

#include "models/sampling.h"
#include "tensor/error.h"

using mg::nn::SamplingOptions;

namespace {

const std::vector<float> kLogits = {1.0f, 3.0f, -2.0f, 2.5f, 0.0f, 3.0f, -1.0f, 0.5f};

std::vector<double> softmax(const std::vector<float>& logits, double temperature) {
  std::vector<double> p;
  double total = 0;
  for (float l : logits) total += std::exp(l / temperature);
  for (float l : logits) p.push_back(std::exp(l / temperature) / total);
  return p;
}

}  // namespace

TEST_CASE("sampling distribution: temperature scales the logits before the softmax") {
  for (double t : {0.25, 1.0, 3.0}) {
    CAPTURE(t);
    const std::vector<double> got = mg::nn::sampling_distribution(kLogits, {false, t, 0, 1.0});
    const std::vector<double> want = softmax(kLogits, t);
    for (size_t i = 0; i < want.size(); ++i) CHECK(got[i] == doctest::Approx(want[i]).epsilon(1e-12));
  }
  // A lower temperature puts more mass on the most likely tokens.
  CHECK(mg::nn::sampling_distribution(kLogits, {false, 0.5, 0, 1})[1] >
        mg::nn::sampling_distribution(kLogits, {false, 2.0, 0, 1})[1]);
}

TEST_CASE("sampling distribution: top-p keeps the smallest most-likely set reaching p, top-k the k most likely") {
  const std::vector<double> full = softmax(kLogits, 1.0);
  for (double top_p : {0.05, 0.3, 0.6, 0.8, 0.95, 0.999}) {
    CAPTURE(top_p);
    const std::vector<double> p = mg::nn::sampling_distribution(kLogits, {false, 1.0, 0, top_p});
    CHECK(std::accumulate(p.begin(), p.end(), 0.0) == doctest::Approx(1.0));
    double kept_mass = 0, smallest_kept = 1, largest_dropped = 0;
    for (size_t i = 0; i < p.size(); ++i) {
      if (p[i] > 0) {
        kept_mass += full[i];
        smallest_kept = std::min(smallest_kept, full[i]);
      } else {
        largest_dropped = std::max(largest_dropped, full[i]);
      }
    }
    // The kept set reaches p, holds the most likely tokens, and without its
    // least likely member it would not reach p.
    CHECK(kept_mass >= top_p - 1e-12);
    CHECK(smallest_kept >= largest_dropped);
    CHECK(kept_mass - smallest_kept < top_p);
    // Inside the kept set the ratios are the softmax's.
    for (size_t i = 0; i < p.size(); ++i)
      if (p[i] > 0) CHECK(p[i] == doctest::Approx(full[i] / kept_mass).epsilon(1e-12));
  }
  // Ties (ids 1 and 5) are ordered by id: top-1 keeps id 1.
  const std::vector<double> top1 = mg::nn::sampling_distribution(kLogits, {false, 1.0, 1, 1.0});
  CHECK(top1[1] == 1.0);
  const std::vector<double> top3 = mg::nn::sampling_distribution(kLogits, {false, 1.0, 3, 1.0});
  CHECK(top3[1] > 0);
  CHECK(top3[5] > 0);
  CHECK(top3[3] > 0);
  CHECK(top3[0] == 0);
  CHECK(top3[1] == doctest::Approx(std::exp(3.0) / (2 * std::exp(3.0) + std::exp(2.5))));
}

TEST_CASE("sampling: greedy is the argmax and draws nothing") {
  mg::Generator g{5, 0};
  CHECK(mg::nn::sample_token(kLogits, {true, 1.0, 0, 1.0}, g) == 1);
  CHECK(mg::nn::sample_token(kLogits, {false, 0.0, 0, 1.0}, g) == 1);
  CHECK(g.offset == 0);
  CHECK_THROWS_AS(mg::nn::sampling_distribution({}, {}), mg::Error);
  CHECK_THROWS_AS(mg::nn::sampling_distribution(kLogits, {false, 1.0, 0, 0.0}), mg::Error);
  CHECK_THROWS_AS(mg::nn::sampling_distribution(kLogits, {false, -1.0, 0, 1.0}), mg::Error);
}

TEST_CASE("sampling: draws follow the distribution and repeat for a seed") {
  const SamplingOptions o{false, 1.0, 0, 0.9};
  const std::vector<double> p = mg::nn::sampling_distribution(kLogits, o);
  const int n = 200000;
  mg::Generator g{42, 0};
  std::vector<int> counts(kLogits.size(), 0);
  std::vector<int64_t> first;
  for (int i = 0; i < n; ++i) {
    const int64_t id = mg::nn::sample_token(kLogits, o, g);
    ++counts[static_cast<size_t>(id)];
    if (i < 50) first.push_back(id);
  }
  CHECK(g.offset == static_cast<uint64_t>(n));
  for (size_t i = 0; i < p.size(); ++i) {
    CAPTURE(i);
    if (p[i] == 0) {
      CHECK(counts[i] == 0);
    } else {
      // Within five standard deviations of the expected count.
      const double expected = n * p[i], sd = std::sqrt(n * p[i] * (1 - p[i]));
      CHECK(std::abs(counts[i] - expected) < 5 * sd);
    }
  }
  // The same seed gives the same tokens; another seed gives others.
  mg::Generator again{42, 0}, other{43, 0};
  std::vector<int64_t> same, different;
  for (int i = 0; i < 50; ++i) {
    same.push_back(mg::nn::sample_token(kLogits, o, again));
    different.push_back(mg::nn::sample_token(kLogits, o, other));
  }
  CHECK(same == first);
  CHECK(different != first);
}

TEST_CASE("sampling: a logit of -inf masks its id before temperature, top-k and top-p") {
  // The two most likely ids (1 and 5) masked: the others share the probability as if alone.
  std::vector<float> masked = kLogits;
  masked[1] = masked[5] = -INFINITY;
  std::vector<float> rest;
  for (size_t i = 0; i < kLogits.size(); ++i)
    if (i != 1 && i != 5) rest.push_back(kLogits[i]);
  const std::vector<double> got = mg::nn::sampling_distribution(masked, {false, 2.0, 0, 1.0});
  const std::vector<double> want = softmax(rest, 2.0);
  for (size_t i = 0, j = 0; i < got.size(); ++i) {
    CAPTURE(i);
    if (i == 1 || i == 5) CHECK(got[i] == 0.0);
    else CHECK(got[i] == doctest::Approx(want[j++]).epsilon(1e-12));
  }
  // Top-k and top-p count only what is left; greedy takes the best id left.
  const std::vector<double> top2 = mg::nn::sampling_distribution(masked, {false, 1.0, 2, 1.0});
  CHECK(top2[3] > 0);
  CHECK(top2[0] > 0);
  CHECK(top2[3] + top2[0] == doctest::Approx(1.0));
  mg::Generator generator{7, 0};
  CHECK(mg::nn::sample_token(masked, {true, 1.0, 0, 1.0}, generator) == 3);
  for (int draw = 0; draw < 200; ++draw) {
    const int64_t id = mg::nn::sample_token(masked, {false, 1.0, 0, 0.9}, generator);
    CHECK(id != 1);
    CHECK(id != 5);
  }
  // Nothing left to draw is an error, not an arbitrary id.
  const std::vector<float> none(4, -INFINITY);
  for (bool greedy : {true, false})
    CHECK_THROWS_WITH_AS(mg::nn::sample_token(none, {greedy, 1.0, 0, 1.0}, generator),
                         doctest::Contains("every token is masked"), mg::Error);
}
