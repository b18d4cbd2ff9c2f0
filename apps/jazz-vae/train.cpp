// jazz-vae train: the VAE of models/jazz_vae.h with the loss of
// models/vae_loss.h (reconstruction, spectral and log-magnitude terms, beta
// KL with free bits and warm-up) and Adam, on the trainer of
// models/trainer.h. This file builds what is the VAE's own: the clips and
// their features, the network, the task (VaeTask, jazz.h), the checkpoint's
// metadata, and each epoch's log row, pictures and report; the trainer runs
// the epochs, resumes, and stops on a signal.
#include <cstdio>
#include <filesystem>
#include <optional>

#include <fmt/format.h>

#include "apps/common/train_record.h"
#include "apps/jazz-vae/jazz.h"
#include "apps/jazz-vae/pictures.h"
#include "io/atomic_file.h"
#include "io/checksum.h"
#include "io/gif.h"
#include "io/run_folder.h"
#include "io/utf8.h"
#include "models/distributed.h"
#include "models/stop_request.h"
#include "tensor/rng.h"

namespace jazz {

namespace fs = std::filesystem;

int run_train(const TrainOptions& o) {
  const mg::Device device = mg::app::setup_device(o.common);
  mg::nn::StopRequest signals;  // from here on a signal ends the run with its checkpoint and report
  mg::io::RunFolder folder(o.common.out, "--out");
  const std::string ckpt_path = o.common.out + "/model.safetensors";
  for (const char* name : {"model.safetensors", "log.csv", "curves.png", "reconstruction.png", "latent-map.png",
                           "training.gif", "report.json", "report.html"})
    mg::io::output_target(o.common.out + "/" + name);
  mg::io::check_subfolder(o.common.out + "/epochs");

  // On --resume every setting of the features, the model and the optimizer is the checkpoint's.
  std::optional<mg::nn::Checkpoint> ck;
  LoadedModel model{{}, nullptr, {}, device};
  JazzMeta& meta = model.meta;
  if (o.resume) {
    if (!fs::exists(ckpt_path)) mg::fail("--resume: {} does not exist", ckpt_path);
    ck = mg::nn::load_checkpoint(ckpt_path, kApp);
    meta = read_metadata(*ck, ckpt_path);
    mg::app::refuse_changed_settings(ckpt_path, resumed_settings(meta, o));
    meta.data = mg::io::from_valid_utf8(meta.data);
  } else {
    meta.features = features_from_flags(o);
    meta.model = model_from_flags(o, meta.features);
    meta.train = settings_from_flags(o, meta.model);
    meta.data = o.common.data;
  }
  model.features = meta.features;
  FeatureConfig& features = model.features;  // standardised below on a new run
  const TrainSettings& settings = meta.train;

  // Memory before anything large is made: the model and a batch, and the built-in set (its size is known).
  const std::string sizes = "--clip-seconds, --n-fft, --hop, --channels, --latent and --batch";
  const double model_bytes = meta.model.training_bytes(settings.batch);
  mg::app::check_memory(sizes, meta.data.empty() ? model_bytes + 2 * dataset_bytes(features, kBuiltinClips) : model_bytes);
  Dataset d = load_dataset(meta.data, features, settings.seed);
  std::printf("data: %s: %zu files, %zu clips of %.3g s at %d Hz\n", d.source.c_str(), d.files.size(), d.clips.size(),
              features.clip_seconds, features.sample_rate);
  mg::app::check_memory(fmt::format("{} clips of {:g} s with {}", d.clips.size(), features.clip_seconds, sizes),
                        model_bytes + dataset_bytes(features, static_cast<double>(d.clips.size())) +
                            // --augment crop: a second copy of the training audio and its features, file by file
                            (settings.augment == "crop" ? dataset_bytes(features, static_cast<double>(d.train.size())) : 0.0));
  const std::vector<std::string> train_files = file_names(d, d.train), test_files = file_names(d, d.test);
  std::printf("split: %s\ntrain: %zu files (%zu clips); held-out: %zu files (%zu clips)\n", d.split.c_str(),
              train_files.size(), d.train.size(), test_files.size(), d.test.size());
  if (ck && (meta.split_train != train_files || meta.split_test != test_files))
    mg::fail("--resume: the files in {} are not the ones {} was trained on", d.source, ckpt_path);
  if (!ck) {
    std::vector<std::vector<float>> train_audio;
    for (size_t i : d.train) train_audio.push_back(d.clips[i].audio);
    fit_standardisation(features, train_audio);
  }
  for (Clip& c : d.clips) c.features = compute_features(features, c.audio);
  std::optional<FileFrames> crops;
  if (settings.augment == "crop") crops.emplace(d, features);
  // Metrics fall back to the training clips when nothing is held out (a one-file folder).
  std::vector<const Clip*> scored;
  for (size_t i : d.test.empty() ? d.train : d.test) scored.push_back(&d.clips[i]);
  if (d.test.empty()) std::printf("note: no held-out clip; metrics below are on the training clips\n");

  uint64_t data_hash = mg::io::kFnv1aOffset;
  for (const Clip& c : d.clips) data_hash = mg::io::fnv1a64(c.audio.data(), c.audio.size() * sizeof(float), data_hash);
  mg::app::require_same_run(fmt::format("{} clips, hash {:016x}", d.clips.size(), data_hash));
  mg::manual_seed(settings.seed);
  model.vae = std::make_shared<mg::nn::ConvVAE>(meta.model);
  if (ck) {
    mg::nn::check_model_state(*model.vae, ck->model, ckpt_path);
    model.vae->load_state(ck->model, ckpt_path);
  }
  model.vae->to(device);
  mg::nn::Adam opt(model.vae->named_parameters(), settings.lr);
  const nlohmann::json checkpoint_meta = {
      {"model", meta.model.to_json()}, {"features", features.to_json()}, {"data", meta.data},
      {"split", {{"how", d.split}, {"train", train_files}, {"test", test_files}}}, {"train", settings.to_json()}};
  const int64_t steps_per_epoch = mg::nn::Trainer::epoch_steps(int64_t(d.train.size()), settings.batch, false, 0);
  const int epochs = default_epochs(o, meta.model, steps_per_epoch);
  mg::nn::TrainerOptions t{.app = kApp, .checkpoint = ckpt_path, .epochs = epochs, .batch = settings.batch,
                           .seed = settings.seed, .order = mg::nn::ExampleOrder::PhiloxKeys,
                           .eval_every = default_eval_every(o, epochs), .skip_nonfinite = o.skip_nonfinite,
                           .clip_grad = settings.clip_grad,
                           .resume_command = fmt::format("jazz-vae train --out {} --resume --epochs {}", o.common.out,
                                                         epochs)};
  // The cosine schedule spans this run's epochs (a resume with more --epochs re-plans it over the new total).
  if (settings.lr_schedule == "cosine")
    t.learning_rate = [lr = settings.lr, total = int64_t{epochs} * steps_per_epoch](int64_t step) {
      return mg::nn::cosine_learning_rate(lr, step, total);
    };
  VaeTask task(model, d, crops ? &*crops : nullptr, scored, opt, steps_per_epoch, [&] { return checkpoint_meta; });
  mg::nn::Trainer trainer(*model.vae, opt, task, t);
  const int start_epoch = ck ? meta.state.epoch : 0;
  if (ck) mg::app::resume_from(trainer, *ck, meta.state, ckpt_path);
  const mg::nn::ConvVaeConfig& config = meta.model;
  const std::string latent =
      config.time_resolved() ? fmt::format("time-resolved, {} channels x {} frames (one per {} input frames)",
                                           config.latent, config.latent_frames(), int64_t{1} << config.channels.size())
                             : fmt::format("global, {} dimensions", config.latent);
  const std::vector<std::pair<std::string, std::string>> run_config = {
      {"model", fmt::format("{}, input [{}, {}], channels {}, {} block(s) per stage", config.kind, config.in_channels,
                            config.length, fmt::join(config.channels, "/"), config.blocks)},
      {"features", describe(features)},
      {"latent", latent},
      {"parameters", std::to_string(model.vae->num_parameters())},
      {"loss", fmt::format("beta {} (warm-up {} steps), free bits {}, spectral weight {}, log-magnitude weight {}",
                           settings.beta, settings.beta_warmup, settings.free_bits, settings.spectral_weight,
                           settings.log_weight)},
      {"augmentation", settings.augment == "crop" ? "a random clip-length crop of the file per example" : "none"},
      {"optimizer", fmt::format("Adam, learning rate {}{}, gradient norm clipped at {}", settings.lr,
                                settings.lr_schedule == "cosine" ? " with cosine decay to 0 over the epochs" : "",
                                settings.clip_grad)},
      {"epochs", fmt::format("{} ({} steps of batch {} each)", epochs, steps_per_epoch, settings.batch)},
      {"data", fmt::format("{}: {} training and {} held-out clips of {:g} s", d.source, d.train.size(), d.test.size(),
                           features.clip_seconds)},
      {"device", mg::app::compute_summary(device)},
      {"seed", std::to_string(settings.seed)},
      {"output", o.common.out},
  };
  std::printf("model: %s, %lld parameters, latent %s; device %s\n", config.kind.c_str(),
              static_cast<long long>(model.vae->num_parameters()), latent.c_str(), o.common.device.c_str());
  mg::app::print_config(run_config);

  // The page a person opens: OUT/report.html, from before the first step to the end.
  mg::app::RunReport report(o.common.out, kApp);
  mg::app::ReportSection& page = mg::app::run_section(report, "train", ck.has_value(), run_config);
  page.data.source = d.source;
  page.data.files_read = static_cast<int64_t>(d.files.size());
  page.data.skipped = d.skipped;
  page.data.details = {{"clips", static_cast<int64_t>(d.clips.size())},
                       {"training clips", static_cast<int64_t>(d.train.size())},
                       {"held-out clips", static_cast<int64_t>(d.test.size())},
                       {"split", d.split}};

  // Means over the clips of the steps applied (NaN when every step was skipped), and the held-out metrics.
  auto mean = [](const mg::nn::EpochEnd& e, const char* name) { return mg::app::epoch_mean(e, name, "clips"); };
  auto held = mg::app::heldout_metric;
  mg::app::EpochRecord record;
  record.csv_columns = {"epoch", "beta", "train_loss", "train_recon", "train_kl", "heldout_recon", "heldout_kl",
                        "spectral_convergence", "log_spectral_distance", "multi_resolution_distance",
                        "onset_correlation", "active_units", "seconds", "skipped_steps"};
  record.csv_row = [&](const mg::nn::EpochEnd& e) {
    return std::vector<double>{double(e.epoch), task.beta(), mean(e, "loss"), mean(e, "recon"), mean(e, "kl"),
                               held(e, "recon"), held(e, "kl"), held(e, "spectral_convergence"),
                               held(e, "log_spectral_distance"), held(e, "multi_resolution_distance"),
                               held(e, "onset_correlation"), held(e, "active_units"), e.seconds, double(e.skipped)};
  };
  record.table_columns = {"epoch", "beta", "train loss", "held-out recon", "held-out KL", "spectral convergence",
                          "log-spectral distance dB", "multi-resolution distance", "onset correlation",
                          "active units", "seconds"};
  record.table_row = [&](const mg::nn::EpochEnd& e) {
    return std::vector<mg::app::ReportValue>{
        e.epoch, task.beta(), mean(e, "loss"), held(e, "recon"), held(e, "kl"), held(e, "spectral_convergence"),
        held(e, "log_spectral_distance"), held(e, "multi_resolution_distance"), held(e, "onset_correlation"),
        held(e, "active_units"), e.seconds};
  };
  record.summary = [&](const mg::nn::EpochEnd& e) {
    std::string line = fmt::format("epoch {}/{}  {:.1f} s  train loss {:.4g} (recon {:.4g}, kl {:.4g}, beta {:.3g})",
                                   e.epoch, epochs, e.seconds, mean(e, "loss"), mean(e, "recon"),
                                   mean(e, "kl"), task.beta());
    if (e.evaluation)
      line += fmt::format("  held-out recon {:.4g}  kl {:.4g}  SC {:.4f}  LSD {:.3f} dB  MR {:.4f}  onset r {:.3f}  "
                          "active units {}/{}", held(e, "recon"), held(e, "kl"), held(e, "spectral_convergence"),
                          held(e, "log_spectral_distance"), held(e, "multi_resolution_distance"),
                          held(e, "onset_correlation"), held(e, "active_units"), config.latent);
    return line;
  };
  record.pictures = [&](const mg::nn::EpochEnd& e, const mg::app::CsvLog& log) {
    write_pictures(o.common.out, e.epoch, model, d, scored, log);
    page.picture(o.common.out + "/curves.png", "Loss and held-out metrics per epoch");
    page.picture(o.common.out + "/reconstruction.png", "A held-out clip and its reconstruction (latest epoch)");
    page.picture(o.common.out + "/latent-map.png", "Latent map of every clip (latest epoch)");
  };
  record.at_end = [&](const mg::nn::RunEnd&, const mg::app::CsvLog&) {
    // Assembled once at the end from the frame files (so a resumed run gets every epoch); the last
    // frame is held for 4 extra delays, as the original repeated its last frame.
    mg::io::write_gif(o.common.out + "/training.gif", read_epoch_frames(o.common.out, epochs), 60, 0, 4);
    page.picture(o.common.out + "/training.gif", "Reconstructions through training, one frame per epoch");
  };
  const mg::nn::RunEnd end =
      mg::app::fit_recorded(trainer, "clips", o.common.out + "/log.csv", report, page, std::move(record), start_epoch);
  if (end.signal != 0) return end.exit_status();
  if (start_epoch >= epochs)
    std::printf("%s is already at epoch %d of %d: nothing to do\n", ckpt_path.c_str(), start_epoch, epochs);
  std::printf("wrote %s, %s/log.csv, training.gif, latent-map.png, reconstruction.png, curves.png\n",
              ckpt_path.c_str(), o.common.out.c_str());
  return 0;
}

}  // namespace jazz
