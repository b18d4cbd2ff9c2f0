#pragma once
// Audio files in and out: libsndfile reads WAV, AU (GTZAN's original format),
// FLAC and OGG; libsamplerate resamples. Everything is mono float in [-1, 1].
// Errors are mg::Error, one line, naming the file or folder.
#include <cstddef>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace mg::io {

struct Audio {
  int sample_rate = 0;
  std::vector<float> samples;  // mono
};

// Longest file the loaders read: 2^25 frames, 12.7 minutes at 44.1 kHz
// (128 MiB of mono samples); a longer file is refused before it is read.
inline constexpr int64_t kMaxAudioFrames = int64_t(1) << 25;

// Reads an audio file, mixes it down to mono (mean of the channels) and, when
// target_rate > 0 and differs from the file's rate, resamples it
// (SRC_SINC_MEDIUM_QUALITY) to exactly round(frames * target_rate / rate)
// samples. Throws for a path that is not a regular file, an unreadable file,
// no audio at all, more than kMaxAudioFrames, a NaN or infinite sample
// ("sample N is nan"), and a truncated file: a WAV or AU whose header promises
// more data than the file holds, or any file whose decoder delivers fewer
// frames than announced ("truncated: header says N frames, read M").
Audio load_audio(const std::string& path, int target_rate = 0);

// The first `length` samples of x, zero-padded at the end when x is shorter.
std::vector<float> crop_or_pad(const std::vector<float>& x, size_t length);

// Most samples load_audio_folder gathers from one folder (2^28, 1 GiB of
// floats: 3.4 hours at 22,050 Hz); a folder with more is an error naming it.
inline constexpr size_t kMaxFolderSamples = size_t(1) << 28;

struct ClipSet {
  std::vector<std::string> names;          // file names (no folder), sorted
  std::vector<std::vector<float>> clips;   // one per name, each of the requested length
};

// The audio files of `dir`: every regular .wav/.au/.flac/.ogg file
// (extension case-insensitive), sorted by file name. Hidden files, which
// include macOS "._*" AppleDouble metadata, and other entries are only
// counted. Throws when dir is missing, not a folder or cannot be listed.
struct AudioFiles {
  std::vector<std::filesystem::path> files;
  size_t ignored = 0;  // the folder's other entries
};
AudioFiles list_audio_files(const std::string& dir);

// Loads the files list_audio_files gives, in its order, at `rate` Hz, cropped
// or zero-padded to clip_length samples (0 keeps each clip's own length).
// A file that cannot be loaded (unreadable, truncated, empty, too long,
// non-finite samples) is reported once
// through on_skip(file path, reason) and left out. Throws when dir is missing
// or not a folder, when the clips pass kMaxFolderSamples, or when no clip
// could be loaded (the message counts the skipped and ignored files).
ClipSet load_audio_folder(const std::string& dir, int rate, size_t clip_length,
                          const std::function<void(const std::string& file, const std::string& why)>& on_skip);

// Writes mono 16-bit PCM WAV atomically (io/atomic_file.h). With
// peak_normalize the samples are scaled so the peak is at -1 dBFS (0.891);
// silence stays silence. Without it they are clamped to [-1, 1]. NaN or
// infinite samples are an error (they mean the producer diverged; writing
// zeros would hide that), and so is an empty signal.
void write_wav(const std::string& path, const std::vector<float>& samples, int sample_rate, bool peak_normalize);

// Resamples with libsamplerate (SRC_SINC_MEDIUM_QUALITY) to exactly
// round(n * to_rate / from_rate) samples; an error when that is 0.
std::vector<float> resample(const std::vector<float>& x, int from_rate, int to_rate);

// Level helpers; all return 0 for an empty signal.
double rms(const std::vector<float>& x);
float peak(const std::vector<float>& x);          // max |x|
size_t count_clipped(const std::vector<float>& x);  // samples with |x| >= 0.999

}  // namespace mg::io
