#include "apps/jazz-vae/pictures.h"

#include <filesystem>

#include <fmt/format.h>

// To read the epoch frames back for the GIF (io/ writes PNG but does not read it).
#define STBI_ONLY_PNG
#define STB_IMAGE_IMPLEMENTATION
#include <stb_image.h>

#include "tensor/error.h"

namespace jazz {

std::string short_label(const std::string& clip_name) {
  std::string name = clip_name, suffix;
  if (const size_t at = name.find('@'); at != std::string::npos) {
    suffix = name.substr(at);
    name.resize(at);
  }
  for (const char* ext : {".wav", ".au", ".flac", ".ogg", ".WAV", ".AU", ".FLAC", ".OGG"}) {
    const std::string e = ext;
    if (name.size() > e.size() && name.compare(name.size() - e.size(), e.size(), e) == 0) name.resize(name.size() - e.size());
  }
  if (const size_t dot = name.rfind('.'); dot != std::string::npos && dot + 1 < name.size()) name = name.substr(dot + 1);
  return name + suffix;
}

std::string epoch_frame_path(const std::string& out_dir, int epoch) {
  return fmt::format("{}/epochs/epoch-{:03}.png", out_dir, epoch);
}

mg::io::Image epoch_grid(const std::string& path, int epoch, const std::vector<mg::io::WaveformPanel>& panels) {
  mg::io::WaveformGridOptions opt;
  opt.width = 960;
  opt.height = 720;
  opt.title = fmt::format("decoded clips after epoch {}", epoch);
  opt.y_min = -1.0f;
  opt.y_max = 1.0f;
  return mg::io::waveform_grid(path, panels, opt);
}

std::vector<mg::io::Image> read_epoch_frames(const std::string& out_dir, int last) {
  std::vector<mg::io::Image> frames;
  for (int e = 1; e <= last; ++e) {
    const std::string path = epoch_frame_path(out_dir, e);
    int w = 0, h = 0, n = 0;
    unsigned char* px = stbi_load(path.c_str(), &w, &h, &n, 3);
    if (!px) mg::fail("{}: cannot read the frame of epoch {} for training.gif ({})", path, e, stbi_failure_reason());
    mg::io::Image img(w, h);
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        const unsigned char* p = px + 3 * (static_cast<size_t>(y) * w + x);
        img.set(x, y, {p[0], p[1], p[2]});
      }
    stbi_image_free(px);
    frames.push_back(std::move(img));
  }
  return frames;
}

void latent_map(const std::string& path, const std::vector<LatentPoint>& points, int64_t latent) {
  std::vector<mg::io::ScatterPoint> pts;
  for (const LatentPoint& p : points) pts.push_back({p.x, p.y, p.held_out ? 1 : 0, p.label});
  mg::io::ScatterOptions opt;
  opt.title = latent == 2 ? "latent means of the clips" : fmt::format("latent means: first 2 of {} dimensions", latent);
  opt.x_label = "z1";
  opt.y_label = latent > 1 ? "z2" : "";
  opt.group_names = {"training", "held-out"};
  opt.radius = 4.0;
  mg::io::scatter_chart(path, pts, opt);
}

void reconstruction_picture(const std::string& path, const FeatureConfig& f, const Clip& clip,
                            const std::vector<float>& decoded) {
  mg::io::SpectrogramPanel in = clip_spectrogram(f, clip.audio), out = decoded_spectrogram(f, decoded);
  in.title = "input: " + clip.name;
  out.title = "reconstruction (z = mean)";
  mg::io::SpectrogramOptions opt;
  opt.seconds_per_frame = static_cast<double>(f.hop) / f.sample_rate;
  opt.hz_per_bin = static_cast<double>(f.sample_rate) / f.n_fft;
  opt.x_label = "seconds";
  opt.y_label = "Hz";
  // Shared colour scale: the input's range, floored 80 dB below its peak.
  float top = -1e30f;
  for (float v : in.values) top = std::max(top, v);
  opt.v_max = top;
  opt.v_min = top - 80.0f;
  mg::io::spectrogram_stack(path, {in, out}, opt);
}

void loss_curves(const std::string& path, const mg::app::CsvLog& log) {
  const std::vector<double> epoch = log.column("epoch");
  mg::io::LineChartOptions top;
  top.title = "loss per clip";
  top.x_label = "epoch";
  top.log_y = true;
  top.markers = epoch.size() < 30;
  top.height = 400;
  mg::io::LineChartOptions bottom = top;
  bottom.title = "KL(q(z|x) || N(0, I)) per clip";
  bottom.log_y = false;
  mg::io::Image a = mg::io::render_line_chart({{"training loss", epoch, log.column("train_loss"), {}},
                                               {"held-out reconstruction", epoch, log.column("heldout_recon"), {}}},
                                              top);
  mg::io::Image b = mg::io::render_line_chart(
      {{"training", epoch, log.column("train_kl"), {}}, {"held-out", epoch, log.column("heldout_kl"), {}}}, bottom);
  mg::io::Image img(a.width(), a.height() + b.height());
  img.blit(a, 0, 0);
  img.blit(b, 0, a.height());
  img.write_png(path);
}

}  // namespace jazz
