// A two-layer LSTM learns to copy a sequence: at step t it must output the
// token it was shown at step t - 3, so it has to carry each token in its cell
// state for three steps. B = batch, T = steps, V = vocabulary.
#include <cstdio>
#include <random>
#include <vector>

#include "models/layers.h"
#include "models/optim.h"
#include "tensor/rng.h"

int main() {
  constexpr int64_t B = 32, T = 12, V = 8, H = 64, kDelay = 3;
  mg::manual_seed(1);
  mg::nn::Embedding embed(V, 16);
  mg::nn::LSTM lstm1(16, H), lstm2(H, H);
  mg::nn::Linear head(H, V);
  mg::nn::NamedTensors params;
  for (auto* m : std::vector<mg::nn::Module*>{&embed, &lstm1, &lstm2, &head})
    for (auto& p : m->named_parameters()) params.push_back(p);
  mg::nn::Adam opt(params, 1e-2);

  auto batch = [&](uint64_t seed, mg::Tensor& x, mg::Tensor& y) {
    std::mt19937 gen(static_cast<uint32_t>(seed));
    std::vector<int64_t> ids(B * T), targets(B * (T - kDelay));
    for (auto& id : ids) id = static_cast<int64_t>(gen() % V);
    for (int64_t b = 0; b < B; ++b)
      for (int64_t t = kDelay; t < T; ++t) targets[b * (T - kDelay) + t - kDelay] = ids[b * T + t - kDelay];
    x = mg::from_vector(ids, {B, T});
    y = mg::from_vector(targets, {B * (T - kDelay)});
  };
  // Logits for the steps that have a target: [B * (T - delay), V].
  auto logits_of = [&](const mg::Tensor& x) {
    auto [h1, s1] = lstm1.forward(embed.forward(x));
    auto [h2, s2] = lstm2.forward(h1);
    return head.forward(h2.slice(1, kDelay, T).contiguous()).reshape({B * (T - kDelay), V});
  };

  double accuracy = 0;
  for (int step = 1; step <= 400; ++step) {
    mg::Tensor x, y;
    batch(static_cast<uint64_t>(step), x, y);
    mg::Tensor loss = mg::cross_entropy(logits_of(x), y);
    opt.zero_grad();
    loss.backward();
    opt.step();
    if (step % 100 == 0) {
      mg::NoGradGuard no_grad;
      mg::Tensor xe, ye;
      batch(1000000 + static_cast<uint64_t>(step), xe, ye);  // unseen sequences
      const std::vector<int64_t> pred = mg::argmax_rows(logits_of(xe)).to_vector<int64_t>();
      const std::vector<int64_t> want = ye.to_vector<int64_t>();
      int64_t right = 0;
      for (size_t i = 0; i < pred.size(); ++i) right += pred[i] == want[i];
      accuracy = static_cast<double>(right) / static_cast<double>(pred.size());
      std::printf("step %d: loss %.4f, accuracy on unseen sequences %.1f%%\n", step, loss.item(), 100 * accuracy);
    }
  }
  return accuracy > 0.9 ? 0 : 1;
}
