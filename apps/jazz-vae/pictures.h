#pragma once
// The pictures beside the numbers: per-epoch waveform grids and their GIF,
// the latent map, input-versus-reconstruction spectrograms, loss curves.
#include <string>
#include <vector>

#include "apps/common/csv_log.h"
#include "apps/jazz-vae/dataset.h"
#include "io/plot.h"

namespace jazz {

// A 4x4 grid of decoded clips on a fixed [-1, 1] scale so GIF frames compare; returns the frame.
mg::io::Image epoch_grid(const std::string& path, int epoch, const std::vector<mg::io::WaveformPanel>& panels);

// The frames for training.gif: OUT/epochs/epoch-NNN.png for epochs 1..last.
std::vector<mg::io::Image> read_epoch_frames(const std::string& out_dir, int last);
std::string epoch_frame_path(const std::string& out_dir, int epoch);

// The first two latent coordinates of every clip; a file's first clip is labelled.
struct LatentPoint {
  float x = 0, y = 0;
  bool held_out = false;
  std::string label;
};
void latent_map(const std::string& path, const std::vector<LatentPoint>& points, int64_t latent);

// Input and reconstruction spectrograms of one clip on one colour scale.
void reconstruction_picture(const std::string& path, const FeatureConfig& f, const Clip& clip,
                            const std::vector<float>& decoded);

// Training loss and held-out reconstruction (log scale) above the KL terms.
void loss_curves(const std::string& path, const mg::app::CsvLog& log);

// A compact picture label for a clip name: "jazz.00054.wav@5s" -> "00054@5s"
// (names in one folder share their prefix and extension; labels must stay short).
std::string short_label(const std::string& clip_name);

}  // namespace jazz
