// jazz-vae prepare: an audio folder decoded and resampled once into a
// decoded-audio cache (audio_cache.h) that train, prior and eval then read
// with --data instead of the folder. Files are decoded on --threads threads,
// each file on its own; this thread takes the results in file-name order and
// writes the shards, so the cache is byte for byte the same for any number of
// threads, and at most two decoded files per thread wait for their turn, so
// memory does not grow with the folder.
#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <exception>
#include <functional>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <thread>

#include <fmt/format.h>

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

// The files load_audio_folder reads, in its order: .wav/.au/.flac/.ogg (any
// case), not hidden, regular; sorted by name. `ignored` counts the others.
std::vector<fs::path> list_audio_files(const std::string& dir, size_t& ignored) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) mg::fail("--data {}: no such folder", dir);
  if (!fs::is_directory(dir, ec)) mg::fail("--data {}: not a folder", dir);
  std::vector<fs::path> files;
  fs::directory_iterator it(dir, ec);
  if (ec) mg::fail("--data {}: cannot list folder: {}", dir, ec.message());
  for (const fs::directory_entry& entry : it) {
    std::string ext = entry.path().extension().string();
    for (char& c : ext) c = char(std::tolower(static_cast<unsigned char>(c)));
    const bool audio = ext == ".wav" || ext == ".au" || ext == ".flac" || ext == ".ogg";
    if (entry.path().filename().string().starts_with(".") || !audio || !entry.is_regular_file(ec)) ++ignored;
    else files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end(),
            [](const fs::path& a, const fs::path& b) { return a.filename().string() < b.filename().string(); });
  return files;
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

// Calls decode(i) for every i < n on `threads` threads, and commit() with
// each result on this thread in the order of i. At most 2 * threads results
// are decoded ahead of the one being committed. An exception on either side
// stops the workers and is rethrown here.
void decode_in_order(size_t n, int threads, const std::function<DecodedFile(size_t)>& decode,
                     const std::function<void(DecodedFile&&)>& commit) {
  if (threads <= 1) {
    for (size_t i = 0; i < n; ++i) commit(decode(i));
    return;
  }
  const size_t ahead = 2 * size_t(threads);
  std::mutex mutex;
  std::condition_variable decoded, room;
  std::vector<std::optional<DecodedFile>> results(n);
  size_t next = 0, committed = 0;
  bool stop = false;
  std::exception_ptr failure;
  auto work = [&] {
    std::unique_lock lock(mutex);
    for (;;) {
      room.wait(lock, [&] { return stop || next >= n || next < committed + ahead; });
      if (stop || next >= n) return;
      const size_t i = next++;
      lock.unlock();
      std::optional<DecodedFile> result;
      std::exception_ptr error;
      try {
        result = decode(i);
      } catch (...) {
        error = std::current_exception();
      }
      lock.lock();
      if (error && !failure) failure = error;
      stop = stop || error;
      results[i] = std::move(result);
      decoded.notify_all();
    }
  };
  auto stop_all = [&] {
    {
      std::lock_guard lock(mutex);
      stop = true;
    }
    room.notify_all();
  };
  std::vector<std::jthread> workers;
  try {
    for (int t = 0; t < threads; ++t) workers.emplace_back(work);
    for (size_t i = 0; i < n; ++i) {
      DecodedFile result;
      {
        std::unique_lock lock(mutex);
        decoded.wait(lock, [&] { return stop || results[i].has_value(); });
        if (!results[i]) break;  // a worker failed
        result = std::move(*results[i]);
        results[i].reset();
        committed = i + 1;
      }
      room.notify_all();
      commit(std::move(result));
    }
  } catch (...) {
    stop_all();
    throw;  // the workers are joined as `workers` goes
  }
  stop_all();
  workers.clear();
  if (failure) std::rethrow_exception(failure);
}

bool is_cache_file(const std::string& name) {
  auto digits = [](const std::string& s) { return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos; };
  if (name == kAudioCacheIndexName || name == "run.lock") return true;
  if (name.size() == 15 && name.starts_with("audio-") && name.ends_with(".f32") && digits(name.substr(6, 5)))
    return true;
  const size_t tmp = name.rfind(".tmp.");
  return tmp != std::string::npos && digits(name.substr(tmp + 5)) && is_cache_file(name.substr(0, tmp));
}

// --out may be new, empty, a cache, or what a failed prepare left (shards
// without an index); any other folder is refused, so that prepare never
// writes its files among someone else's (an audio folder given as --out).
void refuse_foreign_folder(const std::string& dir) {
  std::error_code ec;
  if (fs::exists(fs::path(dir) / kAudioCacheIndexName, ec) && !is_audio_cache(dir))
    mg::fail("--out {}: holds an {} that is not a decoded-audio cache's; give a new or empty folder, or a cache to "
             "replace", dir, kAudioCacheIndexName);
  for (const fs::directory_entry& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (!is_cache_file(name))
      mg::fail("--out {}: holds {}, and is not a decoded-audio cache (no {}); give a new or empty folder, or a cache "
               "to replace", dir, name, kAudioCacheIndexName);
  }
  if (ec) mg::fail("--out {}: cannot list folder: {}", dir, ec.message());
}

}  // namespace

int run_prepare(const PrepareOptions& o) {
  if (o.quiet) mg::app::set_output_mode(mg::app::OutputMode::Quiet);
  const int rate = o.sample_rate > 0 ? o.sample_rate : model_sample_rate(o.model);
  size_t ignored = 0;
  const std::vector<fs::path> files = list_audio_files(o.data, ignored);
  if (files.empty())
    mg::fail("--data {}: no usable audio clip (.wav/.au/.flac/.ogg): 0 unreadable file(s) skipped, {} other file(s) "
             "ignored", o.data, ignored);
  mg::io::check_output_folder(o.out, "--out");
  std::error_code ec;
  if (fs::is_directory(o.out, ec)) refuse_foreign_folder(o.out);
  mg::io::RunFolder folder(o.out, "--out");  // one prepare per folder

  const int threads =
      std::max(1, std::min<int>(o.threads > 0 ? o.threads : mg::cpu::available_cpus(), static_cast<int>(files.size())));
  AudioCacheWriter writer(o.out, fs::weakly_canonical(fs::absolute(o.data), ec).string(), rate, o.shard_samples);
  mg::app::Progress progress("prepare", static_cast<int64_t>(files.size()), "files");
  const auto start = std::chrono::steady_clock::now();
  int64_t done = 0;
  decode_in_order(
      files.size(), threads, [&](size_t i) { return decode_file(files[i], rate); },
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
