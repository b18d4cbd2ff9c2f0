// jazz-vae train: the loss of models/vae_loss.h (reconstruction, spectral
// term, beta KL with free bits and warm-up) with Adam, held-out metrics,
// pictures and a checkpoint after every epoch, exact resume.
//
// Resuming continues bit for bit on the CPU because everything random comes
// from saved state: the clip order of epoch e is a Philox shuffle keyed by
// (seed, e), and the reparameterisation noise is drawn from the default
// generator whose (seed, offset) the checkpoint stores.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <numeric>
#include <optional>
#include <sstream>

#include <fmt/format.h>

#include "apps/common/csv_log.h"
#include "apps/common/finite_guard.h"
#include "apps/common/progress.h"
#include "apps/common/report.h"
#include "apps/common/run_control.h"
#include "apps/jazz-vae/jazz.h"
#include "apps/jazz-vae/pictures.h"
#include "io/atomic_file.h"
#include "io/gif.h"
#include "models/checkpoint.h"
#include "models/optim.h"
#include "models/training_state.h"
#include "tensor/backend.h"
#include "tensor/rng.h"

namespace jazz {

namespace fs = std::filesystem;
using mg::Tensor;

namespace {

// Clips in each epoch's picture (input above reconstruction).
constexpr size_t kFrameClips = 2;

// The order of epoch e: a Philox shuffle keyed by (seed, e), independent of the noise stream.
std::vector<size_t> epoch_order(std::vector<size_t> items, uint64_t seed, int epoch) {
  std::vector<std::pair<double, size_t>> keyed;
  for (size_t i = 0; i < items.size(); ++i)
    keyed.emplace_back(mg::Philox::uniform(seed, (static_cast<uint64_t>(epoch) << 32) + i), items[i]);
  std::sort(keyed.begin(), keyed.end());
  for (size_t i = 0; i < items.size(); ++i) items[i] = keyed[i].second;
  return items;
}

std::vector<const Clip*> clips_at(const Dataset& d, const std::vector<size_t>& idx) {
  std::vector<const Clip*> out;
  for (size_t i : idx) out.push_back(&d.clips[i]);
  return out;
}

std::vector<std::string> names_of(const Dataset& d, const std::vector<size_t>& files) {
  std::vector<std::string> out;
  for (size_t i : files) out.push_back(d.files[i]);
  return out;
}

// The files behind a list of clip indices, in order, without repeats.
std::vector<size_t> files_of(const Dataset& d, const std::vector<size_t>& clips) {
  std::vector<size_t> out;
  for (size_t c : clips)
    if (std::find(out.begin(), out.end(), d.clips[c].file) == out.end()) out.push_back(d.clips[c].file);
  return out;
}

void write_pictures(const std::string& out, int epoch, const LoadedModel& m, const Dataset& d,
                    const std::vector<size_t>& shown, const mg::app::CsvLog& log) {
  std::vector<size_t> frame_clips(shown.begin(), shown.begin() + static_cast<long>(std::min(kFrameClips, shown.size())));
  std::vector<std::vector<float>> decoded = reconstruct(m, clips_at(d, frame_clips), 10);
  epoch_frame(epoch_frame_path(out, epoch), epoch, m.features, clips_at(d, frame_clips), decoded);

  std::vector<size_t> all(d.clips.size());
  std::iota(all.begin(), all.end(), 0);
  const Tensor mu = encode_clips(m, clips_at(d, all), 10);
  const std::vector<float> flat = mu.to_vector<float>();
  const size_t per = flat.size() / all.size();
  std::vector<LatentPoint> points;
  for (size_t i = 0; i < all.size(); ++i) {
    const Clip& c = d.clips[i];
    const bool first_of_file = i == 0 || d.clips[i - 1].file != c.file;
    const bool held_out = std::find(d.test.begin(), d.test.end(), i) != d.test.end();
    points.push_back({std::vector<float>(flat.begin() + static_cast<long>(i * per), flat.begin() + static_cast<long>((i + 1) * per)),
                      held_out, first_of_file ? short_label(c.name) : ""});
  }
  latent_map(out + "/latent-map.png", points, m.vae->config());
  reconstruction_picture(out + "/reconstruction.png", m.features, d.clips[shown.front()], decoded.front());
  loss_curves(out + "/curves.png", log);
}

}  // namespace

int run_train(const TrainOptions& o) {
  const mg::Device device = mg::app::setup_device(o.common);
  const std::string ckpt_path = o.common.out + "/model.safetensors";

  FeatureConfig features;
  mg::nn::ConvVaeConfig config;
  TrainSettings settings;  // what a resumed run must reuse
  std::optional<mg::nn::Checkpoint> ck;
  JazzMeta resumed;
  std::string data = o.common.data;
  if (o.resume) {
    if (!fs::exists(ckpt_path)) mg::fail("--resume: {} does not exist", ckpt_path);
    ck = mg::nn::load_checkpoint(ckpt_path, kApp);
    resumed = read_metadata(*ck, ckpt_path);
    features = resumed.features;
    config = resumed.model;
    settings = resumed.train;
    if (data.empty()) data = resumed.data;
  } else {
    features = features_from_flags(o);
    config = model_from_flags(o, features);
    settings = settings_from_flags(o, config);
  }
  const uint64_t seed = settings.seed;
  const int64_t batch = settings.batch;
  const double clip_grad = settings.clip_grad;

  // Memory before anything large is made: the model and a batch, and the built-in set (its size is known).
  const std::string sizes = "--clip-seconds, --n-fft, --hop, --channels, --latent and --batch";
  const double model_bytes = training_bytes(config, batch);
  mg::app::check_memory(sizes, data.empty() ? model_bytes + 2 * dataset_bytes(features, kBuiltinClips) : model_bytes);
  mg::io::check_output_folder(o.common.out, "--out");

  Dataset d = load_dataset(data, features, seed);
  std::printf("data: %s: %zu files, %zu clips of %.3g s at %d Hz\n", d.source.c_str(), d.files.size(),
              d.clips.size(), features.clip_seconds, features.sample_rate);
  mg::app::check_memory(fmt::format("{} clips of {:g} s with {}", d.clips.size(), features.clip_seconds, sizes),
                        model_bytes + dataset_bytes(features, static_cast<double>(d.clips.size())) +
                            // --augment crop: a second copy of the training audio and its features, file by file
                            (settings.augment == "crop" ? dataset_bytes(features, static_cast<double>(d.train.size())) : 0.0));
  std::printf("split: %s\n", d.split.c_str());
  const std::vector<size_t> train_files = files_of(d, d.train), test_files = files_of(d, d.test);
  std::printf("train: %zu files (%zu clips); held-out: %zu files (%zu clips)\n", train_files.size(), d.train.size(),
              test_files.size(), d.test.size());
  if (ck) {
    if (resumed.split_train != names_of(d, train_files) || resumed.split_test != names_of(d, test_files))
      mg::fail("--resume: the files in {} are not the ones {} was trained on", d.source, ckpt_path);
  } else {
    std::vector<std::vector<float>> train_audio;
    for (size_t i : d.train) train_audio.push_back(d.clips[i].audio);
    fit_standardisation(features, train_audio);
  }
  for (Clip& c : d.clips) c.features = compute_features(features, c.audio);
  std::optional<FileFrames> crops;
  if (settings.augment == "crop") crops.emplace(d, features);
  // Metrics fall back to the training clips when nothing is held out (a one-file folder).
  const std::vector<size_t> scored = d.test.empty() ? d.train : d.test;
  if (d.test.empty()) std::printf("note: no held-out clip; metrics below are on the training clips\n");

  mg::manual_seed(seed);
  auto vae = std::make_shared<mg::nn::ConvVAE>(config);
  int start_epoch = 0;
  if (ck) {
    mg::nn::check_model_state(*vae, ck->model, ckpt_path);
    vae->load_state(ck->model, ckpt_path);
    start_epoch = resumed.state.epoch;
  }
  vae->to(device);
  mg::nn::Adam opt(vae->named_parameters(), settings.lr);
  if (ck) resumed.state.restore(opt, vae->named_parameters(), *ck, ckpt_path);
  LoadedModel model{features, vae, {}, device};
  model.meta.train = settings;
  const std::string latent =
      config.time_resolved()
          ? fmt::format("time-resolved, {} channels x {} frames (one per {} input frames)", config.latent,
                        config.latent_frames(), int64_t{1} << config.channels.size())
          : fmt::format("global, {} dimensions", config.latent);
  std::printf("model: %s, input [%lld, %lld], %lld parameters, latent %s; free bits %g, spectral weight %g; device %s\n",
              config.kind.c_str(), static_cast<long long>(config.in_channels), static_cast<long long>(config.length),
              static_cast<long long>(vae->num_parameters()), latent.c_str(), settings.free_bits,
              settings.spectral_weight, o.common.device.c_str());
  if (start_epoch >= o.common.epochs) {
    std::printf("%s is already at epoch %d of %d: nothing to do\n", ckpt_path.c_str(), start_epoch, o.common.epochs);
    return 0;
  }
  const int64_t steps_per_epoch = (static_cast<int64_t>(d.train.size()) + batch - 1) / batch;
  // The cosine schedule spans this run's --epochs (a resume with more --epochs recomputes it over the new total).
  const int64_t total_steps = static_cast<int64_t>(o.common.epochs) * steps_per_epoch;
  // A run stopped mid-epoch continues at its step, with that epoch's sums.
  const mg::nn::TrainingState* partial = ck && resumed.state.step > 0 ? &resumed.state : nullptr;
  if (partial && partial->step >= steps_per_epoch)
    mg::fail("--resume: {} stopped at step {} of epoch {}, but an epoch now has {} steps", ckpt_path, partial->step,
             start_epoch + 1, steps_per_epoch);
  if (partial)
    std::printf("resuming in epoch %d at step %lld of %s\n", start_epoch + 1, static_cast<long long>(partial->step),
                ckpt_path.c_str());
  else if (ck)
    std::printf("resuming after epoch %d of %s\n", start_epoch, ckpt_path.c_str());

  const std::vector<std::pair<std::string, std::string>> run_config = {
      {"model", fmt::format("{}, input [{}, {}], channels {}, {} block(s) per stage", config.kind, config.in_channels,
                            config.length, fmt::join(config.channels, "/"), config.blocks)},
      {"features", config.kind == "conv"
                       ? fmt::format("{}, {} bins x {} frames (n_fft {}, hop {}), standardised",
                                     features.compress == "power" ? fmt::format("|STFT|^{}", features.power)
                                                                  : fmt::format("log(|STFT| + {})", features.log_floor),
                                     features.channels(), features.length(), features.n_fft, features.hop)
                       : fmt::format("the waveform at {} Hz, {} samples", features.sample_rate, features.length())},
      {"latent", latent},
      {"parameters", std::to_string(vae->num_parameters())},
      {"loss", fmt::format("beta {} (warm-up {} steps), free bits {}, spectral weight {}, log-magnitude weight {}",
                           settings.beta, settings.beta_warmup, settings.free_bits, settings.spectral_weight,
                           settings.log_weight)},
      {"augmentation", settings.augment == "crop" ? "a random clip-length crop of the file per example" : "none"},
      {"optimizer", fmt::format("Adam, learning rate {}{}, gradient norm clipped at {}", settings.lr,
                                settings.lr_schedule == "cosine" ? " with cosine decay to 0 over the epochs" : "",
                                clip_grad)},
      {"epochs", fmt::format("{} ({} steps of batch {} each)", o.common.epochs, steps_per_epoch, batch)},
      {"data", fmt::format("{}: {} training and {} held-out clips of {:g} s", d.source, d.train.size(), d.test.size(),
                           features.clip_seconds)},
      {"device", mg::app::compute_summary(device)},
      {"seed", std::to_string(seed)},
      {"output", o.common.out},
  };
  mg::app::print_config(run_config);

  // The page a person opens: OUT/report.html, rewritten after every epoch.
  mg::app::RunReport report(o.common.out, "jazz-vae");
  mg::app::ReportSection& page = ck ? report.section("train") : report.start("train", mg::app::command_line());
  for (const auto& [key, value] : run_config) page.set(key, value);
  page.data.source = d.source;
  page.data.files_read = static_cast<int64_t>(d.files.size());
  page.data.skipped = d.skipped;
  page.data.details = {{"clips", static_cast<int64_t>(d.clips.size())},
                       {"training clips", static_cast<int64_t>(d.train.size())},
                       {"held-out clips", static_cast<int64_t>(d.test.size())},
                       {"split", d.split}};
  mg::app::ReportTable& epochs_table =
      page.table("Epochs", {"epoch", "beta", "train loss", "held-out recon", "held-out KL", "spectral convergence",
                            "log-spectral distance dB", "multi-resolution distance", "onset correlation",
                            "active units", "seconds"});
  epochs_table.drop_rows_after(start_epoch);

  mg::app::CsvLog log(o.common.out + "/log.csv",
                      {"epoch", "beta", "train_loss", "train_recon", "train_kl", "heldout_recon", "heldout_kl",
                       "spectral_convergence", "log_spectral_distance", "multi_resolution_distance",
                       "onset_correlation", "active_units", "seconds", "skipped_steps"});
  if (ck) log.resume(start_epoch);

  const mg::nn::VaeLossConfig loss_cfg = loss_config(features, settings, steps_per_epoch);
  const mg::nn::MagnitudeMap magnitudes = features.model == "conv" ? magnitude_map(features, device) : mg::nn::MagnitudeMap{};
  const std::vector<Tensor> params = vae->parameters();
  mg::app::FiniteGuard guard(*vae, o.skip_nonfinite, ckpt_path);
  auto checkpoint_meta = [&](int epochs_done) {
    return nlohmann::json{{"model", config.to_json()},
                          {"features", features.to_json()},
                          {"data", data},
                          {"split",
                           {{"how", d.split}, {"train", names_of(d, train_files)}, {"test", names_of(d, test_files)}}},
                          {"train", settings.to_json()},
                          {"epoch", epochs_done}};
  };
  mg::app::StopRequest stop;
  mg::app::RunEstimate estimate(
      std::max<int64_t>(0, (o.common.epochs - start_epoch) * steps_per_epoch - (partial ? partial->step : 0)));
  int64_t skipped_unlogged = 0;  // skipped steps of epochs without a log row, counted in the next row
  // The checkpoint after `done` whole epochs, with the optimizer's and the generator's state.
  auto save_epoch = [&](int done) {
    nlohmann::json meta = checkpoint_meta(done);
    mg::nn::TrainingState::now(opt, done).write(meta);
    mg::nn::save_checkpoint(ckpt_path, kApp, *vae, &opt, meta);
  };
  for (int epoch = start_epoch; epoch < o.common.epochs; ++epoch) {
    const auto t0 = std::chrono::steady_clock::now();
    vae->train();
    std::vector<size_t> order = epoch_order(d.train, seed, epoch);
    mg::app::Progress progress(fmt::format("epoch {}/{}", epoch + 1, o.common.epochs), steps_per_epoch, "clips");
    const bool continuing = partial && epoch == start_epoch;
    auto sum = [&](const char* name) { return continuing ? partial->sum(name) : 0.0; };
    double loss_sum = sum("loss"), recon_sum = sum("recon"), kl_sum = sum("kl"), clips_seen = sum("clips");
    double beta_now = mg::nn::beta_at(loss_cfg, opt.steps_taken());
    int64_t skipped = static_cast<int64_t>(sum("skipped"));
    for (int64_t s = continuing ? partial->step : 0; s < steps_per_epoch; ++s) {
      if (stop.requested()) {
        // A step boundary: the weights, the optimizer and the generator are
        // those after step s - 1 of this epoch.
        progress.finish();
        skipped += guard.take_skipped();
        nlohmann::json meta = checkpoint_meta(epoch);
        mg::nn::TrainingState::now(opt, epoch, s,
                                   {{"loss", loss_sum}, {"recon", recon_sum}, {"kl", kl_sum}, {"clips", clips_seen},
                                    {"skipped", static_cast<double>(skipped)}})
            .write(meta);
        mg::nn::save_checkpoint(ckpt_path, kApp, *vae, &opt, meta);
        std::fprintf(stderr,
                     "stopped by %s in epoch %d at step %lld of %lld; checkpoint %s\n"
                     "resume with: jazz-vae train --out %s --resume --epochs %d\n",
                     stop.signal_name(), epoch + 1, static_cast<long long>(s), static_cast<long long>(steps_per_epoch),
                     ckpt_path.c_str(), o.common.out.c_str(), o.common.epochs);
        return mg::app::kExitInterrupted;
      }
      const size_t b = static_cast<size_t>(s * batch), e = std::min(order.size(), b + static_cast<size_t>(batch));
      std::vector<const std::vector<float>*> feats;
      std::vector<std::vector<float>> cropped;
      cropped.reserve(e - b);
      for (size_t i = b; i < e; ++i) {
        if (crops) {
          cropped.push_back(crops->crop(d.clips[order[i]], seed, epoch, s, i - b));
          feats.push_back(&cropped.back());
        } else {
          feats.push_back(&d.clips[order[i]].features);
        }
      }
      Tensor x = feature_batch(features, feats, device);
      const int64_t B = x.size(0);
      guard.begin_step();
      mg::nn::VaeOutput out = vae->forward(x, mg::randn(config.latent_shape(B), mg::DType::F32, device));
      // KL warm-up counts optimizer steps, so it is smooth and resumes exactly.
      mg::nn::VaeLossTerms terms = mg::nn::vae_loss(loss_cfg, out, x, opt.steps_taken(), &magnitudes);
      beta_now = terms.beta;
      const Tensor& loss = terms.total;
      opt.zero_grad();
      loss.backward();
      const double l = loss.item();
      estimate.step();
      const double norm = clip_grad > 0 ? mg::nn::clip_grad_norm(params, clip_grad) : mg::nn::grad_norm(params);
      if (!guard.accept(epoch + 1, s, l, norm, epoch)) continue;
      if (settings.lr_schedule == "cosine")
        opt.set_learning_rate(mg::nn::cosine_learning_rate(settings.lr, opt.steps_taken(), total_steps));
      opt.step();
      loss_sum += l * static_cast<double>(B);
      recon_sum += terms.recon.item() * static_cast<double>(B);
      kl_sum += terms.kl.item() * static_cast<double>(B);
      clips_seen += static_cast<double>(B);
      progress.update(s, l, B);
    }
    progress.finish();
    // Means over the steps applied; NaN for an epoch whose every step was skipped.
    const double n = clips_seen > 0 ? clips_seen : NAN;
    if ((epoch + 1) % o.eval_every != 0 && epoch + 1 < o.common.epochs) {
      // Between evaluations: the checkpoint only, so a stopped run loses at most one epoch.
      std::printf("epoch %d/%d  %.1f s  train loss %.4g (recon %.4g, kl %.4g, beta %.3g)\n", epoch + 1,
                  o.common.epochs, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(),
                  loss_sum / n, recon_sum / n, kl_sum / n, beta_now);
      std::fflush(stdout);
      save_epoch(epoch + 1);
      skipped_unlogged += skipped + guard.take_skipped();
      continue;
    }
    Metrics m = evaluate_clips(model, clips_at(d, scored), batch);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("epoch %d/%d  %.1f s  train loss %.4g (recon %.4g, kl %.4g, beta %.3g)  held-out recon %.4g  kl %.4g  "
                "SC %.4f  LSD %.3f dB  MR %.4f  onset r %.3f  active units %lld/%lld\n",
                epoch + 1, o.common.epochs, seconds, loss_sum / n, recon_sum / n, kl_sum / n, beta_now, m.recon, m.kl,
                m.decoded.convergence, m.decoded.log_distance, m.decoded.multi_resolution, m.decoded.onset_correlation,
                static_cast<long long>(m.active_units), static_cast<long long>(config.latent));
    std::fflush(stdout);

    // The checkpoint first: the log never has a row for an epoch the checkpoint lacks.
    save_epoch(epoch + 1);
    skipped += guard.take_skipped() + skipped_unlogged;
    skipped_unlogged = 0;
    log.append({static_cast<double>(epoch + 1), beta_now, loss_sum / n, recon_sum / n, kl_sum / n, m.recon, m.kl,
                m.decoded.convergence, m.decoded.log_distance, m.decoded.multi_resolution, m.decoded.onset_correlation,
                static_cast<double>(m.active_units), seconds, static_cast<double>(skipped)});
    write_pictures(o.common.out, epoch + 1, model, d, scored, log);
    epochs_table.add({epoch + 1, beta_now, loss_sum / n, m.recon, m.kl, m.decoded.convergence, m.decoded.log_distance,
                      m.decoded.multi_resolution, m.decoded.onset_correlation, m.active_units, seconds});
    page.picture(o.common.out + "/curves.png", "Loss and held-out metrics per epoch");
    page.picture(o.common.out + "/reconstruction.png", "A held-out clip and its reconstruction (latest epoch)");
    page.picture(o.common.out + "/latent-map.png", "Latent map of every clip (latest epoch)");
    report.save();
  }
  // Assembled once at the end from the frame files (so a resumed run gets every epoch); the last
  // frame is held for 4 extra delays, as the original repeated its last frame.
  mg::io::write_gif(o.common.out + "/training.gif", read_epoch_frames(o.common.out, o.common.epochs), 60, 0, 4);
  page.picture(o.common.out + "/training.gif", "Reconstructions through training, one frame per epoch");
  report.save();
  std::printf("wrote %s, %s/log.csv, training.gif, latent-map.png, reconstruction.png, curves.png\n",
              ckpt_path.c_str(), o.common.out.c_str());
  return 0;
}

}  // namespace jazz
