// libFuzzer target: the audio loader (libsndfile, our truncation and finite
// checks, mixing down, resampling) on any bytes, written to a file because
// the loader reads files.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include "io/audio.h"
#include "tensor/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = "/tmp/musicgen-fuzz-audio-" + std::to_string(::getpid()) + ".wav";
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return 0;
  std::fwrite(data, 1, size, f);
  std::fclose(f);
  for (int rate : {0, 22050}) {
    try {
      mg::io::load_audio(path, rate);
    } catch (const mg::Error&) {
    }
  }
  return 0;
}
