#include "apps/jazz-vae/pictures.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include <fmt/format.h>

// To read the epoch frames back for the GIF (io/ writes PNG but does not read it).
#define STBI_ONLY_PNG
#define STB_IMAGE_IMPLEMENTATION
#include <stb_image.h>

#include "apps/jazz-vae/jazz.h"
#include "io/atomic_file.h"
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

namespace {

mg::io::SpectrogramOptions spectrogram_axes(const FeatureConfig& f) {
  mg::io::SpectrogramOptions opt;
  opt.seconds_per_frame = static_cast<double>(f.hop) / f.sample_rate;
  opt.hz_per_bin = static_cast<double>(f.sample_rate) / f.n_fft;
  opt.x_label = "seconds";
  opt.y_label = "Hz";
  return opt;
}

// The colour scale of a reference panel: its peak to 80 dB below.
void scale_to(mg::io::SpectrogramOptions& opt, const mg::io::SpectrogramPanel& reference) {
  float top = -1e30f;
  for (float v : reference.values) top = std::max(top, v);
  opt.v_max = top;
  opt.v_min = top - 80.0f;
}

}  // namespace

mg::io::Image epoch_frame(const std::string& path, int epoch, const FeatureConfig& f,
                          const std::vector<const Clip*>& clips, const std::vector<std::vector<float>>& decoded) {
  std::vector<mg::io::SpectrogramPanel> panels;
  for (size_t i = 0; i < clips.size(); ++i) {
    mg::io::SpectrogramPanel in = clip_spectrogram(f, clips[i]->audio), out = decoded_spectrogram(f, decoded[i]);
    in.title = "input: " + clips[i]->name;
    out.title = fmt::format("reconstruction after epoch {} (z = mean)", epoch);
    panels.push_back(std::move(in));
    panels.push_back(std::move(out));
  }
  mg::io::SpectrogramOptions opt = spectrogram_axes(f);
  opt.panel_height = 170;
  scale_to(opt, panels.front());
  mg::io::Image img = mg::io::render_spectrogram_stack(panels, opt);
  mg::io::ensure_subfolder(std::filesystem::path(path).parent_path().string());
  img.write_png(path);
  return img;
}

