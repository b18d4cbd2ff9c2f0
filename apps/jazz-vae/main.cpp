// jazz-vae: a 1-D convolutional VAE over jazz audio.
//   jazz-vae train       --out DIR [--data DIR] [--model conv|seed] ...
//   jazz-vae generate    --checkpoint FILE --out DIR [--count N] [--grid K]
//   jazz-vae interpolate --checkpoint FILE A.wav B.wav --out DIR [--steps N]
//   jazz-vae encode      --checkpoint FILE FILES...
//   jazz-vae eval        --checkpoint FILE [--data DIR]
#include "apps/jazz-vae/jazz.h"

int main(int argc, char** argv) {
  using namespace jazz;
  CLI::App app{"jazz-vae: a convolutional VAE that learns, samples and interpolates jazz clips"};
  app.require_subcommand(1);

  TrainOptions train;
  train.common.epochs = 20;
  train.common.batch = 10;
  CLI::App* t = app.add_subcommand("train", "Train on a folder of audio files (or the built-in clips)");
  mg::app::add_common_options(t, train.common);
  t->add_option("--out", train.common.out, "Output folder (checkpoint, log, pictures)")->required();
  t->add_option("--model", train.model, "conv: spectrogram VAE; seed: the original's 3 kHz waveform VAE")
      ->check(CLI::IsMember({"conv", "seed"}));
  t->add_option("--clip-seconds", train.clip_seconds,
                "Clip length the model sees; each file is cut into clips of this length "
                "(default: conv 5, seed 30)")
      ->check(CLI::PositiveNumber);
  t->add_option("--n-fft", train.n_fft, "STFT size, a power of two (conv features; spectral metrics)");
  t->add_option("--hop", train.hop, "STFT hop in samples");
  t->add_option("--channels", train.channels, "Encoder channels per stage, e.g. 64,128,128,256 (or 8,8 for a tiny model)");
  t->add_option("--latent", train.latent, "Latent dimensions")->check(CLI::PositiveNumber);
  t->add_option("--beta", train.beta, "Weight of the KL term")->check(CLI::NonNegativeNumber);
  t->add_option("--beta-warmup", train.beta_warmup, "Epochs over which beta rises linearly from 0")
      ->check(CLI::NonNegativeNumber);
  t->add_option("--lr", train.lr, "Adam learning rate")->check(CLI::PositiveNumber);
  t->add_option("--clip-grad", train.clip_grad, "Gradient norm limit (0: off)")->check(CLI::NonNegativeNumber);
  t->add_flag("--resume", train.resume, "Continue from OUT/model.safetensors up to --epochs");

  GenerateOptions gen;
  CLI::App* g = app.add_subcommand("generate", "Decode clips from the prior and a grid over the latent plane");
  mg::app::add_common_options(g, gen.common, false);
  g->add_option("--checkpoint", gen.checkpoint, "Trained model (model.safetensors)")->required();
  g->add_option("--out", gen.out, "Folder for the WAV files")->required();
  g->add_option("--count", gen.count, "Clips sampled from z ~ N(0, I)")->check(CLI::NonNegativeNumber);
  g->add_option("--grid", gen.grid, "K: also decode a K x K grid over the 2-D latent")->check(CLI::NonNegativeNumber);
  g->add_option("--grid-range", gen.grid_range, "The grid spans -R..R on both axes")->check(CLI::PositiveNumber);
  g->add_option("--griffin-lim-iters", gen.griffin_lim_iters, "Phase reconstruction iterations (conv)")
      ->check(CLI::PositiveNumber);

  InterpolateOptions interp;
  CLI::App* ip = app.add_subcommand("interpolate", "Decode points on the line between two encoded clips");
  mg::app::add_common_options(ip, interp.common, false);
  ip->add_option("--checkpoint", interp.checkpoint, "Trained model (model.safetensors)")->required();
  ip->add_option("a", interp.a, "First audio file")->required();
  ip->add_option("b", interp.b, "Second audio file")->required();
  ip->add_option("--out", interp.out, "Folder for the WAV files")->required();
  ip->add_option("--steps", interp.steps, "Points on the line, ends included (>= 2)")->check(CLI::Range(2, 1000));
  ip->add_option("--griffin-lim-iters", interp.griffin_lim_iters, "Phase reconstruction iterations (conv)")
      ->check(CLI::PositiveNumber);

  EncodeOptions enc;
  CLI::App* e = app.add_subcommand("encode", "Print the latent mean and sigma of audio files");
  mg::app::add_common_options(e, enc.common, false);
  e->add_option("--checkpoint", enc.checkpoint, "Trained model (model.safetensors)")->required();
  e->add_option("files", enc.files, "Audio files")->required();

  EvalOptions ev;
  ev.common.batch = 10;
  CLI::App* v = app.add_subcommand("eval", "Print held-out metrics of a trained model");
  mg::app::add_common_options(v, ev.common, false);
  v->add_option("--checkpoint", ev.checkpoint, "Trained model (model.safetensors)")->required();
  v->add_option("--data", ev.common.data, "Folder to evaluate (default: the checkpoint's training data)");
  v->add_option("--batch", ev.common.batch, "Batch size")->check(CLI::PositiveNumber);

  if (int rc = mg::app::parse_cli(app, argc, argv); rc >= 0) return rc;
  return mg::app::guarded_main(kApp, [&] {
    if (t->parsed()) return run_train(train);
    if (g->parsed()) return run_generate(gen);
    if (ip->parsed()) return run_interpolate(interp);
    if (e->parsed()) return run_encode(enc);
    return run_eval(ev);
  });
}
