#include "io/audio.h"

#include <samplerate.h>
#include <sndfile.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>

#include "io/atomic_file.h"
#include "io/input_file.h"
#include "tensor/error.h"

namespace mg::io {
namespace {

namespace fs = std::filesystem;

// 10^(-1/20), rounded down so the written peak stays at or below -1 dBFS.
constexpr float kPeakTarget = 0.891f;

using SndFile = std::unique_ptr<SNDFILE, decltype(&sf_close)>;

uint32_t read_u32(const unsigned char* p, bool big_endian) {
  if (big_endian) return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
  return uint32_t(p[3]) << 24 | uint32_t(p[2]) << 16 | uint32_t(p[1]) << 8 | p[0];
}

// libsndfile quietly shortens a WAV or AU whose header promises more data than
// the file holds (a cut download, GTZAN's broken clip), so we read the promise
// from the header ourselves. Returns -1 when the header leaves the length open
// (streamed files write 0 or 0xFFFFFFFF) or the layout is not one we know.
int64_t wav_promised_frames(std::ifstream& f) {
  std::array<unsigned char, 12> riff{};
  if (!f.read(reinterpret_cast<char*>(riff.data()), 12) || std::string(riff.begin(), riff.begin() + 4) != "RIFF") return -1;
  uint32_t block_align = 0;
  std::array<unsigned char, 16> chunk{};
  while (f.read(reinterpret_cast<char*>(chunk.data()), 8)) {
    std::string id(chunk.begin(), chunk.begin() + 4);
    uint32_t size = read_u32(chunk.data() + 4, false);
    if (id == "fmt ") {
      if (size < 14 || !f.read(reinterpret_cast<char*>(chunk.data()), 14)) return -1;
      block_align = uint32_t(chunk[12]) | uint32_t(chunk[13]) << 8;
      f.seekg(std::streamoff(size - 14 + (size & 1)), std::ios::cur);
    } else if (id == "data") {
      if (size == 0 || size == 0xFFFFFFFFu || block_align == 0) return -1;
      return size / block_align;
    } else {
      f.seekg(std::streamoff(size) + (size & 1), std::ios::cur);
    }
  }
  return -1;
}

int64_t au_promised_frames(std::ifstream& f) {
  std::array<unsigned char, 24> h{};
  if (!f.read(reinterpret_cast<char*>(h.data()), 24)) return -1;
  std::string magic(h.begin(), h.begin() + 4);
  if (magic != ".snd" && magic != "dns.") return -1;
  bool big = magic == ".snd";
  uint32_t size = read_u32(h.data() + 8, big), encoding = read_u32(h.data() + 12, big);
  uint32_t channels = read_u32(h.data() + 20, big);
  uint32_t bytes_per_sample = 0;
  switch (encoding) {
    case 1: case 2: case 27: bytes_per_sample = 1; break;  // mu-law, 8-bit, A-law
    case 3: bytes_per_sample = 2; break;
    case 4: bytes_per_sample = 3; break;
    case 5: case 6: bytes_per_sample = 4; break;  // 32-bit int, float
    case 7: bytes_per_sample = 8; break;
    default: return -1;
  }
  if (size == 0xFFFFFFFFu || channels == 0) return -1;
  return size / (bytes_per_sample * channels);
}

int64_t promised_frames(const std::string& path, int sf_format) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return -1;
  switch (sf_format & SF_FORMAT_TYPEMASK) {
    case SF_FORMAT_WAV: case SF_FORMAT_WAVEX: return wav_promised_frames(f);
    case SF_FORMAT_AU: return au_promised_frames(f);
    default: return -1;
  }
}

std::vector<float> resample(const std::vector<float>& x, int from_rate, int to_rate, std::string& why) {
  double ratio = double(to_rate) / from_rate;
  auto expected = static_cast<size_t>(std::llround(double(x.size()) * ratio));
  if (expected == 0) {
    why = fmt::format("too short to resample from {} Hz to {} Hz", from_rate, to_rate);
    return {};
  }
  std::vector<float> out(expected + 64);
  SRC_DATA d{};
  d.data_in = x.data();
  d.input_frames = static_cast<long>(x.size());
  d.data_out = out.data();
  d.output_frames = static_cast<long>(out.size());
  d.src_ratio = ratio;
  if (int e = src_simple(&d, SRC_SINC_MEDIUM_QUALITY, 1); e != 0) {
    why = fmt::format("cannot resample from {} Hz to {} Hz: {}", from_rate, to_rate, src_strerror(e));
    return {};
  }
  // libsamplerate may deliver a sample more or less than the exact ratio; fix
  // the length so that equal inputs always give equal-length outputs.
  out.resize(static_cast<size_t>(d.output_frames_gen));
  out.resize(expected, 0.0f);
  return out;
}

// Loads path into out; returns "" on success, otherwise why it failed.
std::string read_audio(const std::string& path, int target_rate, Audio& out) {
  try {
    input_file_size(path, "audio");
  } catch (const Error& e) {
    // The message without the path, which the caller puts in front.
    const std::string what = e.what();
    return what.substr(std::min(what.size(), path.size() + 2));
  }
  SF_INFO info{};
  SndFile file(sf_open(path.c_str(), SFM_READ, &info), &sf_close);
  if (!file) return fmt::format("cannot read audio: {}", sf_strerror(nullptr));
  if (info.frames <= 0 || info.channels <= 0) return "no audio (zero frames)";
  if (info.samplerate <= 0) return fmt::format("invalid sample rate {}", info.samplerate);
  if (info.frames > kMaxAudioFrames)
    return fmt::format("{} frames is longer than the limit of {} ({:.0f} s at {} Hz)", info.frames, kMaxAudioFrames,
                       double(kMaxAudioFrames) / info.samplerate, info.samplerate);
  if (target_rate > 0 && double(info.frames) * target_rate / info.samplerate > double(kMaxAudioFrames))
    return fmt::format("{} frames at {} Hz are more than {} samples at {} Hz (the limit)", info.frames,
                       info.samplerate, kMaxAudioFrames, target_rate);

  // Read in blocks, so memory follows the frames actually decoded rather than
  // the header's promise, and a many-channel file needs no interleaved copy.
  const size_t channels = static_cast<size_t>(info.channels);
  const sf_count_t block = std::max<sf_count_t>(1, (1 << 16) / info.channels);
  std::vector<float> interleaved(static_cast<size_t>(block) * channels);
  std::vector<float> mono;
  sf_count_t read = 0;
  while (read < info.frames) {
    const sf_count_t got = sf_readf_float(file.get(), interleaved.data(), std::min(block, info.frames - read));
    if (got <= 0) break;
    for (sf_count_t i = 0; i < got; ++i) {
      float sum = 0.0f;
      for (size_t c = 0; c < channels; ++c) {
        const float v = interleaved[static_cast<size_t>(i) * channels + c];
        if (!std::isfinite(v))
          return fmt::format("sample {}{} is {}; audio must hold finite values", read + i,
                             channels > 1 ? fmt::format(" (channel {})", c + 1) : "", v);
        sum += v;
      }
      mono.push_back(sum / float(channels));
    }
    read += got;
  }
  std::string decoder_error = sf_error(file.get()) != SF_ERR_NO_ERROR ? sf_strerror(file.get()) : "";
  int64_t promised = std::max<int64_t>(info.frames, promised_frames(path, info.format));
  if (read < promised) {
    return fmt::format("truncated: header says {} frames, read {}{}", promised, read,
                       decoder_error.empty() ? "" : " (" + decoder_error + ")");
  }
  if (!decoder_error.empty()) return fmt::format("read failed: {}", decoder_error);

  out.sample_rate = info.samplerate;
  if (target_rate > 0 && target_rate != info.samplerate) {
    std::string why;
    mono = resample(mono, info.samplerate, target_rate, why);
    if (!why.empty()) return why;
    out.sample_rate = target_rate;
  }
  out.samples = std::move(mono);
  return "";
}

bool has_audio_extension(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return ext == ".wav" || ext == ".au" || ext == ".flac" || ext == ".ogg";
}

}  // namespace

