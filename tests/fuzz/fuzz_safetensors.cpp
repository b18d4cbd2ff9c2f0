// libFuzzer target: the safetensors reader, the checkpoint checks and both
// apps' metadata validation, on any bytes. A parsed file is decoded as it is
// (format, app and checksum checks), then once more as a checkpoint of each
// app with a correct checksum, so the fuzzer reaches the metadata checks that
// a checksum would otherwise guard.
#include <cstddef>
#include <cstdint>

#include "apps/chopin-lstm/chopin.h"
#include "apps/jazz-vae/jazz.h"
#include "io/safetensors.h"
#include "models/checkpoint.h"
#include "tensor/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  mg::io::SafetensorsFile file;
  try {
    file = mg::io::parse_safetensors(data, size, "fuzz.safetensors");
    mg::nn::decode_checkpoint(file, "fuzz.safetensors", "chopin-lstm");
  } catch (const mg::Error&) {
  }
  if (file.metadata.count("musicgen") == 0) return 0;
  for (const char* app : {"chopin-lstm", "jazz-vae"}) {
    file.metadata["app"] = app;
    file.metadata["format"] = "musicgen-checkpoint-2";
    file.metadata["checksum"] = fmt::format("fnv1a64:{:016x}", mg::io::content_checksum(file, "checksum"));
    try {
      const mg::nn::Checkpoint ck = mg::nn::decode_checkpoint(file, "fuzz.safetensors", app);
      if (ck.app == "chopin-lstm") chopin::read_metadata(ck, "fuzz.safetensors");
      else jazz::read_metadata(ck, "fuzz.safetensors");
    } catch (const mg::Error&) {
    }
  }
  return 0;
}
