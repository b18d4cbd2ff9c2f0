// chopin-lstm eval: how well the model predicts music, and how its own music
// compares with real music.
//  - Without --data: the checkpoint's --heldout-data folder, as with --data;
//    without that either, what train held out of its data (the split rebuilt
//    from the checkpoint's settings): its whole held-out pieces, scored as a
//    --data folder is (--holdout pieces), or its held-out windows.
//  - With --data DIR: every window of another folder (or those starting every
//    --window-stride tokens; tokens outside the vocabulary are skipped and
//    counted): NLL per token after each window, NLL per token over every
//    position, and NLL per note (the summed NLL of each token once, over the
//    notes those tokens hold), comparable across representations.
// Then pieces generated from primers of that data are compared with pieces cut
// from it by the Yang-Lerch overlaps (music_stats.h); with --data, the
// training data compared the same way gives the ceiling. The same pieces are
// also measured by MusPy's per-piece metrics (muspy_metrics.h): the reference
// excerpts' 5th-95th percentile band, the generated median, and how many
// generated pieces fall inside the band.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <cstdio>

#include "apps/chopin-lstm/chopin.h"
#include "apps/common/report.h"
#include "apps/common/run_control.h"
#include "apps/chopin-lstm/music_stats.h"
#include "apps/chopin-lstm/muspy_metrics.h"
#include "io/music_tokens.h"
#include "io/timed_tokens.h"

