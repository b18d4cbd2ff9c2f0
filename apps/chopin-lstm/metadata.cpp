// chopin-lstm checkpoints: the metadata every command reads, checked field by
// field, the model rebuilt from it, and the settings a --resume keeps.
#include <algorithm>
#include <numeric>

#include "apps/chopin-lstm/chopin.h"
#include "io/music_tokens.h"
#include "io/timed_tokens.h"
#include "io/utf8.h"

namespace chopin {

namespace {

// The model's sizes; the vocabulary size must equal the stored vocabulary's.
mg::nn::ChopinConfig read_config(const mg::nn::MetaReader& m, int64_t vocab) {
  mg::nn::ChopinConfig c;
  c.input = m.one_of("input", {"seed", "embed"});
  c.vocab = m.integer("vocab", vocab, vocab);
  c.hidden1 = m.integer("hidden1", 1, kMaxLayer);
  c.hidden2 = m.integer("hidden2", 1, kMaxLayer);
  c.dense = m.integer("dense", 1, kMaxLayer);
  c.embed_dim = m.integer("embed_dim", 1, kMaxLayer);
  c.dropout = m.number("dropout", 0, kMaxDropout);
  return c;
}

std::vector<std::string> read_vocabulary(const mg::nn::MetaReader& m, const std::string& repr) {
  const nlohmann::json& list = m.array("vocab", kMaxVocab);
  if (list.size() < 2) m.fail_field("vocab", fmt::format("{} token(s); a model needs at least 2", list.size()));
  std::vector<std::string> vocab;
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string field = fmt::format("vocab[{}]", i);
    const bool timed = repr == "timed";
    if (!list[i].is_string() || list[i].get_ref<const std::string&>().size() > 64)
      m.fail_field(field, timed ? "expected a token such as Pos_12 or Pitch_60" : "expected a token such as C4 or 5.8.10");
    const std::string& token = list[i].get_ref<const std::string&>();
    if (timed) {
      if (!mg::io::is_timed_token(token)) m.fail_field(field, fmt::format("'{}' is not a timed token", token));
    } else {
      try {
        mg::io::token_to_notes(token, 0);
      } catch (const mg::Error&) {
        m.fail_field(field, fmt::format("'{}' is not a note or chord token", token));
      }
    }
    if (!vocab.empty() && !(vocab.back() < token)) m.fail_field(field, "the vocabulary is not sorted without repeats");
    vocab.push_back(token);
  }
  return vocab;
}

std::vector<std::vector<int64_t>> read_primers(const mg::nn::MetaReader& m, int64_t seq_len, int64_t vocab) {
  const nlohmann::json& list = m.array("primers", kMaxPrimers);
  std::vector<std::vector<int64_t>> primers;
  for (size_t i = 0; i < list.size(); ++i) {
    const nlohmann::json& window = list[i];
    if (!window.is_array() || static_cast<int64_t>(window.size()) != seq_len)
      m.fail_field(fmt::format("primers[{}]", i), fmt::format("expected {} token ids", seq_len));
    std::vector<int64_t> ids;
    for (const nlohmann::json& id : window) {
      if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() >= vocab)
        m.fail_field(fmt::format("primers[{}]", i), fmt::format("expected token ids in [0, {})", vocab));
      ids.push_back(id.get<int64_t>());
    }
    primers.push_back(std::move(ids));
  }
  return primers;
}

}  // namespace

