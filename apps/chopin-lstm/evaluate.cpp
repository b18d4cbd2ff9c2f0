// chopin-lstm eval: held-out metrics on the same split as training (rebuilt
// from the checkpoint's settings), and generated music compared with the
// training music.
#include <cstdio>

#include "apps/chopin-lstm/chopin.h"
#include "apps/chopin-lstm/music_stats.h"

namespace chopin {

int run_eval(const EvalOptions& o) {
  const mg::Device device = mg::app::setup_device(o.common);
  LoadedModel lm = load_model(o.checkpoint, device);
  const std::string data = o.common.data.empty() ? lm.meta.data : o.common.data;
  const uint64_t seed = lm.meta.seed;
  Corpus corpus = load_corpus(data, lm.meta.min_count, seed);
  if (corpus.vocab != lm.meta.vocab)
    mg::fail("--data {}: its vocabulary differs from the checkpoint's ({} vs {} tokens); evaluate on the training data",
             data.empty() ? "(built-in)" : data, corpus.vocab.size(), lm.meta.vocab.size());
  Split split = split_windows(static_cast<int64_t>(corpus.ids.size()), lm.meta.seq_len, seed);
  HeldoutMetrics h = evaluate_windows(*lm.net, corpus.ids, split.heldout, lm.meta.seq_len, 256, device);
  std::printf("data: %s\n", corpus.source.c_str());
  std::printf("held-out windows: %lld\nheld-out loss: %.4f\nheld-out perplexity: %.2f\nheld-out top-1 accuracy: %.2f%%\n",
              static_cast<long long>(h.windows), h.loss, h.perplexity, 100 * h.accuracy);

  // Generated music: a few pieces continued from held-out primers.
  std::vector<std::string> generated;
  for (int64_t p = 0; p < o.pieces && p < static_cast<int64_t>(split.heldout.size()); ++p) {
    const int64_t st = split.heldout[static_cast<size_t>(p)];
    std::vector<int64_t> window(corpus.ids.begin() + st, corpus.ids.begin() + st + lm.meta.seq_len);
    Sampler s{o.temperature, 0, 1.0, o.common.seed + static_cast<uint64_t>(p)};
    for (int64_t id : generate_tokens(*lm.net, window, o.notes, s, device))
      generated.push_back(lm.meta.vocab[static_cast<size_t>(id)]);
  }
  std::vector<std::string> training;
  for (int64_t id : corpus.ids) training.push_back(lm.meta.vocab[static_cast<size_t>(id)]);
  std::printf("\ngenerated: %lld pieces x %lld tokens (%s), versus the training music\n",
              static_cast<long long>(o.pieces), static_cast<long long>(o.notes),
              o.temperature > 0 ? fmt::format("temperature {}", o.temperature).c_str() : "greedy");
  print_stats_table(music_stats(training), "training", music_stats(generated), "generated");
  return 0;
}

}  // namespace chopin
