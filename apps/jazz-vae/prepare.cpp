// jazz-vae prepare: an audio folder decoded and resampled once into a
// decoded-audio cache (audio_cache.h) that train, prior and eval then read
// with --data instead of the folder. Files are decoded on --threads threads,
// each file on its own; this thread takes the results in file-name order and
// writes the shards, so the cache is byte for byte the same for any number of
// threads, and at most two decoded files per thread wait for their turn, so
// memory does not grow with the folder.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <shared_mutex>

#include <fmt/format.h>

#include "apps/common/ordered_map.h"
#include "apps/common/progress.h"
#include "apps/common/run_control.h"
#include "apps/jazz-vae/jazz.h"
#include "io/atomic_file.h"
#include "io/audio.h"
#include "io/checksum.h"
#include "io/run_folder.h"
#include "kernels/cpu/parallel.h"

namespace jazz {

namespace {

namespace fs = std::filesystem;

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// One file decoded at the cache's rate, or why it was skipped.
struct DecodedFile {
  fs::path path;
  std::string why;  // non-empty: skipped
  AudioCacheFile file;
  std::vector<float> samples;
};

// libsndfile reports a file it cannot open through one process-wide error
// (sf_strerror(NULL)), which another thread's failure can overwrite: files
// are decoded under a shared lock, and a failed one again under an exclusive
// lock, so its reason is the one a single thread would give.
std::shared_mutex sndfile_errors;

// As load_audio_folder decodes a file: the same samples, and the same reason to skip it.
DecodedFile decode_once(const fs::path& path, int rate) {
  DecodedFile d;
  d.path = path;
  d.file.name = path.filename().string();
  try {
    d.samples = mg::io::load_audio(path.string(), rate).samples;
  } catch (const mg::Error& e) {
    const std::string what = e.what(), prefix = path.string() + ": ";
    d.why = what.starts_with(prefix) ? what.substr(prefix.size()) : what;
    return d;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) mg::fail("{}: cannot read it again for its checksum", path.string());
  std::vector<char> block(size_t(1) << 20);
  d.file.checksum = mg::io::kFnv1aOffset;
  while (in.read(block.data(), std::streamsize(block.size())) || in.gcount() > 0) {
    d.file.checksum = mg::io::fnv1a64(block.data(), size_t(in.gcount()), d.file.checksum);
    d.file.bytes += uint64_t(in.gcount());
  }
  if (in.bad()) mg::fail("{}: read failed while computing its checksum", path.string());
  return d;
}

DecodedFile decode_file(const fs::path& path, int rate) {
  {
    std::shared_lock lock(sndfile_errors);
    DecodedFile d = decode_once(path, rate);
    if (d.why.empty()) return d;
  }
  std::unique_lock lock(sndfile_errors);
  return decode_once(path, rate);
}

}  // namespace

int run_prepare(const PrepareOptions& o) {
  if (o.quiet) mg::app::set_output_mode(mg::app::OutputMode::Quiet);
  const int rate = o.sample_rate > 0 ? o.sample_rate : model_sample_rate(o.model);
  mg::io::AudioFiles audio;
  try {
    audio = mg::io::list_audio_files(o.data);
  } catch (const mg::Error& e) {
    mg::fail("--data {}", e.what());  // "--data DIR: no such folder"
  }
  const std::vector<fs::path>& files = audio.files;
  const size_t ignored = audio.ignored;
  if (files.empty())
    mg::fail("--data {}: no usable audio clip (.wav/.au/.flac/.ogg): 0 unreadable file(s) skipped, {} other file(s) "
             "ignored", o.data, ignored);
  mg::io::check_output_folder(o.out, "--out");
  std::error_code ec;
  if (fs::is_directory(o.out, ec))
    mg::io::refuse_foreign_folder(o.out, "--out", audio_shard_name, "a decoded-audio cache", is_audio_cache);
  mg::io::RunFolder folder(o.out, "--out");  // one prepare per folder

  const int threads =
      std::max(1, std::min<int>(o.threads > 0 ? o.threads : mg::cpu::available_cpus(), static_cast<int>(files.size())));
  AudioCacheWriter writer(o.out, fs::weakly_canonical(fs::absolute(o.data), ec).string(), rate, o.shard_samples);
  mg::app::Progress progress("prepare", static_cast<int64_t>(files.size()), "files");
  const auto start = std::chrono::steady_clock::now();
  int64_t done = 0;
  // At most two decoded files per thread wait for their turn.
  mg::app::map_in_order(
      files.size(), threads, 2 * size_t(threads), [&](size_t i) { return decode_file(files[i], rate); },
      [&](DecodedFile&& d) {
        if (!d.why.empty()) {
          std::fprintf(stderr, "warning: skipping %s: %s\n", d.path.c_str(), d.why.c_str());
          writer.add_skipped(d.file.name, d.why);
        } else {
          writer.add_file(std::move(d.file), d.samples);
          if (writer.index().samples > int64_t(mg::io::kMaxFolderSamples))
            mg::fail("--data {}: more than {} samples of audio at {} Hz in the folder (the limit); use fewer or shorter "
                     "files", o.data, mg::io::kMaxFolderSamples, rate);
        }
        progress.update(done++, NAN, 1,
                        fmt::format("{:.0f} s of audio", double(writer.index().samples) / double(rate)));
      });
  const AudioCacheIndex& index = writer.index();
  if (index.files.empty())
    mg::fail("--data {}: no usable audio clip (.wav/.au/.flac/.ogg): {} unreadable file(s) skipped, {} other file(s) "
             "ignored", o.data, index.skipped.size(), ignored);
  if (!index.skipped.empty())
    std::fprintf(stderr, "warning: %zu unreadable file(s) skipped, %zu loaded\n", index.skipped.size(),
                 index.files.size());
  writer.finish();
  const double seconds = seconds_since(start);
  progress.finish();
  std::printf("data: %s: %zu audio files decoded, %zu skipped, %zu other file(s) ignored\n", o.data.c_str(),
              index.files.size(), index.skipped.size(), ignored);
  std::printf("cache: %s: %lld samples (%.1f s of audio at %d Hz) in %zu shard%s; index %s\n", o.out.c_str(),
              static_cast<long long>(index.samples), double(index.samples) / rate, rate, index.shards.size(),
              index.shards.size() == 1 ? "" : "s", index.index_path().c_str());
  std::printf("time: %.3f s with %d thread%s\n", seconds, threads, threads == 1 ? "" : "s");
  return 0;
}

}  // namespace jazz
