// jazz-vae eval: held-out metrics of a trained model on its own split of a folder.
#include <cstdio>

#include "apps/jazz-vae/jazz.h"

namespace jazz {

int run_eval(const EvalOptions& o) {
  const mg::Device device = mg::app::setup_device(o.common);
  LoadedModel m = load_model(o.checkpoint, device);
  const std::string data = o.common.data.empty() ? m.meta.data : o.common.data;
  const uint64_t seed = m.meta.train.seed;
  Dataset d = load_dataset(data, m.features, seed);
  for (Clip& c : d.clips) c.features = compute_features(m.features, c.audio);
  std::printf("data: %s: %zu files, %zu clips; split: %s\n", d.source.c_str(), d.files.size(), d.clips.size(),
              d.split.c_str());
  const bool held_out = !d.test.empty();
  std::vector<const Clip*> clips;
  for (size_t i : held_out ? d.test : d.train) clips.push_back(&d.clips[i]);
  if (!held_out) std::printf("note: no held-out clip; scoring the training clips\n");
  const Metrics r = evaluate_clips(m, clips, o.common.batch);
  std::printf("model: %s, epoch %d, latent %lld\n", m.features.model.c_str(), m.meta.epoch,
              static_cast<long long>(m.vae->config().latent));
  std::printf("%s clips: %zu\n", held_out ? "held-out" : "training", r.clips);
  std::printf("reconstruction loss (per clip, z = mu): %.6g\n", r.recon);
  std::printf("KL(q(z|x) || N(0, I)) per clip:        %.6g\n", r.kl);
  std::printf("negative ELBO at beta 1:                %.6g\n", r.recon + r.kl);
  std::printf("spectral convergence:                   %.4f\n", r.spectral_convergence);
  std::printf("log-spectral distance:                  %.3f dB\n", r.log_spectral_distance);
  return 0;
}

}  // namespace jazz
