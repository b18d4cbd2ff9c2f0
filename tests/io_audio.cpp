// io/audio and io/jazz_synth: file round trips, resampling, mixdown, damaged
// files, the folder loader, level handling, and the built-in jazz clips.
#include <doctest/doctest.h>
#include <sndfile.h>
#include <sys/stat.h>

#include <chrono>
#include <cmath>
#include <complex>
#include <filesystem>
#include <fstream>
#include <numbers>
#include <string>
#include <vector>

#include "io/audio.h"
#include "io/jazz_synth.h"
#include "tensor/error.h"
#include "tests/test_support.h"

namespace fs = std::filesystem;
using namespace mg::io;
using mg::test::error_of;

namespace {

std::vector<float> sine(double hz, double seconds, int rate, float amp) {
  std::vector<float> x(static_cast<size_t>(std::llround(seconds * rate)));
  for (size_t i = 0; i < x.size(); ++i) x[i] = amp * float(std::sin(2.0 * std::numbers::pi * hz * double(i) / rate));
  return x;
}

// Writes interleaved float frames with libsndfile in the given format.
void write_raw(const std::string& path, const std::vector<float>& interleaved, int channels, int rate, int format) {
  SF_INFO info{};
  info.samplerate = rate;
  info.channels = channels;
  info.format = format;
  SNDFILE* f = sf_open(path.c_str(), SFM_WRITE, &info);
  REQUIRE(f != nullptr);
  sf_writef_float(f, interleaved.data(), sf_count_t(interleaved.size() / size_t(channels)));
  sf_close(f);
}

// Keeps the first half of a file, as an interrupted download would.
void cut_in_half(const std::string& path) { fs::resize_file(path, fs::file_size(path) / 2); }

bool contains(const std::string& haystack, const std::string& needle) { return haystack.find(needle) != std::string::npos; }

// Frequency (Hz) of the strongest DFT bin, at 1 Hz resolution over one second of x.
int dominant_hz(const std::vector<float>& x, int rate) {
  int best = 0;
  double best_mag = -1.0;
  for (int hz = 1; hz < rate / 2; ++hz) {
    std::complex<double> acc = 0.0;
    std::complex<double> step = std::polar(1.0, -2.0 * std::numbers::pi * hz / rate), w = 1.0;
    for (int i = 0; i < rate; ++i, w *= step) acc += double(x[size_t(i)]) * w;
    if (std::abs(acc) > best_mag) best_mag = std::abs(acc), best = hz;
  }
  return best;
}

}  // namespace

TEST_CASE("write_wav then load_audio gives the samples back to 16-bit precision") {
  std::string path = mg::test::scratch_dir("audio_roundtrip") + "/tone.wav";
  std::vector<float> x = sine(523.25, 0.5, 22050, 0.7f);
  write_wav(path, x, 22050, false);
  Audio a = load_audio(path);
  CHECK(a.sample_rate == 22050);
  REQUIRE(a.samples.size() == x.size());
  float worst = 0.0f;
  for (size_t i = 0; i < x.size(); ++i) worst = std::max(worst, std::fabs(a.samples[i] - x[i]));
  CHECK(worst < 1e-4f);
}

TEST_CASE("resampling keeps the duration and the pitch") {
  std::string dir = mg::test::scratch_dir("audio_resample");
  write_wav(dir + "/a440.wav", sine(440.0, 1.3, 22050, 0.5f), 22050, false);
  Audio a = load_audio(dir + "/a440.wav", 3000);
  CHECK(a.sample_rate == 3000);
  CHECK(std::abs(double(a.samples.size()) - 1.3 * 3000) <= 2.0);
  CHECK(dominant_hz(a.samples, 3000) == 440);

  Audio up = load_audio(dir + "/a440.wav", 44100);
  CHECK(std::abs(double(up.samples.size()) - 1.3 * 44100) <= 2.0);
  CHECK(dominant_hz(up.samples, 44100) == 440);
  CHECK(load_audio(dir + "/a440.wav", 22050).samples.size() == size_t(std::llround(1.3 * 22050)));
}

TEST_CASE("stereo files are mixed down to the mean of their channels") {
  std::string path = mg::test::scratch_dir("audio_stereo") + "/stereo.wav";
  std::vector<float> left = sine(300.0, 0.2, 16000, 0.6f), frames;
  for (float l : left) frames.insert(frames.end(), {l, 0.2f});
  write_raw(path, frames, 2, 16000, SF_FORMAT_WAV | SF_FORMAT_PCM_16);
  Audio a = load_audio(path);
  REQUIRE(a.samples.size() == left.size());
  float worst = 0.0f;
  for (size_t i = 0; i < left.size(); ++i) worst = std::max(worst, std::fabs(a.samples[i] - 0.5f * (left[i] + 0.2f)));
  CHECK(worst < 1e-4f);
}