namespace chopin {

namespace {

mg::io::TimedPiece decode_tokens(const std::vector<std::string>& tokens, const std::string& repr) {
  if (repr == "timed") return mg::io::timed_tokens_to_piece(tokens);
  mg::io::TimedPiece p;
  p.notes = mg::io::tokens_to_notes(tokens);
  p.end_beats = static_cast<double>(tokens.size());
  return p;
}

// Notes a token holds: a Pitch token one; a seed token its notes.
int64_t notes_in(const std::string& token, const std::string& repr) {
  if (repr == "timed") return token.rfind("Pitch_", 0) == 0 ? 1 : 0;
  return static_cast<int64_t>(mg::io::token_to_notes(token, 0).size());
}

// A piece cut into consecutive pieces of `notes` notes each, every one
// starting at time 0 with the bar lines that fall inside it.
std::vector<mg::io::TimedPiece> cut(const mg::io::TimedPiece& p, size_t notes) {
  std::vector<mg::io::TimedPiece> out;
  for (size_t first = 0; first + notes <= p.notes.size(); first += notes) {
    mg::io::TimedPiece c;
    const double from = p.notes[first].start_beats;
    const double to = first + notes < p.notes.size() ? p.notes[first + notes].start_beats
                                                     : p.notes.back().start_beats + p.notes.back().duration_beats;
    for (size_t i = first; i < first + notes; ++i) {
      mg::io::NoteEvent n = p.notes[i];
      n.start_beats -= from;
      c.notes.push_back(n);
    }
    for (double b : p.bar_starts)
      if (b >= from && b < to) c.bar_starts.push_back(b - from);
    c.end_beats = to - from;
    out.push_back(std::move(c));
  }
  return out;
}

// At most n of v, evenly spaced.
template <class T>
std::vector<T> spread(const std::vector<T>& v, size_t n) {
  if (v.size() <= n) return v;
  std::vector<T> out;
  for (size_t i = 0; i < n; ++i) out.push_back(v[i * v.size() / n]);
  return out;
}

std::vector<PieceFeatures> features_of(const std::vector<mg::io::TimedPiece>& pieces) {
  std::vector<PieceFeatures> f;
  for (const auto& p : pieces) f.push_back(piece_features(p));
  return f;
}

}  // namespace

int run_eval(const EvalOptions& o) {
  const mg::Device device = mg::app::setup_device(o.common);
  LoadedModel lm = load_model(o.checkpoint, device);
  const ChopinMeta& meta = lm.meta;
  const int64_t T = meta.seq_len;
  const std::vector<std::string>& vocab = meta.vocab;
  std::printf("model: %s input, %s representation, objective %s, vocabulary %zu\n", meta.net.input.c_str(),
              meta.repr.c_str(), meta.objective.c_str(), vocab.size());

  std::vector<std::vector<std::string>> reference_files;  // the music the generated pieces are compared with
  std::vector<std::vector<int64_t>> primers;
  // Music the model never trained on, as one stream of ids and as pieces of token text: every window
  // scored, each token once for the NLL per note, primers evenly spaced over it.
  auto score_music = [&](const std::vector<int64_t>& ids, std::vector<std::vector<std::string>> pieces) {
    const int64_t windows = static_cast<int64_t>(ids.size()) - T;
    std::vector<int64_t> every, tiled;
    // By default as many windows as every window of 40 tokens would cost: every window for the seed's 40.
    const int64_t stride = o.window_stride > 0 ? o.window_stride : std::max<int64_t>(1, T / 40);
    for (int64_t s = 0; s < windows; s += stride) every.push_back(s);
    for (int64_t s = 0; s < windows; s += T) tiled.push_back(s);
    const mg::nn::WindowMetrics h = mg::nn::evaluate_windows(*lm.net, ids, every, T, 256, device);
    // Each token after the first once: the windows that tile the stream.
    const mg::nn::WindowMetrics once = mg::nn::evaluate_windows(*lm.net, ids, tiled, T, 256, device);
    int64_t notes = 0;
    for (int64_t s : tiled)
      for (int64_t i = s + 1; i <= s + T; ++i) notes += notes_in(vocab[static_cast<size_t>(ids[static_cast<size_t>(i)])], meta.repr);
    std::printf("windows: %lld\nNLL per token after each window: %.4f (perplexity %.2f, top-1 accuracy %.2f%%)\n"
                "NLL per token over all positions: %.4f\nNLL per note: %.4f (%lld tokens predicted once, %lld notes)\n",
                static_cast<long long>(h.windows), h.loss, h.perplexity, 100 * h.accuracy, h.loss_all,
                notes > 0 ? once.nll_sum_all / static_cast<double>(notes) : NAN,
                static_cast<long long>(once.windows * T), static_cast<long long>(notes));
    reference_files = std::move(pieces);
    // Primers evenly spaced over the windows that tile the music, whatever --window-stride scores.
    for (size_t p = 0; p < static_cast<size_t>(o.pieces); ++p) {
      const int64_t start = tiled[p * tiled.size() / static_cast<size_t>(o.pieces)];
      primers.emplace_back(ids.begin() + static_cast<long>(start), ids.begin() + static_cast<long>(start + T));
    }
  };
  // A model trained with --heldout-data is evaluated on that folder unless --data names another.
  const std::string data_dir = o.common.data.empty() ? meta.heldout_data : o.common.data;
  if (data_dir.empty()) {
    Corpus corpus = load_corpus(meta.data, meta.min_count, meta.seed, meta.repr);
    if (corpus.vocab != vocab)
      mg::fail("{}: its training data ({}) no longer gives its vocabulary ({} vs {} tokens)", o.checkpoint,
               corpus.source, corpus.vocab.size(), vocab.size());
    std::printf("data: %s\n", corpus.source.c_str());
    Split split = split_windows(static_cast<int64_t>(corpus.ids.size()), T, meta.seed);
    if (meta.holdout == "pieces") {  // the whole pieces train held out
      const PieceHoldout held = hold_out_pieces(corpus, T, split);
      std::printf("held out: %zu whole pieces\n", held.names.size());
      std::vector<std::vector<std::string>> pieces;
      for (const auto& piece : held.pieces) {
        std::vector<std::string>& text = pieces.emplace_back();
        for (int64_t id : piece) text.push_back(vocab[static_cast<size_t>(id)]);
      }
      score_music(held.ids, std::move(pieces));
    } else {
      mg::nn::WindowMetrics h = mg::nn::evaluate_windows(*lm.net, corpus.ids, split.heldout, T, 256, device);
      std::printf("held-out windows: %lld\nheld-out loss: %.4f\nheld-out perplexity: %.2f\nheld-out top-1 accuracy: "
                  "%.2f%%\nheld-out loss over all positions: %.4f\n",
                  static_cast<long long>(h.windows), h.loss, h.perplexity, 100 * h.accuracy, h.loss_all);
      reference_files = load_pieces(meta.data, meta.seed, meta.repr).pieces;
      for (size_t p = 0; p < static_cast<size_t>(o.pieces) && p < split.heldout.size(); ++p) {
        const int64_t st = split.heldout[p];
        primers.emplace_back(corpus.ids.begin() + st, corpus.ids.begin() + st + T);
      }
    }
  } else {
    FolderIds folder = load_folder_ids(data_dir, o.common.data.empty() ? "--heldout-data" : "--data", "data",
                                       meta.seed, meta.repr, vocab, T);
    score_music(folder.ids, std::move(folder.data.pieces));
  }

  // Generated pieces as one batch, piece p from its own primer and with seed + p.
  const bool timed = meta.repr == "timed";
  std::vector<PieceTracker> pieces;
  for (const auto& primer : primers) pieces.emplace_back(meta, primer, o.notes);
  const DecodingOptions decoding{{false, o.temperature, 0, o.top_p}, o.context, T,
                                 timed ? 16 * o.notes + 1000 : o.notes, o.common.seed};
  generate_pieces(*lm.net, primers, pieces, decoding, device);
  std::vector<mg::io::TimedPiece> generated;
  int64_t longest = 0;
  for (const PieceTracker& piece : pieces) {
    longest = std::max(longest, longest_repeat(piece.ids()));
    std::vector<std::string> tokens;
    for (int64_t id : piece.ids()) tokens.push_back(vocab[static_cast<size_t>(id)]);
    generated.push_back(decode_tokens(tokens, meta.repr));
  }
  size_t notes = 0;
  for (const auto& g : generated) notes += g.notes.size();
  notes = std::max<size_t>(1, notes / std::max<size_t>(1, generated.size()));

  auto chunks_of = [&](const std::vector<std::vector<std::string>>& files, size_t n) {
    std::vector<mg::io::TimedPiece> all;
    for (const auto& f : files)
      for (auto& c : cut(decode_tokens(f, meta.repr), notes)) all.push_back(std::move(c));
    return spread(all, n);
  };
  const std::vector<mg::io::TimedPiece> reference = chunks_of(reference_files, static_cast<size_t>(o.max_reference));
  const bool held_pieces = data_dir.empty() && meta.holdout == "pieces";
  const std::string reference_source = !data_dir.empty() ? data_dir
                                       : held_pieces     ? "the held-out pieces of the training data"
                                                         : "the training data";
  if (reference.size() < 2)
    mg::fail("{}: fewer than two pieces of {} notes to compare with",
             data_dir.empty() ? reference_source : (o.common.data.empty() ? "--heldout-data " : "--data ") + data_dir, notes);
  const std::vector<PieceFeatures> ref_features = features_of(reference);
  const auto overlap = yang_lerch_overlap(features_of(generated), ref_features);
  std::optional<std::array<double, kYangLerchFeatures>> ceiling;
  if (!data_dir.empty() || held_pieces) {  // music never trained on: the training pieces give the ceiling
    std::vector<std::vector<std::string>> training = load_pieces(meta.data, meta.seed, meta.repr).pieces;
    if (held_pieces) {
      const std::vector<size_t> held = heldout_piece_numbers(training.size());
      for (auto it = held.rbegin(); it != held.rend(); ++it) training.erase(training.begin() + static_cast<long>(*it));
    }
    ceiling = yang_lerch_overlap(features_of(chunks_of(training, generated.size())), ref_features);
  }

  std::printf("\ngenerated: %zu pieces of about %zu notes (%s), longest run of one token: %lld\n", generated.size(),
              notes,
              o.temperature > 0 ? fmt::format("temperature {}, top-p {}", o.temperature, o.top_p).c_str() : "greedy",
              static_cast<long long>(longest));
  std::printf("reference: %zu pieces of %zu notes cut from %s\n\n", reference.size(), notes, reference_source.c_str());
  std::printf("| Yang-Lerch overlap        | generated |%s\n|---------------------------|-----------|%s\n",
              ceiling ? " training data (ceiling) |" : "", ceiling ? "-------------------------|" : "");
  double mean = 0, mean_ceiling = 0;
  for (int k = 0; k < kYangLerchFeatures; ++k) {
    const size_t i = static_cast<size_t>(k);
    mean += overlap[i] / kYangLerchFeatures;
    if (ceiling) mean_ceiling += (*ceiling)[i] / kYangLerchFeatures;
    std::printf("| %-25s | %9.3f |%s\n", feature_names()[i], overlap[i],
                ceiling ? fmt::format(" {:23.3f} |", (*ceiling)[i]).c_str() : "");
  }
  std::printf("| %-25s | %9.3f |%s\n", "mean", mean, ceiling ? fmt::format(" {:23.3f} |", mean_ceiling).c_str() : "");

  auto muspy_of = [](const std::vector<mg::io::TimedPiece>& ps) {
    std::vector<MuspyValues> out;
    for (const auto& p : ps) out.push_back(muspy_metrics(p));
    return out;
  };
  const MuspyComparison muspy = compare_muspy_metrics(muspy_of(generated), muspy_of(reference));
  size_t inside = 0, pairs = 0;
  for (const MetricRange& r : muspy.rows) {
    inside += r.inside;
    pairs += r.generated;
  }
  std::printf("\n%s(metric, piece) pairs inside the reference band: %zu of %zu\n", muspy.table().c_str(), inside, pairs);

  nlohmann::json record = {{"generated_pieces", generated.size()}, {"longest_run", longest}, {"mean_overlap", mean}};
  if (ceiling) record["mean_overlap_training"] = mean_ceiling;
  for (int k = 0; k < kYangLerchFeatures; ++k) record["overlap"][feature_names()[static_cast<size_t>(k)]] = overlap[static_cast<size_t>(k)];
  for (const MetricRange& r : muspy.rows)
    record["muspy"][r.name] = {{"reference_p5", r.reference_p5}, {"reference_p95", r.reference_p95},
                               {"generated_median", r.generated_median}, {"inside", r.inside}, {"pieces", r.generated}};
  record["muspy_inside"] = inside;
  record["muspy_pairs"] = pairs;
  mg::app::json_record(record);

  // The table on the page of the checkpoint's folder.
  try {
    const std::filesystem::path parent = std::filesystem::path(o.checkpoint).parent_path();
    mg::app::RunReport report(parent.empty() ? "." : parent.string(), "chopin-lstm");
    mg::app::ReportSection& page = report.start("eval", mg::app::command_line());
    page.set("generated", fmt::format("{} pieces of about {} notes, longest run of one token {}", generated.size(), notes, longest));
    page.set("reference", fmt::format("{} pieces cut from {}", reference.size(), reference_source));
    std::vector<std::string> columns = {"Yang-Lerch overlap", "generated"};
    if (ceiling) columns.push_back("training data (ceiling)");
    mg::app::ReportTable& t = page.table("Generated pieces against the reference (1 = indistinguishable)", columns);
    for (int k = 0; k <= kYangLerchFeatures; ++k) {
      const size_t i = static_cast<size_t>(k);
      std::vector<mg::app::ReportValue> row = {k < kYangLerchFeatures ? feature_names()[i] : "mean",
                                               k < kYangLerchFeatures ? overlap[i] : mean};
      if (ceiling) row.push_back(k < kYangLerchFeatures ? (*ceiling)[i] : mean_ceiling);
      t.add(std::move(row));
    }
    mg::app::ReportTable& m = page.table(
        "MusPy metrics: the reference excerpts' 5th-95th percentile band and the generated pieces",
        {"MusPy metric", "reference p5", "reference p95", "generated median", "pieces inside"});
    for (const MetricRange& r : muspy.rows)
      m.add({r.name, r.reference_p5, r.reference_p95, r.generated_median, fmt::format("{}/{}", r.inside, r.generated)});
    report.save();
  } catch (const mg::Error& e) {
    std::fprintf(stderr, "warning: report not updated: %s\n", e.what());
  }
  return 0;
}

}  // namespace chopin
