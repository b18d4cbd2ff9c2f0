#include "apps/jazz-vae/audio_cache.h"

#include <bit>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "apps/jazz-vae/limits.h"
#include "io/checksum.h"
#include "io/utf8.h"
#include "tensor/error.h"

namespace jazz {

namespace fs = std::filesystem;

namespace {

constexpr const char* kAgain = "run jazz-vae prepare again";

// Samples are little-endian on disk: a no-op here, a byte swap on a big-endian machine (the same swap both ways).
void swap_to_little_endian(float* x, size_t n) {
  if constexpr (std::endian::native == std::endian::big)
    for (size_t i = 0; i < n; ++i) x[i] = std::bit_cast<float>(__builtin_bswap32(std::bit_cast<uint32_t>(x[i])));
}

}  // namespace

bool is_audio_cache(const std::string& dir) {
  std::error_code ec;
  const fs::path index = fs::path(dir) / kCacheIndexName;
  if (dir.empty() || !fs::is_directory(dir, ec) || !fs::is_regular_file(index, ec)) return false;
  if (fs::exists(fs::path(dir) / audio_shard_name(0), ec)) return true;
  std::ifstream in(index, std::ios::binary);
  std::string head(4096, '\0');
  in.read(head.data(), std::streamsize(head.size()));
  head.resize(size_t(in.gcount()));
  return head.find(fmt::format("\"{}\"", kAudioCacheFormat)) != std::string::npos;
}

AudioCacheIndex read_audio_cache_index(const std::string& dir) {
  AudioCacheIndex index;
  index.dir = dir;
  const std::string path = index.index_path();
  const nlohmann::json j = mg::io::read_index_json(path, kAgain);
  const mg::io::IndexFields f(path);
  if (!j.is_object() || !j.contains("format") || j["format"] != kAudioCacheFormat)
    mg::fail("{}: not a decoded-audio cache (its format is not \"{}\")", path, kAudioCacheFormat);
  const int64_t version = f.integer(j, "version", "", 1, 1'000'000);
  if (version != kAudioCacheVersion)
    mg::fail("{}: decoded-audio cache version {}; this jazz-vae reads version {} (run jazz-vae prepare again)", path,
             version, kAudioCacheVersion);
  index.sample_rate = int(f.integer(j, "sample_rate", "", kMinSampleRate, kMaxSampleRate));
  if (f.text(j, "encoding", "") != "float32le") f.bad("encoding", "expected \"float32le\"");
  index.source = mg::io::from_valid_utf8(f.text(j, "source", ""));

  const int64_t max_samples = int64_t(mg::io::kMaxFolderSamples);
  const nlohmann::json& shards = f.array(j, "shards", "");
  for (size_t s = 0; s < shards.size(); ++s) {
    const std::string field = fmt::format("shards[{}].", s);
    AudioCacheShard shard;
    shard.name = f.text(shards[s], "file", field);
    if (shard.name != audio_shard_name(s))
      f.bad(field + "file", fmt::format("expected {}, got '{}'", audio_shard_name(s), shard.name));
    shard.samples = f.integer(shards[s], "samples", field, 1, max_samples);
    if (f.integer(shards[s], "bytes", field, 0, INT64_MAX) != 4 * shard.samples)
      f.bad(field + "bytes", "expected 4 bytes per sample");
    shard.checksum = f.checksum(shards[s], "fnv1a64", field);
    index.samples += shard.samples;
    if (index.samples > max_samples)
      f.bad(field + "samples", fmt::format("the shards hold more than {} samples, the most a data folder may give",
                                           max_samples));
    index.shards.push_back(std::move(shard));
  }

  // Files in name order (load_audio_folder's), filling the shards one after another with no gap.
  const nlohmann::json& files = f.array(j, "files", "");
  int64_t shard = 0, at = 0;
  for (size_t i = 0; i < files.size(); ++i) {
    const std::string field = fmt::format("files[{}].", i);
    AudioCacheFile file;
    file.name = mg::io::from_valid_utf8(f.text(files[i], "name", field));
    if (file.name.empty() || file.name.find('/') != std::string::npos)
      f.bad(field + "name", fmt::format("expected a file name, got '{}'", mg::io::valid_utf8(file.name)));
    if (i > 0 && !(index.files.back().name < file.name))
      f.bad(field + "name", "the files are not in name order");
    file.bytes = uint64_t(f.integer(files[i], "bytes", field, 0, INT64_MAX));
    file.checksum = f.checksum(files[i], "fnv1a64", field);
    file.shard = f.integer(files[i], "shard", field, 0, std::max<int64_t>(0, int64_t(index.shards.size()) - 1));
    file.offset = f.integer(files[i], "offset", field, 0, max_samples);
    file.samples = f.integer(files[i], "samples", field, 1, max_samples);
    if (file.shard == shard + 1 && at == index.shards[size_t(shard)].samples) {
      shard = file.shard;
      at = 0;
    }
    if (index.shards.empty() || file.shard != shard || file.offset != at ||
        file.samples > index.shards[size_t(shard)].samples - at)
      f.bad(field + "offset", fmt::format("samples [{}, {}) of shard {} do not follow the previous file's", file.offset,
                                          file.offset + file.samples, file.shard));
    at += file.samples;
    index.files.push_back(std::move(file));
  }
  if (!index.shards.empty() && (shard + 1 != int64_t(index.shards.size()) || at != index.shards.back().samples))
    f.bad("files", "the files' samples do not fill the shards");
  const nlohmann::json& skipped = f.array(j, "skipped", "");
  for (size_t i = 0; i < skipped.size(); ++i) {
    const std::string field = fmt::format("skipped[{}].", i);
    index.skipped.emplace_back(mg::io::from_valid_utf8(f.text(skipped[i], "name", field)),
                               f.text(skipped[i], "reason", field));
  }
  return index;
}

mg::io::ClipSet read_audio_cache(const AudioCacheIndex& index) {
  mg::io::ClipSet set;
  size_t next = 0;  // the first file of the shard being read
  for (size_t s = 0; s < index.shards.size(); ++s) {
    const AudioCacheShard& shard = index.shards[s];
    const mg::io::MappedFile mapped(index.shard_path(s), 4 * uint64_t(shard.samples), shard.checksum,
                                    fmt::format("{} samples", shard.samples), kAgain);
    const float* samples = static_cast<const float*>(mapped.data());
    for (; next < index.files.size() && index.files[next].shard == int64_t(s); ++next) {
      const AudioCacheFile& f = index.files[next];
      set.names.push_back(f.name);
      set.clips.emplace_back(samples + f.offset, samples + f.offset + f.samples);
      swap_to_little_endian(set.clips.back().data(), set.clips.back().size());  // to the machine's order
    }
  }
  return set;
}

AudioCacheWriter::AudioCacheWriter(std::string dir, std::string source, int sample_rate, int64_t shard_samples)
    : shard_samples_(shard_samples) {
  index_.dir = std::move(dir);
  index_.source = std::move(source);
  index_.sample_rate = sample_rate;
}

void AudioCacheWriter::add_file(AudioCacheFile file, const std::vector<float>& samples) {
  if (!pending_.empty() && int64_t(pending_.size() + samples.size()) > shard_samples_) write_shard();
  file.shard = int64_t(index_.shards.size());
  file.offset = int64_t(pending_.size());
  file.samples = int64_t(samples.size());
  pending_.insert(pending_.end(), samples.begin(), samples.end());
  index_.samples += file.samples;
  index_.files.push_back(std::move(file));
}

void AudioCacheWriter::add_skipped(const std::string& name, const std::string& why) {
  index_.skipped.emplace_back(name, why);
}

void AudioCacheWriter::write_shard() {
  swap_to_little_endian(pending_.data(), pending_.size());
  const size_t bytes = 4 * pending_.size();
  AudioCacheShard shard{audio_shard_name(index_.shards.size()), int64_t(pending_.size()),
                        mg::io::fnv1a64(pending_.data(), bytes)};
  const std::string path = index_.dir + "/" + shard.name;
  mg::io::write_shard(path, pending_.data(), bytes);
  written_.add(path);
  index_.shards.push_back(std::move(shard));
  pending_.clear();
}

void AudioCacheWriter::finish() {
  if (!pending_.empty()) write_shard();
  // One line per shard, file and skipped file: a large index stays readable with grep and diff.
  using ojson = nlohmann::ordered_json;
  using mg::io::hex64, mg::io::json_lines;
  std::vector<ojson> shards, files, skipped;
  for (const AudioCacheShard& s : index_.shards)
    shards.push_back({{"file", s.name}, {"samples", s.samples}, {"bytes", 4 * s.samples}, {"fnv1a64", hex64(s.checksum)}});
  for (const AudioCacheFile& f : index_.files)
    files.push_back({{"name", mg::io::valid_utf8(f.name)}, {"bytes", f.bytes}, {"fnv1a64", hex64(f.checksum)},
                     {"shard", f.shard}, {"offset", f.offset}, {"samples", f.samples}});
  for (const auto& [name, why] : index_.skipped)
    skipped.push_back({{"name", mg::io::valid_utf8(name)}, {"reason", mg::io::valid_utf8(why)}});
  const std::string text = fmt::format(
      "{{\n  \"format\": {},\n  \"version\": {},\n  \"sample_rate\": {},\n  \"encoding\": \"float32le\",\n"
      "  \"source\": {},\n  \"shards\": {},\n  \"files\": {},\n  \"skipped\": {}\n}}\n",
      ojson(kAudioCacheFormat).dump(), kAudioCacheVersion, index_.sample_rate,
      ojson(mg::io::valid_utf8(index_.source)).dump(), json_lines(shards), json_lines(files), json_lines(skipped));
  mg::io::write_file_atomic(index_.index_path(), text);
  written_.keep();
  mg::io::remove_shards_from(index_.dir, audio_shard_name, index_.shards.size());
}

}  // namespace jazz
