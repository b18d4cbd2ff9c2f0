#pragma once
// The pictures beside the numbers: per-epoch waveform grids and their GIF,
// the latent map, input-versus-reconstruction spectrograms, loss curves.
#include <string>
#include <vector>

#include "apps/common/csv_log.h"
#include "apps/jazz-vae/dataset.h"
#include "models/jazz_vae.h"
#include "io/plot.h"

namespace jazz {

// The picture of one epoch: for each clip its input spectrogram above its
// reconstruction at z = mean, every panel on the colour scale of the first
// input (its peak to 80 dB below), so the frames of training.gif compare.
mg::io::Image epoch_frame(const std::string& path, int epoch, const FeatureConfig& f,
                          const std::vector<const Clip*>& clips, const std::vector<std::vector<float>>& decoded);

// The frames for training.gif: OUT/epochs/epoch-NNN.png for epochs 1..last.
std::vector<mg::io::Image> read_epoch_frames(const std::string& out_dir, int last);
std::string epoch_frame_path(const std::string& out_dir, int epoch);

// The latent map: one point per clip, a file's first clip labelled. A global
// latent shows its first two coordinates; a time-resolved one [Z, T] shows
// each clip's latent mean averaged over its frames, projected on the first
// two principal components of those averages (the axes say so).
struct LatentPoint {
  std::vector<float> z;  // the clip's latent mean, row-major [Z] or [Z, T]
  bool held_out = false;
  std::string label;
};
void latent_map(const std::string& path, const std::vector<LatentPoint>& points, const mg::nn::ConvVaeConfig& model);

// The first `count` principal components of row vectors [N][D] (unit length,
// by power iteration with deflation), and the share of the total variance each explains.
struct Principal {
  std::vector<std::vector<double>> axes;
  std::vector<double> explained;
};
Principal principal_components(const std::vector<std::vector<double>>& rows, int count);

// Input and reconstruction spectrograms of one clip on one colour scale.
void reconstruction_picture(const std::string& path, const FeatureConfig& f, const Clip& clip,
                            const std::vector<float>& decoded);

// Training loss and held-out reconstruction (log scale) above the KL terms.
void loss_curves(const std::string& path, const mg::app::CsvLog& log);

// A compact picture label for a clip name: "jazz.00054.wav@5s" -> "00054@5s"
// (names in one folder share their prefix and extension; labels must stay short).
std::string short_label(const std::string& clip_name);

}  // namespace jazz
