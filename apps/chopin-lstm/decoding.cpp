// Generation, shared by generate and eval: pieces continue their primers as
// one batch, one token each per step, with the timed grammar masking what
// cannot come next.
#include <algorithm>
#include <cmath>
#include <optional>

#include "apps/chopin-lstm/chopin.h"
#include "apps/common/progress.h"

namespace chopin {

namespace {

std::vector<mg::io::TimedToken> timed_tokens_of(const ChopinMeta& meta) {
  std::vector<mg::io::TimedToken> tokens;
  if (meta.repr == "timed")
    for (const std::string& t : meta.vocab) tokens.push_back(mg::io::parse_timed_token(t));
  return tokens;
}

}  // namespace

PieceTracker::PieceTracker(const ChopinMeta& meta, const std::vector<int64_t>& primer, int64_t notes, double seconds)
    : timed_vocab_(timed_tokens_of(meta)), notes_(notes), seconds_(seconds) {
  if (timed_vocab_.empty()) return;
  for (int64_t id : primer) grammar_.advance(timed_vocab_[static_cast<size_t>(id)]);
  finishing_primer_note_ = grammar_.inside_note();
}

void PieceTracker::mask(std::vector<float>& logits) const {
  if (timed_vocab_.empty()) return;
  for (size_t id = 0; id < logits.size(); ++id)
    if (!grammar_.allows(timed_vocab_[id])) logits[id] = -INFINITY;
}

void PieceTracker::take(int64_t id) {
  if (timed_vocab_.empty()) {
    ids_.push_back(id);
    complete_ = static_cast<int64_t>(ids_.size()) == notes_;
    return;
  }
  const mg::io::TimedToken& token = timed_vocab_[static_cast<size_t>(id)];
  if (finishing_primer_note_) {
    grammar_.advance(token);
    finishing_primer_note_ = grammar_.inside_note();
    return;
  }
  decoder_.push(token);
  if (seconds_ > 0 && decoder_.now_seconds() > seconds_) {
    complete_ = true;
    return;
  }
  grammar_.advance(token);
  ids_.push_back(id);
  complete_ = seconds_ <= 0 && token.kind == mg::io::TimedKind::Vel && decoder_.notes() == notes_;
}

void generate_pieces(const mg::nn::ChopinLSTM& net, const std::vector<std::vector<int64_t>>& primers,
                     std::vector<PieceTracker>& pieces, const DecodingOptions& o, mg::Device device) {
  const int64_t B = static_cast<int64_t>(pieces.size()), V = net.config().vocab;
  MG_CHECK(primers.size() == pieces.size(), "generate_pieces: {} primers for {} pieces", primers.size(), B);
  if (B == 0) return;
  for (const auto& p : primers)
    MG_CHECK(!p.empty() && p.size() == primers[0].size(), "generate_pieces: primers must be of one length, not empty");
  mg::NoGradGuard no_grad;
  std::vector<mg::Generator> generators;
  for (int64_t b = 0; b < B; ++b) generators.push_back({o.seed + static_cast<uint64_t>(b), 0});

  // Window: the tokens each piece's next window holds; State: the tokens not yet fed.
  std::vector<std::vector<int64_t>> pending = primers;
  mg::nn::ChopinState state = net.start_state(B, device);
  auto logits_after_pending = [&] {
    std::vector<int64_t> flat;
    for (const auto& p : pending) flat.insert(flat.end(), p.begin(), p.end());
    const mg::Tensor x = net.encode_input(flat, B, static_cast<int64_t>(pending[0].size()), device);
    return (o.context == Context::State ? net.step(x, state) : net.forward(x)).to_vector<float>();  // [B, V]
  };
  // Long pieces show progress; short ones stay quiet.
  std::optional<mg::app::Progress> progress;
  if (o.max_tokens >= 10000) progress.emplace("generating", o.max_tokens, "tokens");
  for (int64_t i = 0; i < o.max_tokens; ++i) {
    const std::vector<float> logits = logits_after_pending();
    bool done = true;
    for (int64_t b = 0; b < B; ++b) {
      PieceTracker& piece = pieces[static_cast<size_t>(b)];
      std::vector<int64_t>& fed = pending[static_cast<size_t>(b)];
      int64_t next = fed.back();  // a complete piece is fed its last token again, to keep the batch; unread
      if (!piece.complete()) {
        std::vector<float> row(logits.begin() + b * V, logits.begin() + (b + 1) * V);
        piece.mask(row);
        next = mg::nn::sample_token(row, o.sampling, generators[static_cast<size_t>(b)]);
        piece.take(next);
        done = done && piece.complete();
      }
      if (o.context == Context::State) {
        fed.assign(1, next);
      } else {
        fed.push_back(next);  // slide: the newest in, the oldest out once the window is full
        if (static_cast<int64_t>(fed.size()) > o.window) fed.erase(fed.begin());
      }
    }
    if (progress) progress->update(i, 0.0, 1);
    if (done) break;
  }
  if (progress) progress->finish();
}

int64_t longest_repeat(const std::vector<int64_t>& ids) {
  int64_t longest = 0, run = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    run = i > 0 && ids[i] == ids[i - 1] ? run + 1 : 1;
    longest = std::max(longest, run);
  }
  return longest;
}

}  // namespace chopin