std::vector<mg::io::Image> read_epoch_frames(const std::string& out_dir, int last) {
  std::vector<mg::io::Image> frames;
  for (int e = 1; e <= last; ++e) {
    const std::string path = epoch_frame_path(out_dir, e);
    if (!std::filesystem::exists(path)) continue;  // an epoch without evaluation (--eval-every)
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

Principal principal_components(const std::vector<std::vector<double>>& rows, int count) {
  Principal p;
  if (rows.empty()) return p;
  const size_t n = rows.size(), d = rows.front().size();
  std::vector<double> mean(d, 0.0);
  for (const auto& r : rows)
    for (size_t j = 0; j < d; ++j) mean[j] += r[j] / static_cast<double>(n);
  std::vector<double> cov(d * d, 0.0);
  for (const auto& r : rows)
    for (size_t i = 0; i < d; ++i)
      for (size_t j = 0; j < d; ++j) cov[i * d + j] += (r[i] - mean[i]) * (r[j] - mean[j]);
  double total = 0;
  for (size_t i = 0; i < d; ++i) total += cov[i * d + i];
  for (int c = 0; c < count && static_cast<size_t>(c) < d; ++c) {
    // Power iteration from a fixed start that is not orthogonal to any axis in general.
    std::vector<double> v(d), w(d);
    for (size_t i = 0; i < d; ++i) v[i] = 1.0 + 0.01 * static_cast<double>(i);
    double lambda = 0;
    for (int it = 0; it < 500; ++it) {
      for (size_t i = 0; i < d; ++i) {
        w[i] = 0;
        for (size_t j = 0; j < d; ++j) w[i] += cov[i * d + j] * v[j];
      }
      double norm = 0;
      for (double x : w) norm += x * x;
      norm = std::sqrt(norm);
      if (norm == 0) break;
      lambda = norm;
      for (size_t i = 0; i < d; ++i) v[i] = w[i] / norm;
    }
    double len = 0;
    for (double x : v) len += x * x;
    for (double& x : v) x /= std::sqrt(len);
    // Deflate: remove this component before finding the next.
    for (size_t i = 0; i < d; ++i)
      for (size_t j = 0; j < d; ++j) cov[i * d + j] -= lambda * v[i] * v[j];
    p.axes.push_back(v);
    p.explained.push_back(total > 0 ? lambda / total : 0.0);
  }
  return p;
}

void latent_map(const std::string& path, const std::vector<LatentPoint>& points, const mg::nn::ConvVaeConfig& model) {
  mg::io::ScatterOptions opt;
  opt.group_names = {"training", "held-out"};
  opt.radius = 4.0;
  std::vector<mg::io::ScatterPoint> pts;
  if (!model.time_resolved()) {
    for (const LatentPoint& p : points)
      pts.push_back({p.z[0], p.z.size() > 1 ? p.z[1] : 0.0f, p.held_out ? 1 : 0, p.label});
    opt.title = model.latent == 2 ? "latent means of the clips"
                                  : fmt::format("latent means: first 2 of {} dimensions", model.latent);
    opt.x_label = "z1";
    opt.y_label = model.latent > 1 ? "z2" : "";
  } else {
    const size_t Z = static_cast<size_t>(model.latent), T = static_cast<size_t>(model.latent_frames());
    std::vector<std::vector<double>> averages;
    for (const LatentPoint& p : points) {
      std::vector<double> a(Z, 0.0);
      for (size_t z = 0; z < Z; ++z)
        for (size_t t = 0; t < T; ++t) a[z] += p.z[z * T + t] / static_cast<double>(T);
      averages.push_back(std::move(a));
    }
    const Principal pc = principal_components(averages, 2);
    auto project = [&](const std::vector<double>& a, size_t k) {
      double s = 0;
      if (k < pc.axes.size())
        for (size_t z = 0; z < Z; ++z) s += a[z] * pc.axes[k][z];
      return s;
    };
    for (size_t i = 0; i < points.size(); ++i)
      pts.push_back({project(averages[i], 0), project(averages[i], 1), points[i].held_out ? 1 : 0, points[i].label});
    opt.title = fmt::format("time-averaged latent means, PCA ({} ch x {} frames)", Z, T);
    opt.x_label = fmt::format("PC1 ({:.0f}% of variance)", 100 * (pc.explained.empty() ? 0.0 : pc.explained[0]));
    opt.y_label = fmt::format("PC2 ({:.0f}% of variance)", 100 * (pc.explained.size() < 2 ? 0.0 : pc.explained[1]));
  }
  mg::io::scatter_chart(path, pts, opt);
}

void reconstruction_picture(const std::string& path, const FeatureConfig& f, const Clip& clip,
                            const std::vector<float>& decoded) {
  mg::io::SpectrogramPanel in = clip_spectrogram(f, clip.audio), out = decoded_spectrogram(f, decoded);
  in.title = "input: " + clip.name;
  out.title = "reconstruction (z = mean)";
  mg::io::SpectrogramOptions opt = spectrogram_axes(f);
  scale_to(opt, in);  // one colour scale: the input's range, floored 80 dB below its peak
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

void write_pictures(const std::string& out, int epoch, const LoadedModel& m, const Dataset& d,
                    const std::vector<const Clip*>& shown, const mg::app::CsvLog& log) {
  const std::vector<const Clip*> frame_clips(shown.begin(), shown.begin() + static_cast<long>(std::min<size_t>(2, shown.size())));
  const std::vector<std::vector<float>> decoded = reconstruct(m, frame_clips, 10);
  epoch_frame(epoch_frame_path(out, epoch), epoch, m.features, frame_clips, decoded);
  std::vector<const Clip*> all;
  for (const Clip& c : d.clips) all.push_back(&c);
  const std::vector<float> flat = encode_clips(m, all, 10).to_vector<float>();
  const size_t per = flat.size() / all.size();
  std::vector<LatentPoint> points;
  for (size_t i = 0; i < all.size(); ++i) {
    const bool first_of_file = i == 0 || d.clips[i - 1].file != d.clips[i].file;
    const bool held_out = std::find(d.test.begin(), d.test.end(), i) != d.test.end();
    points.push_back({std::vector<float>(flat.begin() + static_cast<long>(i * per), flat.begin() + static_cast<long>((i + 1) * per)),
                      held_out, first_of_file ? short_label(d.clips[i].name) : ""});
  }
  latent_map(out + "/latent-map.png", points, m.vae->config());
  reconstruction_picture(out + "/reconstruction.png", m.features, *shown.front(), decoded.front());
  loss_curves(out + "/curves.png", log);
}

}  // namespace jazz