TEST_CASE("AU (GTZAN's original format), FLAC and OGG files load") {
  std::string dir = mg::test::scratch_dir("audio_formats");
  std::vector<float> x = sine(220.0, 0.25, 22050, 0.4f);
  write_raw(dir + "/jazz.00000.au", x, 1, 22050, SF_FORMAT_AU | SF_FORMAT_PCM_16);
  Audio a = load_audio(dir + "/jazz.00000.au");
  CHECK(a.sample_rate == 22050);
  REQUIRE(a.samples.size() == x.size());
  CHECK(std::fabs(a.samples[1000] - x[1000]) < 1e-4f);

  write_raw(dir + "/clip.flac", x, 1, 22050, SF_FORMAT_FLAC | SF_FORMAT_PCM_16);
  Audio flac = load_audio(dir + "/clip.flac");
  REQUIRE(flac.samples.size() == x.size());
  CHECK(std::fabs(flac.samples[1000] - x[1000]) < 1e-4f);

  // Vorbis is lossy: check the level and the length, not the samples.
  write_raw(dir + "/clip.ogg", x, 1, 22050, SF_FORMAT_OGG | SF_FORMAT_VORBIS);
  Audio ogg = load_audio(dir + "/clip.ogg", 11025);
  CHECK(std::abs(double(ogg.samples.size()) - double(x.size()) / 2) <= 2.0);
  CHECK(rms(ogg.samples) == doctest::Approx(0.4 / std::sqrt(2.0)).epsilon(0.05));
}

TEST_CASE("truncated, empty and non-audio files are errors naming the file") {
  std::string dir = mg::test::scratch_dir("audio_damaged");
  write_wav(dir + "/cut.wav", sine(440.0, 0.5, 22050, 0.5f), 22050, false);
  cut_in_half(dir + "/cut.wav");
  std::string why = error_of([&] { load_audio(dir + "/cut.wav"); });
  CHECK(contains(why, dir + "/cut.wav"));
  CHECK(contains(why, "truncated: header says 11025 frames"));

  write_raw(dir + "/cut.au", sine(440.0, 0.5, 22050, 0.5f), 1, 22050, SF_FORMAT_AU | SF_FORMAT_PCM_16);
  cut_in_half(dir + "/cut.au");
  CHECK(contains(error_of([&] { load_audio(dir + "/cut.au"); }), "truncated"));

  write_raw(dir + "/cut.flac", sine(440.0, 2.0, 22050, 0.5f), 1, 22050, SF_FORMAT_FLAC | SF_FORMAT_PCM_16);
  cut_in_half(dir + "/cut.flac");
  why = error_of([&] { load_audio(dir + "/cut.flac"); });
  INFO(why);
  CHECK(contains(why, "truncated"));

  write_raw(dir + "/empty.wav", {}, 1, 22050, SF_FORMAT_WAV | SF_FORMAT_PCM_16);
  why = error_of([&] { load_audio(dir + "/empty.wav"); });
  CHECK(contains(why, dir + "/empty.wav"));
  CHECK(contains(why, "no audio"));

  std::ofstream(dir + "/text.wav") << "not audio at all\n";
  CHECK(contains(error_of([&] { load_audio(dir + "/text.wav"); }), dir + "/text.wav"));
  CHECK(contains(error_of([&] { load_audio(dir + "/missing.wav"); }), dir + "/missing.wav"));
}

TEST_CASE("folder loader keeps the good clips and reports the bad ones") {
  std::string dir = mg::test::scratch_dir("audio_folder");
  write_wav(dir + "/good.wav", sine(440.0, 0.5, 22050, 0.5f), 22050, false);
  write_wav(dir + "/bad.wav", sine(440.0, 0.5, 22050, 0.5f), 22050, false);
  cut_in_half(dir + "/bad.wav");
  std::ofstream(dir + "/._good.wav") << "AppleDouble metadata";
  std::ofstream(dir + "/notes.wav") << "a text file with an audio name";
  std::ofstream(dir + "/README.txt") << "not considered";

  std::vector<std::string> skipped;
  ClipSet set = load_audio_folder(dir, 3000, 2000, [&](const std::string& file, const std::string& why) {
    CHECK(!why.empty());
    skipped.push_back(fs::path(file).filename().string());
  });
  REQUIRE(set.clips.size() == 1);
  CHECK(set.names == std::vector<std::string>{"good.wav"});
  CHECK(set.clips[0].size() == 2000);  // 1500 samples at 3 kHz, zero-padded
  CHECK(set.clips[0][1999] == 0.0f);
  CHECK(skipped == std::vector<std::string>{"bad.wav", "notes.wav"});

  SUBCASE("extensions are case-insensitive and files come sorted by name") {
    write_wav(dir + "/A.WAV", sine(220.0, 0.1, 22050, 0.5f), 22050, false);
    ClipSet two = load_audio_folder(dir, 22050, 0, nullptr);
    CHECK(two.names == std::vector<std::string>{"A.WAV", "good.wav"});
    CHECK(two.clips[0].size() == 2205);
  }
}