Audio load_audio(const std::string& path, int target_rate) {
  if (target_rate < 0) fail("{}: invalid target sample rate {}", path, target_rate);
  Audio audio;
  if (std::string why = read_audio(path, target_rate, audio); !why.empty()) fail("{}: {}", path, why);
  return audio;
}

std::vector<float> crop_or_pad(const std::vector<float>& x, size_t length) {
  std::vector<float> out(length, 0.0f);
  std::copy_n(x.begin(), std::min(length, x.size()), out.begin());
  return out;
}

AudioFiles list_audio_files(const std::string& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) fail("{}: no such folder", dir);
  if (!fs::is_directory(dir, ec)) fail("{}: not a folder", dir);
  AudioFiles out;
  fs::directory_iterator it(dir, ec);
  if (ec) fail("{}: cannot list folder: {}", dir, ec.message());
  for (const fs::directory_entry& entry : it) {
    // Hidden files include the "._name.wav" AppleDouble files that macOS
    // archives put beside every clip; they are metadata, not audio.
    if (entry.path().filename().string().starts_with(".") || !has_audio_extension(entry.path()) ||
        !entry.is_regular_file(ec))
      ++out.ignored;
    else
      out.files.push_back(entry.path());
  }
  std::sort(out.files.begin(), out.files.end(),
            [](const fs::path& a, const fs::path& b) { return a.filename().string() < b.filename().string(); });
  return out;
}