ChopinMeta read_metadata(const mg::nn::Checkpoint& ck, const std::string& path) {
  const mg::nn::MetaReader m(ck.meta, path);
  ChopinMeta out;
  // Checkpoints written before the timed representation hold seed tokens and the next-token objective.
  if (m.has("repr")) out.repr = m.one_of("repr", {"seed", "timed"});
  if (m.has("objective")) out.objective = m.one_of("objective", {"next", "all"});
  if (m.has("stride")) out.stride = m.integer("stride", 1, kMaxSeqLen);
  out.vocab = read_vocabulary(m, out.repr);
  const int64_t vocab = static_cast<int64_t>(out.vocab.size());
  out.net = read_config(m.object("model"), vocab);
  out.seq_len = m.integer("seq_len", 1, kMaxSeqLen);
  out.primers = read_primers(m, out.seq_len, vocab);
  out.data = m.string("data");
  out.min_count = m.integer("min_count", 0, 1'000'000'000);
  out.batch = m.integer("batch", 1, kMaxBatch);
  out.max_steps = m.integer("max_steps", 0, 1'000'000'000);
  out.seed = m.unsigned_integer("seed");
  if (m.has("heldout_data")) out.heldout_data = m.string("heldout_data");
  if (m.has("holdout")) out.holdout = m.one_of("holdout", {"pieces", "windows"});
  if (m.has("augment")) {
    const std::string augment = m.string("augment", 64);
    try {
      out.augment = mg::nn::AugmentOptions::parse(augment).name();
    } catch (const mg::Error& e) {
      m.fail_field("augment", e.what());
    }
    if (out.augment != "none" && out.repr != "timed")
      m.fail_field("augment", "augmentation needs the timed representation");
  }
  if (m.has("patience")) out.patience = static_cast<int>(m.integer("patience", 0, mg::app::kMaxEpochs));
  out.state = mg::nn::TrainingState::read(m, mg::app::kMaxEpochs);
  if (out.state.learning_rate > kMaxLearningRate)
    m.fail_field("optimizer.lr", fmt::format("expected at most {}", kMaxLearningRate));

  // The config must describe the tensors the file holds, before a model of that size is built.
  const int64_t expected = out.net.parameter_count();
  const int64_t held = std::accumulate(ck.model.begin(), ck.model.end(), int64_t{0},
                                       [](int64_t n, const auto& named) { return n + named.second.numel(); });
  if (expected != held)
    m.fail_field("model", fmt::format("describes a network of {} parameters, but the file holds {}", expected, held));
  return out;
}

std::vector<mg::app::ResumedSetting> resumed_settings(const ChopinMeta& m, const TrainOptions& o) {
  auto text = [](const auto& v) { return fmt::format("{}", v); };
  return {{"--model", m.net.input, o.model},           {"--repr", m.repr, o.repr},
          {"--objective", m.objective, o.objective},   {"--stride", text(m.stride), text(o.stride)},
          {"--min-count", text(m.min_count), text(o.min_count)}, {"--seq-len", text(m.seq_len), text(o.seq_len)},
          {"--lr", text(m.state.learning_rate), text(o.lr)}, {"--max-steps", text(m.max_steps), text(o.max_steps)},
          {"--heldout-data", m.heldout_data, mg::io::valid_utf8(o.heldout_data)}, {"--holdout", m.holdout, o.holdout},
          {"--patience", text(m.patience), text(o.patience)}, {"--augment", m.augment, o.augment},
          {"--hidden1", text(m.net.hidden1), text(o.net.hidden1)},
          {"--hidden2", text(m.net.hidden2), text(o.net.hidden2)}, {"--dense", text(m.net.dense), text(o.net.dense)},
          {"--embed-dim", text(m.net.embed_dim), text(o.net.embed_dim)},
          {"--dropout", text(m.net.dropout), text(o.net.dropout)}, {"--batch", text(m.batch), text(o.common.batch)},
          {"--seed", text(m.seed), text(o.common.seed)}, {"--data", m.data, mg::io::valid_utf8(o.common.data)}};
}

LoadedModel load_model(const std::string& path, mg::Device device) {
  const mg::nn::Checkpoint ck = mg::nn::load_checkpoint(path, kApp);
  LoadedModel lm;
  lm.meta = read_metadata(ck, path);
  lm.net = std::make_shared<mg::nn::ChopinLSTM>(lm.meta.net);
  mg::nn::restore_for_inference(*lm.net, ck, path, device);
  return lm;
}

}  // namespace chopin