TEST_CASE("folder loader errors name the folder") {
  std::string dir = mg::test::scratch_dir("audio_folder_errors");
  std::string why = error_of([&] { load_audio_folder(dir, 3000, 100, nullptr); });
  CHECK(contains(why, dir));
  CHECK(contains(why, "no usable audio clip"));

  why = error_of([&] { load_audio_folder(dir + "/nope", 3000, 100, nullptr); });
  CHECK(contains(why, dir + "/nope"));
  CHECK(contains(why, "no such folder"));

  std::ofstream(dir + "/file.wav") << "x";
  CHECK(contains(error_of([&] { load_audio_folder(dir + "/file.wav", 3000, 100, nullptr); }), "not a folder"));

  int calls = 0;
  why = error_of([&] { load_audio_folder(dir, 3000, 100, [&](const std::string&, const std::string&) { ++calls; }); });
  CHECK(calls == 1);
  CHECK(contains(why, "1 unreadable file(s) skipped"));
}

TEST_CASE("write_wav levels: peak normalisation, clamping, silence, NaN") {
  std::string dir = mg::test::scratch_dir("audio_levels");
  std::vector<float> loud = sine(440.0, 0.2, 22050, 3.0f);

  write_wav(dir + "/norm.wav", loud, 22050, true);
  std::vector<float> n = load_audio(dir + "/norm.wav").samples;
  CHECK(peak(n) <= 0.9f);
  CHECK(peak(n) > 0.88f);
  CHECK(count_clipped(n) == 0);

  write_wav(dir + "/clamped.wav", loud, 22050, false);
  std::vector<float> c = load_audio(dir + "/clamped.wav").samples;
  CHECK(peak(c) <= 1.0f);
  CHECK(count_clipped(c) > 0);

  write_wav(dir + "/silence.wav", std::vector<float>(500, 0.0f), 22050, true);
  std::vector<float> s = load_audio(dir + "/silence.wav").samples;
  CHECK(s.size() == 500);
  CHECK(rms(s) == 0.0);

  std::vector<float> bad = loud;
  bad[7] = std::nanf("");
  std::string why = error_of([&] { write_wav(dir + "/nan.wav", bad, 22050, true); });
  CHECK(contains(why, dir + "/nan.wav"));
  CHECK(contains(why, "sample 7"));
  CHECK(!fs::exists(dir + "/nan.wav"));
  CHECK(contains(error_of([&] { write_wav(dir + "/empty.wav", {}, 22050, true); }), "no samples"));
}

TEST_CASE("level helpers and crop_or_pad") {
  CHECK(rms({3.0f, -4.0f}) == doctest::Approx(std::sqrt(12.5)));
  CHECK(peak({0.1f, -0.7f, 0.3f}) == 0.7f);
  CHECK(count_clipped({0.5f, 0.999f, -1.0f, 0.998f}) == 2);
  CHECK(rms({}) == 0.0);
  CHECK(crop_or_pad({1, 2, 3}, 2) == std::vector<float>{1, 2});
  CHECK(crop_or_pad({1, 2, 3}, 5) == std::vector<float>{1, 2, 3, 0, 0});
}

TEST_CASE("built-in jazz clips: deterministic, audible, unclipped, varied") {
  const int rate = 22050;
  std::vector<float> a = synth_jazz_clip(7, 0, 4.0, rate);
  CHECK(a.size() == size_t(4 * rate));
  CHECK(a == synth_jazz_clip(7, 0, 4.0, rate));
  CHECK(rms(a) > 0.05);
  CHECK(peak(a) <= 0.86f);
  CHECK(peak(a) >= 0.59f);
  CHECK(count_clipped(a) == 0);
  // No silent second: every second of the clip carries sound.
  for (int sec = 0; sec < 4; ++sec) {
    std::vector<float> part(a.begin() + sec * rate, a.begin() + (sec + 1) * rate);
    CHECK(rms(part) > 0.02);
  }

  for (auto [seed, index] : {std::pair<uint64_t, int>{7, 1}, {8, 0}}) {
    std::vector<float> b = synth_jazz_clip(seed, index, 4.0, rate);
    double diff = 0.0;
    for (size_t i = 0; i < a.size(); ++i) diff += std::fabs(a[i] - b[i]);
    CHECK(diff / double(a.size()) > 0.02);
  }

  std::vector<float> low = synth_jazz_clip(7, 0, 2.0, 3000);
  CHECK(low.size() == 6000);
  CHECK(count_clipped(low) == 0);

  ClipSet set = builtin_jazz_set(3000, 3, 1.0, 5);
  CHECK(set.names == std::vector<std::string>{"builtin-jazz.00000", "builtin-jazz.00001", "builtin-jazz.00002"});
  CHECK(set.clips[2] == synth_jazz_clip(5, 2, 1.0, 3000));

  auto t0 = std::chrono::steady_clock::now();
  std::vector<float> full = synth_jazz_clip(1, 3, 30.0, rate);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  MESSAGE("30 s jazz clip at 22,050 Hz rendered in ", seconds, " s");
  CHECK(full.size() == size_t(30 * rate));
  CHECK(count_clipped(full) == 0);
}

