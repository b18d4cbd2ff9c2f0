// Bad input, as a hostile user would give it, against both programs: one row
// per case. Each row makes its own inputs in a fresh folder (nothing binary is
// committed), runs the program, and asserts
//   - the exit status: 2 for a usage error, 1 for a runtime error (never a signal);
//   - one line "<app>: error: ..." that names the flag or the file (or, for
//     rows marked whole, is exactly the message given);
//   - nothing left behind: the folder holds exactly what the row made, every
//     file with the bytes it had (so a file a planted link points to is
//     unchanged);
//   - a time and a memory ceiling: 5 s and 500 MB (25 s and 1 GB under AddressSanitizer).
#include <doctest/doctest.h>

#include <sys/stat.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "io/audio.h"
#include "io/midi.h"
#include "io/safetensors.h"
#include "tests/test_support.h"

namespace fs = std::filesystem;

namespace {

const std::string kChopin = MUSICGEN_BINARY_DIR "/apps/chopin-lstm/chopin-lstm";
const std::string kJazz = MUSICGEN_BINARY_DIR "/apps/jazz-vae/jazz-vae";
const double kSeconds = mg::test::kSanitized ? 25.0 : 5.0;
const double kMegabytes = mg::test::kSanitized ? 1000.0 : 500.0;

using Make = std::function<void(const std::string& dir)>;

struct Case {
  std::string what;   // the bad input, in words
  std::string app;    // "chopin-lstm" or "jazz-vae"
  // {dir}: the row's folder; {ck}, {jck}: good checkpoints of each app; {jck2}: a second jazz-vae
  // checkpoint; {jprior}: a learned prior of {jck}; {jsum}, {jsum2}: the two jazz checkpoints' checksums.
  // A word '' is an empty argument.
  std::string args;
  int exit_code;      // 1 runtime, 2 usage
  std::string names;  // the message must contain this ({dir} expanded)
  Make make = nullptr;
  bool whole = false;  // names is the whole message after "<app>: error: "
};

std::string expand(std::string s, const std::map<std::string, std::string>& vars) {
  for (const auto& [key, value] : vars)
    for (size_t at; (at = s.find(key)) != std::string::npos;) s.replace(at, key.size(), value);
  return s;
}

std::vector<std::string> words(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string w; in >> w;) out.push_back(w == "''" ? std::string() : w);
  return out;
}

std::string read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

// Every path under dir with its kind, a regular file's size and (up to 1 MB) a hash of its bytes, and a
// link's target: what must be unchanged after a failed command.
std::map<std::string, std::string> snapshot(const std::string& dir) {
  std::map<std::string, std::string> files;
  for (auto it = fs::recursive_directory_iterator(dir); it != fs::recursive_directory_iterator(); ++it) {
    struct stat st {};
    lstat(it->path().c_str(), &st);
    std::string state = std::to_string(st.st_mode);
    if (S_ISREG(st.st_mode)) {
      state += ":" + std::to_string(st.st_size);
      if (st.st_size <= (1 << 20)) state += ":" + std::to_string(std::hash<std::string>{}(read_all(it->path())));
    }
    if (S_ISLNK(st.st_mode)) state += " -> " + fs::read_symlink(it->path()).string();
    files[it->path().string()] = state;
  }
  return files;
}

