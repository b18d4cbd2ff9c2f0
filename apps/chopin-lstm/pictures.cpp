// chopin-lstm's training pictures, beside the numbers of log.csv.
#include "apps/chopin-lstm/pictures.h"

#include <fmt/format.h>

#include "io/plot.h"

namespace chopin {

// The note-frequency histogram of the original notebook, with the rare-token threshold.
void draw_histogram(const Corpus& c, int64_t min_count, const std::string& path) {
  std::vector<mg::io::Bar> bars;
  for (const auto& [token, n] : c.counts) bars.push_back({token, static_cast<double>(n)});
  mg::io::BarChartOptions opt;
  opt.title = fmt::format("token counts: {} tokens, {} distinct, {} kept", c.raw_tokens, c.raw_distinct, c.vocab.size());
  opt.x_label = "token (most frequent first)";
  opt.y_label = "count";
  opt.log_y = true;
  opt.threshold = static_cast<double>(min_count);
  opt.threshold_label = fmt::format("min-count {}", min_count);
  opt.width = 1200;
  mg::io::bar_chart(path, bars, opt);
}

// Loss above, accuracy below: one picture, each curve on a scale where it moves.
void draw_curves(const mg::app::CsvLog& log, const std::string& path) {
  const std::vector<double> epoch = log.column("epoch");
  std::vector<double> accuracy = log.column("heldout_accuracy");
  for (double& a : accuracy) a *= 100;
  mg::io::LineChartOptions opt;
  opt.x_label = "epoch";
  opt.markers = epoch.size() < 30;
  opt.height = 400;
  opt.title = "chopin-lstm: cross-entropy loss";
  opt.y_label = "loss";
  const mg::io::Image loss = mg::io::render_line_chart(
      {{"train", epoch, log.column("train_loss"), {}},
       {"held-out, after the window", epoch, log.column("heldout_loss"), {}},
       {"held-out, every position", epoch, log.column("heldout_loss_all"), {}}},
      opt);
  opt.title = "held-out top-1 accuracy";
  opt.y_label = "accuracy (%)";
  const mg::io::Image acc = mg::io::render_line_chart({{"held-out", epoch, accuracy, mg::io::series_color(2)}}, opt);
  mg::io::Image both(opt.width, loss.height() + acc.height());
  both.blit(loss, 0, 0);
  both.blit(acc, 0, loss.height());
  both.write_png(path);
}

}  // namespace chopin