TEST_CASE("shared data: the GTZAN clip at 3 kHz and the rendered jazz folder") {
  std::string data = mg::test::shared_data_dir();
  if (data.empty()) {
    mg::test::skip("no ../shared/data and no MUSICGEN_DATA");
    return;
  }
  Audio gtzan = load_audio(data + "/gtzan-jazz/jazz.00000.wav", 3000);
  CHECK(gtzan.sample_rate == 3000);
  CHECK(std::abs(double(gtzan.samples.size()) - 661794.0 * 3000 / 22050) <= 2.0);  // ~90,040
  CHECK(rms(gtzan.samples) > 0.01);

  int skipped = 0;
  ClipSet rendered = load_audio_folder(data + "/jazz-rendered", 3000, 90000,
                                       [&](const std::string&, const std::string&) { ++skipped; });
  CHECK(skipped == 0);
  CHECK(rendered.clips.size() == 16);
  CHECK(rendered.names.front() == "jazzsynth.00000.wav");
  for (const auto& clip : rendered.clips) CHECK(rms(clip) > 0.01);
}

TEST_CASE("non-finite samples are refused, naming the file and the sample") {
  const std::string dir = mg::test::scratch_dir("audio-nonfinite");
  std::vector<float> x(1000, 0.25f);
  x[617] = NAN;
  write_raw(dir + "/nan.wav", x, 1, 22050, SF_FORMAT_WAV | SF_FORMAT_FLOAT);
  CHECK(error_of([&] { mg::io::load_audio(dir + "/nan.wav"); }) ==
        dir + "/nan.wav: sample 617 is nan; audio must hold finite values");
  std::vector<float> stereo(2000, 0.1f);
  stereo[2 * 40 + 1] = INFINITY;
  write_raw(dir + "/inf.wav", stereo, 2, 22050, SF_FORMAT_WAV | SF_FORMAT_FLOAT);
  CHECK(error_of([&] { mg::io::load_audio(dir + "/inf.wav", 3000); }) ==
        dir + "/inf.wav: sample 40 (channel 2) is inf; audio must hold finite values");

  // In a folder: the file is skipped with that reason, the good one kept.
  fs::create_directories(dir + "/set");
  fs::copy_file(dir + "/nan.wav", dir + "/set/bad.wav");
  write_raw(dir + "/set/good.wav", std::vector<float>(1000, 0.2f), 1, 22050, SF_FORMAT_WAV | SF_FORMAT_PCM_16);
  std::vector<std::string> skipped;
  mg::io::ClipSet set = mg::io::load_audio_folder(dir + "/set", 22050, 0, [&](const std::string& f, const std::string& why) {
    skipped.push_back(f + ": " + why);
  });
  CHECK(set.names == std::vector<std::string>{"good.wav"});
  REQUIRE(skipped.size() == 1);
  CHECK(skipped[0] == dir + "/set/bad.wav: sample 617 is nan; audio must hold finite values");
}

TEST_CASE("audio longer than the frame limit, FIFOs and folders are refused before reading") {
  const std::string dir = mg::test::scratch_dir("audio-limits");
  // 8-bit mono: one byte a frame, so the limit plus one frame is a 32 MiB file.
  write_raw(dir + "/long.wav", std::vector<float>(size_t(mg::io::kMaxAudioFrames) + 1, 0.0f), 1, 8000,
            SF_FORMAT_WAV | SF_FORMAT_PCM_U8);
  CHECK(error_of([&] { mg::io::load_audio(dir + "/long.wav"); }) ==
        dir + "/long.wav: 33554433 frames is longer than the limit of 33554432 (4194 s at 8000 Hz)");
  fs::remove(dir + "/long.wav");
  REQUIRE(mkfifo((dir + "/pipe.wav").c_str(), 0600) == 0);
  CHECK(error_of([&] { mg::io::load_audio(dir + "/pipe.wav"); }) ==
        dir + "/pipe.wav: cannot read audio: not a regular file");
  fs::create_directories(dir + "/folder.wav");
  CHECK(error_of([&] { mg::io::load_audio(dir + "/folder.wav"); }) ==
        dir + "/folder.wav: cannot read audio: it is a folder");
}
