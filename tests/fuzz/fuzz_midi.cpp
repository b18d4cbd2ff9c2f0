// libFuzzer target: the MIDI reader and the tokenizer behind it, on any bytes.
// Every input must give a MidiFile or an mg::Error; the tokens of a parsed
// file must turn back into notes and a MIDI file.
#include <cstddef>
#include <cstdint>

#include "io/midi.h"
#include "io/music_tokens.h"
#include "tensor/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const mg::io::MidiFile midi = mg::io::parse_midi(data, size, "fuzz.mid");
    const std::vector<std::string> tokens = mg::io::midi_to_tokens(midi);
    mg::io::encode_midi(mg::io::tokens_to_notes(tokens, 0.5, 0.5), 120);
  } catch (const mg::Error&) {
  }
  return 0;
}