ClipSet load_audio_folder(const std::string& dir, int rate, size_t clip_length,
                          const std::function<void(const std::string&, const std::string&)>& on_skip) {
  const AudioFiles folder = list_audio_files(dir);
  if (rate <= 0) fail("{}: invalid sample rate {}", dir, rate);

  ClipSet set;
  size_t skipped = 0, samples = 0;
  for (const fs::path& file : folder.files) {
    Audio audio;
    if (std::string why = read_audio(file.string(), rate, audio); !why.empty()) {
      ++skipped;
      if (on_skip) on_skip(file.string(), why);
      continue;
    }
    set.names.push_back(file.filename().string());
    set.clips.push_back(clip_length > 0 ? crop_or_pad(audio.samples, clip_length) : std::move(audio.samples));
    samples += set.clips.back().size();
    if (samples > kMaxFolderSamples)
      fail("{}: more than {} samples of audio at {} Hz in the folder (the limit); use fewer or shorter files", dir,
           kMaxFolderSamples, rate);
  }
  if (set.clips.empty()) {
    fail("{}: no usable audio clip (.wav/.au/.flac/.ogg): {} unreadable file(s) skipped, {} other file(s) ignored",
         dir, skipped, folder.ignored);
  }
  return set;
}

void write_wav(const std::string& path, const std::vector<float>& samples, int sample_rate, bool peak_normalize) {
  if (samples.empty()) fail("{}: no samples to write", path);
  if (sample_rate <= 0) fail("{}: invalid sample rate {}", path, sample_rate);
  for (size_t i = 0; i < samples.size(); ++i) {
    if (!std::isfinite(samples[i])) fail("{}: sample {} is {}; refusing to write non-finite audio", path, i, samples[i]);
  }
  std::vector<float> out = samples;
  if (float p = peak(out); peak_normalize && p > 0.0f) {
    float scale = kPeakTarget / p;
    for (float& v : out) v *= scale;
  }
  for (float& v : out) v = std::clamp(v, -1.0f, 1.0f);

  write_file_atomic(path, [&](const std::string& tmp) {
    SF_INFO info{};
    info.samplerate = sample_rate;
    info.channels = 1;
    info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
    SndFile file(sf_open(tmp.c_str(), SFM_WRITE, &info), &sf_close);
    if (!file) fail("{}: cannot write: {}", path, sf_strerror(nullptr));
    sf_count_t written = sf_writef_float(file.get(), out.data(), static_cast<sf_count_t>(out.size()));
    if (written != static_cast<sf_count_t>(out.size()) || sf_close(file.release()) != 0) {
      fail("{}: write failed (disk full?)", path);
    }
  });
}

double rms(const std::vector<float>& x) {
  if (x.empty()) return 0.0;
  double sum = 0.0;
  for (float v : x) sum += double(v) * v;
  return std::sqrt(sum / double(x.size()));
}

float peak(const std::vector<float>& x) {
  float p = 0.0f;
  for (float v : x) p = std::max(p, std::fabs(v));
  return p;
}

size_t count_clipped(const std::vector<float>& x) {
  return static_cast<size_t>(std::count_if(x.begin(), x.end(), [](float v) { return std::fabs(v) >= 0.999f; }));
}

std::vector<float> resample(const std::vector<float>& x, int from_rate, int to_rate) {
  MG_CHECK(from_rate > 0 && to_rate > 0, "resample: rates must be positive ({} Hz to {} Hz)", from_rate, to_rate);
  if (from_rate == to_rate) return x;
  std::string why;
  std::vector<float> out = resample(x, from_rate, to_rate, why);
  if (!why.empty()) fail("{}", why);
  return out;
}

}  // namespace mg::io
