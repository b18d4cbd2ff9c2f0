#pragma once
// The decoded-audio cache `jazz-vae prepare` writes and every command that
// reads a data folder (train, prior, eval: load_dataset) reads instead of
// decoding (format version 1, apps/jazz-vae/README.md "Decoded-audio cache"):
// an audio folder decoded and resampled once, as load_audio_folder would, to
// mono little-endian float32 samples at one sample rate, in shards
// audio-00000.f32, audio-00001.f32, ... of whole files, and index.json: the
// format and version, the sample rate, the shards (samples, FNV-1a 64
// checksum), every file decoded (name, size and checksum of the source file,
// its shard, sample offset and sample count), in file-name order, and every
// file skipped, with why. Readers map the shards read-only and verify each
// shard's size and checksum before using a sample of it; every error names
// the file.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "io/atomic_file.h"
#include "io/audio.h"
#include "io/dataset_cache.h"

namespace jazz {

inline constexpr const char* kAudioCacheFormat = "musicgen-audio-cache";
inline constexpr int kAudioCacheVersion = 1;
using mg::io::kCacheIndexName;  // index.json
// Shard s is audio_shard_name(s): audio-00000.f32.
inline const mg::io::ShardNames audio_shard_name{"audio-", ".f32"};
// Samples per shard (256 MiB of float32); a file with more gets a shard of its own.
inline constexpr int64_t kDefaultShardSamples = int64_t(64) << 20;

struct AudioCacheShard {
  std::string name;  // audio-00000.f32
  int64_t samples = 0;
  uint64_t checksum = 0;  // FNV-1a 64 of its bytes
};

struct AudioCacheFile {
  std::string name;       // file name in the source folder
  uint64_t bytes = 0;     // the source file's size
  uint64_t checksum = 0;  // FNV-1a 64 of the source file's bytes
  int64_t shard = 0, offset = 0, samples = 0;  // its samples: [offset, offset + samples) of that shard
};

struct AudioCacheIndex {
  std::string dir;     // the cache folder
  std::string source;  // the audio folder it was made from (absolute)
  int sample_rate = 0;
  std::vector<AudioCacheShard> shards;
  std::vector<AudioCacheFile> files;
  std::vector<std::pair<std::string, std::string>> skipped;  // file name, why
  int64_t samples = 0;  // in all shards
  std::string index_path() const { return dir + "/" + kCacheIndexName; }
  std::string shard_path(size_t s) const { return dir + "/" + shards[s].name; }
};

// True when dir holds an index.json that names the cache format in its first
// kilobytes (a cache, or a damaged one, which read_audio_cache_index then
// names), or holds a first shard audio-00000.f32 beside an index.json.
bool is_audio_cache(const std::string& dir);

// Reads DIR/index.json and checks it whole (format, version, types, ranges,
// the files in name order filling the shards without gaps, the total against
// kMaxFolderSamples); an error names index.json and the field.
AudioCacheIndex read_audio_cache_index(const std::string& dir);

// Every file's samples, as load_audio_folder(source, sample_rate, 0) gives
// them: each shard is mapped read-only and its size and checksum verified
// against the index before a sample of it is used (an error names the shard).
mg::io::ClipSet read_audio_cache(const AudioCacheIndex& index);

// Writes a cache file by file, in the order the files are added: a file's
// samples go to the current shard, or start a new one when they would take
// it past shard_samples. Shards are written (atomically) as they fill,
// index.json at finish(), after the last shard; then shards of an older
// cache beyond the new count are removed. A writer destroyed before finish()
// removes the shards it wrote.
class AudioCacheWriter {
 public:
  AudioCacheWriter(std::string dir, std::string source, int sample_rate, int64_t shard_samples = kDefaultShardSamples);
  void add_file(AudioCacheFile file, const std::vector<float>& samples);
  void add_skipped(const std::string& name, const std::string& why);
  const AudioCacheIndex& index() const { return index_; }
  void finish();

 private:
  void write_shard();
  AudioCacheIndex index_;
  int64_t shard_samples_;
  std::vector<float> pending_;  // the samples of the shard being filled
  mg::io::OutputSet written_;
};

}  // namespace jazz