void write_text(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

// OUT ({dir}/o) holding a link named `name` to {dir}/kept.txt, a file outside OUT that must keep its bytes.
Make link_in_out(const std::string& name) {
  return [=](const std::string& dir) {
    write_text(dir + "/kept.txt", "not to be overwritten");
    fs::create_directories(dir + "/o");
    fs::create_symlink("../kept.txt", dir + "/o/" + name);
  };
}

// The refusal of a link among the outputs, for a path under {dir}/o.
std::string link_refused(const std::string& name) {
  return "{dir}/o/" + name + ": is a symbolic link; outputs are never written through links (remove it or choose "
         "another path)";
}

// A copy of a good checkpoint with its metadata or tensors changed, and (unless
// keep_checksum) a checksum that matches, so the change itself is what is caught.
Make changed_checkpoint(const std::string& source, const std::string& name,
                        std::function<void(nlohmann::json& meta, mg::io::SafetensorsFile& file)> change,
                        bool keep_checksum = false) {
  return [=](const std::string& dir) {
    mg::io::SafetensorsFile f = mg::io::read_safetensors(source);
    nlohmann::json meta = nlohmann::json::parse(f.metadata.at("musicgen"));
    change(meta, f);
    if (!meta.is_null()) f.metadata["musicgen"] = meta.dump();
    if (!keep_checksum) f.metadata["checksum"] = fmt::format("fnv1a64:{:016x}", mg::io::content_checksum(f, "checksum"));
    mg::io::write_safetensors(dir + "/" + name, f);
  };
}

mg::io::TensorRecord& tensor_named(mg::io::SafetensorsFile& f, const std::string& name) {
  for (mg::io::TensorRecord& r : f.tensors)
    if (r.name == name) return r;
  FAIL("no tensor " << name);
  return f.tensors.front();
}

// A float WAV whose sample 617 is NaN.
void nan_wav(const std::string& path) {
  std::vector<float> x(22050, 0.25f);
  x[617] = NAN;
  fs::create_directories(fs::path(path).parent_path());
  // write_wav refuses NaN, so the header and data are written by hand: RIFF, fmt (IEEE float), data.
  auto u32 = [](uint32_t v) { return std::string(reinterpret_cast<const char*>(&v), 4); };
  auto u16 = [](uint16_t v) { return std::string(reinterpret_cast<const char*>(&v), 2); };
  const std::string data(reinterpret_cast<const char*>(x.data()), x.size() * 4);
  const std::string fmt_chunk = "fmt " + u32(16) + u16(3) + u16(1) + u32(22050) + u32(22050 * 4) + u16(4) + u16(32);
  write_text(path, "RIFF" + u32(uint32_t(4 + fmt_chunk.size() + 8 + data.size())) + "WAVE" + fmt_chunk + "data" +
                       u32(uint32_t(data.size())) + data);
}

// A MIDI file of `notes` notes struck together at tick 0, each released 100 ticks after the one before.
std::string struck_together(int notes) {
  std::string track;
  for (int k = 0; k < notes; ++k) track += std::string("\x00\x90", k == 0 ? 2 : 1) + char(21 + k % 88) + char(0x40);
  for (int k = 0; k < notes; ++k) track += std::string("\x64", 1) + char(21 + k % 88) + char(0x00);
  track += std::string("\x00\xFF\x2F\x00", 4);
  auto u32 = [](uint32_t v) { return std::string{char(v >> 24), char(v >> 16), char(v >> 8), char(v)}; };
  return "MThd" + u32(6) + std::string("\x00\x00\x00\x01\x01\xE0", 6) + "MTrk" + u32(uint32_t(track.size())) + track;
}

// The two programs' good checkpoints, trained once for the whole table: a second jazz-vae model, and a learned
// prior of the first.
struct Fixtures {
  std::string chopin, jazz, jazz2, prior;
};

const Fixtures& fixtures() {
  static const Fixtures f = [] {
    const std::string dir = mg::test::scratch_dir("bad-inputs-fixtures");
    auto run = [](const std::string& bin, const std::string& args) {
      std::vector<std::string> argv = words(args);
      argv.insert(argv.begin(), bin);
      const mg::test::ChildResult r = mg::test::run_program(argv, 300);
      REQUIRE_MESSAGE(r.exit_code == 0, r.output);
    };
    run(kChopin, "train --out " + dir + "/chopin --epochs 1 --hidden1 8 --hidden2 8 --dense 8 --batch 16 --max-steps 2 "
                 "--threads 2");
    const std::string jtiny = " --epochs 1 --clip-seconds 0.5 --n-fft 256 --hop 128 --channels 4,4 --threads 2";
    run(kJazz, "train --out " + dir + "/jazz" + jtiny);
    run(kJazz, "train --out " + dir + "/jazz2 --seed 7" + jtiny);
    run(kJazz, "prior --checkpoint " + dir + "/jazz/model.safetensors --epochs 1 --hidden 8 --windows 2 --threads 2");
    return Fixtures{dir + "/chopin/model.safetensors", dir + "/jazz/model.safetensors", dir + "/jazz2/model.safetensors",
                    dir + "/jazz/prior.safetensors"};
  }();
  return f;
}

std::vector<Case> cases() {
  const std::string ck = fixtures().chopin, jck = fixtures().jazz;
  const std::string gen = "generate --checkpoint {dir}/model.safetensors --out {dir}/out.mid";
  const std::string jgen = "generate --checkpoint {dir}/model.safetensors --out {dir}/out";
  const std::string tiny = " --hidden1 8 --hidden2 8 --dense 8 --batch 16 --max-steps 2";
  const std::string jtiny = " --clip-seconds 0.5 --n-fft 256 --hop 128 --channels 4,4";
  auto chopin_ck = [&](std::function<void(nlohmann::json&, mg::io::SafetensorsFile&)> change, bool keep = false) {
    return changed_checkpoint(ck, "model.safetensors", std::move(change), keep);
  };
  auto jazz_ck = [&](std::function<void(nlohmann::json&, mg::io::SafetensorsFile&)> change, bool keep = false) {
    return changed_checkpoint(jck, "model.safetensors", std::move(change), keep);
  };
  const Make fifo = [](const std::string& dir) { REQUIRE(mkfifo((dir + "/pipe").c_str(), 0600) == 0); };
  const Make a_file = [](const std::string& dir) { write_text(dir + "/file", "not a folder"); };
  const Make midi_junk = [](const std::string& dir) { write_text(dir + "/midi/a.mid", "not a midi file"); };
  const Make empty_folder = [](const std::string& dir) { fs::create_directories(dir + "/empty"); };

  const std::string prior_of_another =
      "{jprior}: this prior was trained on {jck} (checksum {jsum}), not on {jck2} (checksum {jsum2}); train one for it "
      "with `jazz-vae prior --checkpoint {jck2}`";

  std::vector<Case> table = {
      // ---- chopin-lstm: usage
      {"learning rate NaN", "chopin-lstm", "train --out {dir}/o --lr nan", 2, "--lr"},
      {"learning rate infinite", "chopin-lstm", "train --out {dir}/o --lr inf", 2, "--lr"},
      {"dropout NaN", "chopin-lstm", "train --out {dir}/o --dropout nan", 2, "--dropout"},
      {"negative epochs", "chopin-lstm", "train --out {dir}/o --epochs -1", 2, "--epochs"},
      {"unknown model", "chopin-lstm", "train --out {dir}/o --model lstm", 2, "--model"},
      {"LSTM of a million units", "chopin-lstm", "train --out {dir}/o --hidden1 1000000", 2, "--hidden1"},
      {"batch of 0", "chopin-lstm", "train --out {dir}/o --batch 0", 2, "--batch"},
      {"window of 100,000 tokens", "chopin-lstm", "train --out {dir}/o --seq-len 100000", 2, "--seq-len"},
      {"temperature NaN", "chopin-lstm", "generate --checkpoint {ck} --out {dir}/o.mid --temperature nan", 2, "--temperature"},
      {"top-p NaN", "chopin-lstm", "generate --checkpoint {ck} --out {dir}/o.mid --top-p nan", 2, "--top-p"},
      {"a billion notes", "chopin-lstm", "generate --checkpoint {ck} --out {dir}/o.mid --notes 1000000000", 2, "--notes"},
      {"notes beyond 64 bits", "chopin-lstm", "generate --checkpoint {ck} --out {dir}/o.mid --notes 99999999999999999999", 2,
       "--notes"},
      {"step of 0 beats", "chopin-lstm", "generate --checkpoint {ck} --out {dir}/o.mid --step 0", 2, "--step"},
      {"tempo NaN", "chopin-lstm", "generate --checkpoint {ck} --out {dir}/o.mid --tempo nan", 2, "--tempo"},
      {"WAV of more than an hour", "chopin-lstm",
       "generate --checkpoint {ck} --out {dir}/o.mid --wav {dir}/o.wav --notes 100000", 2, "--wav"},
      {"WAV and MIDI the same file", "chopin-lstm", "generate --checkpoint {ck} --out {dir}/o.mid --wav {dir}/o.mid", 2,
       "--wav"},
      {"no checkpoint given", "chopin-lstm", "generate --out {dir}/o.mid", 2, "--checkpoint"},
      {"eval temperature NaN", "chopin-lstm", "eval --checkpoint {ck} --temperature nan", 2, "--temperature"},
      {"100,000 eval pieces", "chopin-lstm", "eval --checkpoint {ck} --pieces 100000", 2, "--pieces"},
      {"unknown subcommand", "chopin-lstm", "compose --out {dir}/o", 2, "compose"},
      {"unknown flag", "chopin-lstm", "train --out {dir}/o --learning-rate 0.1", 2, "--learning-rate"},
      {"a folder given as an empty value", "chopin-lstm", "train --out {dir}/o --heldout-data ''", 2, "--heldout-data"},

      // ---- chopin-lstm: data and outputs
      {"missing data folder", "chopin-lstm", "train --data {dir}/missing --out {dir}/o" + tiny, 1, "{dir}/missing"},
      {"empty data folder", "chopin-lstm", "train --data {dir}/empty --out {dir}/o" + tiny, 1, "{dir}/empty", empty_folder},
      {"data folder of broken MIDI", "chopin-lstm", "train --data {dir}/midi --out {dir}/o" + tiny, 1, "{dir}/midi",
       midi_junk},
      {"data is a file", "chopin-lstm", "train --data {dir}/file --out {dir}/o" + tiny, 1, "{dir}/file", a_file},
      {"min-count leaves nothing", "chopin-lstm", "train --min-count 100000 --out {dir}/o" + tiny, 1, "--min-count"},
      {"output folder is a file", "chopin-lstm", "train --out {dir}/file" + tiny, 1, "--out {dir}/file", a_file},
      {"output folder is a FIFO", "chopin-lstm", "train --out {dir}/pipe" + tiny, 1, "--out {dir}/pipe", fifo},
      {"resume without a checkpoint", "chopin-lstm", "train --resume --out {dir}/o" + tiny, 1, "--resume"},
      {"checkpoint path taken by a folder (no log row either)", "chopin-lstm", "train --out {dir}/o --epochs 1" + tiny, 1,
       "{dir}/o/model.safetensors: is a folder",
       [](const std::string& dir) { fs::create_directories(dir + "/o/model.safetensors"); }},
      {"training beyond the machine's memory", "chopin-lstm",
       "train --out {dir}/o --hidden1 4096 --hidden2 4096 --dense 4096 --batch 65536 --seq-len 1000", 1, "--batch"},
#if !defined(MUSICGEN_WITH_CUDA)
      {"CUDA in a CPU-only build", "chopin-lstm", "train --device cuda --out {dir}/o" + tiny, 1, "--device"},
#endif
      {"checkpoint missing", "chopin-lstm", gen, 1, "{dir}/model.safetensors"},
      {"checkpoint not safetensors", "chopin-lstm", gen, 1, "{dir}/model.safetensors",
       [](const std::string& dir) { write_text(dir + "/model.safetensors", "garbage"); }},
      {"checkpoint is a folder", "chopin-lstm", gen, 1, "{dir}/model.safetensors",
       [](const std::string& dir) { fs::create_directories(dir + "/model.safetensors"); }},
      {"checkpoint is a FIFO", "chopin-lstm", "generate --checkpoint {dir}/pipe --out {dir}/o.mid", 1, "{dir}/pipe", fifo},
      {"checkpoint of the other app", "chopin-lstm", "generate --checkpoint {jck} --out {dir}/o.mid", 1, "jazz-vae checkpoint"},
      {"checkpoint truncated", "chopin-lstm", gen, 1, "{dir}/model.safetensors",
       [=](const std::string& dir) {
         const std::string bytes = read_all(ck);
         write_text(dir + "/model.safetensors", bytes.substr(0, bytes.size() / 2));
       }},
      {"checkpoint metadata nested 200,000 deep", "chopin-lstm", gen, 1, "nested 200001 levels deep",
       chopin_ck([](nlohmann::json& meta, mg::io::SafetensorsFile& f) {
         meta = nullptr;
         f.metadata["musicgen"] = R"({"vocab": )" + std::string(200000, '[') + std::string(200000, ']') + "}";
       })},
      {"checkpoint with a changed byte", "chopin-lstm", gen, 1, "checksum mismatch",
       chopin_ck([](nlohmann::json&, mg::io::SafetensorsFile& f) { f.tensors.back().data[0] ^= 1; }, true)},
      {"checkpoint from a newer version", "chopin-lstm", gen, 1, "format version 9 is newer",
       chopin_ck([](nlohmann::json&, mg::io::SafetensorsFile& f) { f.metadata["format"] = "musicgen-checkpoint-9"; })},
      {"checkpoint without primers", "chopin-lstm", gen, 1, "field 'primers': missing",
       chopin_ck([](nlohmann::json& meta, mg::io::SafetensorsFile&) { meta.erase("primers"); })},
      {"checkpoint primer id -1", "chopin-lstm", gen, 1, "field 'primers[0]'",
       chopin_ck([](nlohmann::json& meta, mg::io::SafetensorsFile&) { meta["primers"][0][0] = -1; })},
      {"checkpoint LSTM of 10^15 units", "chopin-lstm", gen, 1, "field 'model.hidden1'",
       chopin_ck([](nlohmann::json& meta, mg::io::SafetensorsFile&) { meta["model"]["hidden1"] = 1000000000000000LL; })},
      {"checkpoint config larger than its tensors", "chopin-lstm", gen, 1, "field 'model': describes a network of",
       chopin_ck([](nlohmann::json& meta, mg::io::SafetensorsFile&) { meta["model"]["hidden1"] = 4096; })},
      {"checkpoint vocabulary with a bad token", "chopin-lstm", gen, 1, "field 'vocab[0]'",
       chopin_ck([](nlohmann::json& meta, mg::io::SafetensorsFile&) { meta["vocab"][0] = "H9"; })},
      {"checkpoint sequence length a string", "chopin-lstm", gen, 1, "field 'seq_len'",
       chopin_ck([](nlohmann::json& meta, mg::io::SafetensorsFile&) { meta["seq_len"] = "40"; })},
      {"checkpoint F64 tensor for F32", "chopin-lstm", gen, 1, "is F64, the model expects F32",
       chopin_ck([](nlohmann::json&, mg::io::SafetensorsFile& f) {
         mg::io::TensorRecord& r = tensor_named(f, "model.dense2.bias");
         std::vector<uint8_t> wide(r.data.size() * 2);
         for (size_t i = 0; i < r.data.size() / 4; ++i) {
           float v;
           std::memcpy(&v, r.data.data() + 4 * i, 4);
           const double d = v;
           std::memcpy(wide.data() + 8 * i, &d, 8);
         }
         r.dtype = "F64";
         r.data = wide;
       })},
      {"checkpoint weight NaN", "chopin-lstm", gen, 1, "holds a non-finite value",
       chopin_ck([](nlohmann::json&, mg::io::SafetensorsFile& f) {
         const float nan = NAN;
         std::memcpy(tensor_named(f, "model.lstm1.w_hh").data.data() + 4, &nan, 4);
       })},
      {"primer missing", "chopin-lstm", "generate --checkpoint {ck} --out {dir}/o.mid --primer {dir}/p.mid", 1,
       "{dir}/p.mid"},
      {"primer not MIDI", "chopin-lstm", "generate --checkpoint {ck} --out {dir}/o.mid --primer {dir}/midi/a.mid", 1,
       "{dir}/midi/a.mid", midi_junk},
      {"primer shorter than the window", "chopin-lstm", "generate --checkpoint {ck} --out {dir}/o.mid --primer {dir}/p.mid",
       1, "--primer {dir}/p.mid", [](const std::string& dir) { write_text(dir + "/p.mid", struck_together(3)); }},
      {"primer of 63 MB over the event limit", "chopin-lstm",
       "generate --checkpoint {ck} --out {dir}/o.mid --primer {dir}/p.mid", 1, "{dir}/p.mid: more than 1000000 notes",
       [](const std::string& dir) {
         // 10.5 million notes struck together: 6 bytes each.
         write_text(dir + "/p.mid", struck_together(10'500'000));
       }},
      {"MIDI output is a FIFO", "chopin-lstm", "generate --checkpoint {ck} --out {dir}/pipe", 1, "{dir}/pipe: is a FIFO",
       fifo},
      {"MIDI output is a folder", "chopin-lstm", "generate --checkpoint {ck} --out {dir}/empty", 1, "{dir}/empty: is a folder",
       empty_folder},
      {"MIDI output a dangling link", "chopin-lstm", "generate --checkpoint {ck} --out {dir}/link.mid", 1, "{dir}/link.mid",
       [](const std::string& dir) { fs::create_symlink(dir + "/nowhere/x.mid", dir + "/link.mid"); }},
      {"WAV output is a FIFO", "chopin-lstm", "generate --checkpoint {ck} --out {dir}/o.mid --wav {dir}/pipe", 1,
       "{dir}/pipe: is a FIFO", fifo},
      {"piano roll inside a file", "chopin-lstm", "generate --checkpoint {ck} --out {dir}/o.mid --roll {dir}/file/r.png", 1,
       "{dir}/file/r.png", a_file},
      {"eval on other data", "chopin-lstm", "eval --checkpoint {ck} --data {dir}/midi", 1, "{dir}/midi", midi_junk},

      // ---- jazz-vae: usage
      {"clip of 100,000 s", "jazz-vae", "train --out {dir}/o --clip-seconds 100000", 2, "--clip-seconds"},
      {"clip length NaN", "jazz-vae", "train --out {dir}/o --clip-seconds nan", 2, "--clip-seconds"},
      {"beta NaN", "jazz-vae", "train --out {dir}/o --beta nan", 2, "--beta"},
      {"learning rate NaN", "jazz-vae", "train --out {dir}/o --lr nan", 2, "--lr"},
      {"gradient clip infinite", "jazz-vae", "train --out {dir}/o --clip-grad inf", 2, "--clip-grad"},
      {"FFT size not a power of two", "jazz-vae", "train --out {dir}/o --n-fft 1000", 2, "--n-fft"},
      {"channels not numbers", "jazz-vae", "train --out {dir}/o --channels 8,x", 2, "--channels"},
      {"5,000 channels", "jazz-vae", "train --out {dir}/o --channels 5000", 2, "--channels"},
      {"latent of 0", "jazz-vae", "train --out {dir}/o --latent 0", 2, "--latent"},
      {"no output folder", "jazz-vae", "train --epochs 1", 2, "--out"},
      {"grid of 100,000", "jazz-vae", "generate --checkpoint {jck} --out {dir}/o --grid 100000", 2, "--grid"},
      {"100,000 samples", "jazz-vae", "generate --checkpoint {jck} --out {dir}/o --count 100000", 2, "--count"},
      {"two billion Griffin-Lim iterations", "jazz-vae",
       "generate --checkpoint {jck} --out {dir}/o --griffin-lim-iters 2000000000", 2, "--griffin-lim-iters"},
      {"grid range NaN", "jazz-vae", "generate --checkpoint {jck} --out {dir}/o --grid 2 --grid-range nan", 2,
       "--grid-range"},
      {"nothing to generate", "jazz-vae", "generate --checkpoint {jck} --out {dir}/o --count 0", 2, "--count"},
      {"interpolation of 1 step", "jazz-vae", "interpolate --checkpoint {jck} a.wav b.wav --out {dir}/o --steps 1", 2,
       "--steps"},
      {"eval batch of 0", "jazz-vae", "eval --checkpoint {jck} --batch 0", 2, "--batch"},

      // ---- jazz-vae: data and outputs
      {"missing data folder", "jazz-vae", "train --data {dir}/missing --out {dir}/o" + jtiny, 1, "{dir}/missing"},
      {"empty data folder", "jazz-vae", "train --data {dir}/empty --out {dir}/o" + jtiny, 1, "{dir}/empty", empty_folder},
      {"data of one NaN WAV", "jazz-vae", "train --data {dir}/wav --out {dir}/o" + jtiny, 1, "{dir}/wav: no usable audio",
       [](const std::string& dir) { nan_wav(dir + "/wav/nan.wav"); }},
      {"data of one truncated WAV", "jazz-vae", "train --data {dir}/wav --out {dir}/o" + jtiny, 1, "{dir}/wav",
       [](const std::string& dir) {
         fs::create_directories(dir + "/wav");
         mg::io::write_wav(dir + "/wav/cut.wav", std::vector<float>(22050, 0.1f), 22050, true);
         fs::resize_file(dir + "/wav/cut.wav", 2000);
       }},
      {"output folder is a FIFO", "jazz-vae", "train --out {dir}/pipe" + jtiny, 1, "--out {dir}/pipe", fifo},
      {"resume without a checkpoint", "jazz-vae", "train --resume --out {dir}/o" + jtiny, 1, "--resume"},
      {"checkpoint path taken by a folder (no log row either)", "jazz-vae", "train --out {dir}/o --epochs 1" + jtiny, 1,
       "{dir}/o/model.safetensors: is a folder",
       [](const std::string& dir) { fs::create_directories(dir + "/o/model.safetensors"); }},
      {"training beyond the machine's memory", "jazz-vae",
       "train --out {dir}/o --clip-seconds 600 --channels 1024,1024,1024,1024 --batch 4096", 1, "--clip-seconds"},
      {"seed model of 600 s beyond memory", "jazz-vae", "train --out {dir}/o --model seed --clip-seconds 600 --latent 256 --batch 4096", 1,
       "--clip-seconds"},
      {"interpolate a NaN WAV", "jazz-vae", "interpolate --checkpoint {jck} {dir}/wav/nan.wav {dir}/wav/nan.wav --out {dir}/o",
       1, "{dir}/wav/nan.wav: sample 617 is nan", [](const std::string& dir) { nan_wav(dir + "/wav/nan.wav"); }},
      {"encode a missing file", "jazz-vae", "encode --checkpoint {jck} {dir}/none.wav", 1, "{dir}/none.wav"},
      {"encode a FIFO", "jazz-vae", "encode --checkpoint {jck} {dir}/pipe", 1, "{dir}/pipe: cannot read audio", fifo},
      {"output folder is a file", "jazz-vae", "generate --checkpoint {jck} --out {dir}/file", 1, "--out {dir}/file", a_file},
      {"checkpoint of the other app", "jazz-vae", "generate --checkpoint {ck} --out {dir}/o", 1, "chopin-lstm checkpoint"},
      {"checkpoint metadata nested 200,000 deep", "jazz-vae", jgen, 1, "nested 200001 levels deep",
       jazz_ck([](nlohmann::json& meta, mg::io::SafetensorsFile& f) {
         meta = nullptr;
         f.metadata["musicgen"] = R"({"model": )" + std::string(200000, '{') + std::string(200000, '}') + "}";
       })},
      {"checkpoint with a changed byte", "jazz-vae", jgen, 1, "checksum mismatch",
       jazz_ck([](nlohmann::json&, mg::io::SafetensorsFile& f) { f.tensors.front().data[5] ^= 4; }, true)},
      {"checkpoint FFT size 1000", "jazz-vae", jgen, 1, "field 'features.n_fft'",
       jazz_ck([](nlohmann::json& meta, mg::io::SafetensorsFile&) { meta["features"]["n_fft"] = 1000; })},
      {"checkpoint even kernel", "jazz-vae", jgen, 1, "field 'model.kernel'",
       jazz_ck([](nlohmann::json& meta, mg::io::SafetensorsFile&) { meta["model"]["kernel"] = 4; })},
      {"checkpoint bin means of the wrong length", "jazz-vae", jgen, 1, "field 'features.bin_mean'",
       jazz_ck([](nlohmann::json& meta, mg::io::SafetensorsFile&) { meta["features"]["bin_mean"].erase(0); })},
      {"checkpoint clip of 10^9 s", "jazz-vae", jgen, 1, "field 'features.clip_seconds'",
       jazz_ck([](nlohmann::json& meta, mg::io::SafetensorsFile&) { meta["features"]["clip_seconds"] = 1e9; })},
      {"checkpoint without training settings", "jazz-vae", "eval --checkpoint {dir}/model.safetensors", 1,
       "field 'train': missing", jazz_ck([](nlohmann::json& meta, mg::io::SafetensorsFile&) { meta.erase("train"); })},
      {"checkpoint weight infinite", "jazz-vae", jgen, 1, "holds a non-finite value",
       jazz_ck([](nlohmann::json&, mg::io::SafetensorsFile& f) {
         const float inf = INFINITY;
         std::memcpy(f.tensors.front().data.data(), &inf, 4);
       })},
      {"a flag given an empty value", "jazz-vae", "generate --checkpoint {jck} --out {dir}/o --like ''", 2,
       "--like: an empty value; give one, or leave the flag out (see --help)", nullptr, true},
      {"prior of another model, to generate", "jazz-vae", "generate --checkpoint {jck2} --prior-checkpoint {jprior} --out {dir}/o",
       1, prior_of_another, nullptr, true},
      {"prior of another model, to eval", "jazz-vae", "eval --checkpoint {jck2} --prior-checkpoint {jprior}", 1,
       prior_of_another, nullptr, true},
      {"the generated clip's path a link", "jazz-vae", "generate --checkpoint {jck} --out {dir}/o --count 3", 1,
       link_refused("sample-02.wav"), link_in_out("sample-02.wav"), true},
      {"the samples picture's path a link", "jazz-vae", "generate --checkpoint {jck} --out {dir}/o --count 3", 1,
       link_refused("samples.png"), link_in_out("samples.png"), true},
  };
  // ---- both programs' training: a link planted among the outputs, refused before the first step
  for (const char* name : {"model.safetensors", "report.html", "report.json", "log.csv", "curves.png"}) {
    table.push_back({fmt::format("{} a link", name), "chopin-lstm", "train --out {dir}/o" + tiny, 1, link_refused(name),
                     link_in_out(name), true});
    table.push_back({fmt::format("{} a link", name), "jazz-vae", "train --out {dir}/o" + jtiny, 1, link_refused(name),
                     link_in_out(name), true});
  }
  table.push_back({"best.safetensors a link", "chopin-lstm", "train --out {dir}/o" + tiny, 1,
                   link_refused("best.safetensors"), link_in_out("best.safetensors"), true});
  table.push_back({"training.gif a link", "jazz-vae", "train --out {dir}/o" + jtiny, 1, link_refused("training.gif"),
                   link_in_out("training.gif"), true});
  table.push_back({"the prior's path a link", "jazz-vae", "prior --checkpoint {jck} --out {dir}/o/prior.safetensors", 1,
                   link_refused("prior.safetensors"), link_in_out("prior.safetensors"), true});
  return table;
}

}  // namespace

