#pragma once
// Choosing the next token from a model's logits: greedy (argmax), or a draw
// from softmax(logits / temperature) restricted to the k most likely tokens
// (top-k) and then to the smallest set of most likely tokens whose
// probability reaches p (top-p, nucleus sampling; Holtzman et al. 2020).
//
// A logit of -inf masks its id (a token a grammar refuses): it is never
// drawn, and temperature, top-k and top-p act on the ids left, as if the
// masked ones were not in the vocabulary (top-k may then keep fewer than k).
//
// Draws come from the project's Philox generator (tensor/rng.h), one counter
// per token, so the same (seed, offset) gives the same tokens with every
// compiler and standard library.
#include <cstdint>
#include <vector>

#include "tensor/rng.h"

namespace mg::nn {

struct SamplingOptions {
  bool greedy = false;       // argmax; temperature, top-k and top-p are then unused
  double temperature = 1.0;  // > 0; 0 means greedy
  int64_t top_k = 0;         // 0: no limit
  double top_p = 1.0;        // (0, 1]
};

// The probability of each id under the options (zero outside the kept set;
// the kept set's probabilities sum to 1). Greedy: 1 at the argmax (the
// lowest id among equal maxima). Throws mg::Error for empty logits, every
// logit -inf, a negative temperature, a negative top-k or a top-p outside (0, 1].
std::vector<double> sampling_distribution(const std::vector<float>& logits, const SamplingOptions& options);

// One id drawn from sampling_distribution(logits, options) with one counter
// of `generator` (greedy consumes none).
int64_t sample_token(const std::vector<float>& logits, const SamplingOptions& options, Generator& generator);

}  // namespace mg::nn