TEST_CASE("bad input: one line naming the input, exit 1 or 2, nothing left behind, within time and memory") {
  const std::vector<Case> table = cases();
  const Fixtures& f = fixtures();
  const std::map<std::string, std::string> shared = {
      {"{ck}", f.chopin},
      {"{jck}", f.jazz},
      {"{jck2}", f.jazz2},
      {"{jprior}", f.prior},
      {"{jsum}", mg::io::read_safetensors(f.jazz).metadata.at("checksum")},
      {"{jsum2}", mg::io::read_safetensors(f.jazz2).metadata.at("checksum")}};
  int index = 0;
  double slowest = 0, largest = 0;
  for (const Case& c : table) {
    const std::string dir = mg::test::scratch_dir("bad-inputs/" + std::to_string(index++));
    std::map<std::string, std::string> vars = shared;
    vars["{dir}"] = dir;
    if (c.make) c.make(dir);
    const auto before = snapshot(dir);
    std::vector<std::string> argv = words(expand(c.args, vars));
    argv.insert(argv.begin(), c.app == "chopin-lstm" ? kChopin : kJazz);
    const mg::test::ChildResult r = mg::test::run_program(argv, 120);

    std::string last = r.output;
    while (!last.empty() && last.back() == '\n') last.pop_back();
    last = last.substr(last.rfind('\n') == std::string::npos ? 0 : last.rfind('\n') + 1);
    const std::string names = expand(c.names, vars);
    INFO(c.what, "\n  ", expand(c.args, vars), "\n  -> ", r.output);
    CHECK(r.signal == 0);
    CHECK(r.exit_code == c.exit_code);
    CHECK(last.rfind(c.app + ": error: ", 0) == 0);
    CHECK(last.find(names) != std::string::npos);
    if (c.whole) CHECK(last == c.app + ": error: " + names);
    CHECK(snapshot(dir) == before);
    CHECK(r.seconds < kSeconds);
    CHECK(r.peak_mb < kMegabytes);
    slowest = std::max(slowest, r.seconds);
    largest = std::max(largest, r.peak_mb);
  }
  MESSAGE(table.size() << " bad inputs; slowest " << slowest << " s, largest " << largest << " MB");
}
