// The timed grammar (io/timed_grammar.h): it accepts every stream the encoder
// writes, from the start and from any point inside it, and refuses streams
// the encoder never writes.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "io/builtin_corpus.h"
#include "io/midi.h"
#include "io/timed_grammar.h"
#include "io/timed_tokens.h"
#include "tests/test_support.h"

using mg::io::TimedGrammar;
using mg::io::TimedToken;

namespace {

std::vector<TimedToken> parsed(const std::vector<std::string>& tokens) {
  std::vector<TimedToken> out;
  for (const std::string& t : tokens) out.push_back(mg::io::parse_timed_token(t));
  return out;
}

// The first token `grammar` refuses from `from` on, or -1 when it takes them all.
int64_t first_refused(TimedGrammar grammar, const std::vector<TimedToken>& tokens, size_t from = 0) {
  for (size_t i = from; i < tokens.size(); ++i) {
    if (!grammar.allows(tokens[i])) return static_cast<int64_t>(i);
    grammar.advance(tokens[i]);
  }
  return -1;
}

// Every stream from its start, and windows from inside it (a primer's view).
void check_accepted(const std::vector<std::string>& text, const std::string& name) {
  const std::vector<TimedToken> tokens = parsed(text);
  INFO(name);
  CHECK(first_refused(TimedGrammar::at_start(), tokens) == -1);
  for (size_t from = 1; from < tokens.size(); from += 97)
    CHECK(first_refused(TimedGrammar::mid_stream(), tokens, from) == -1);
}

std::string tempo(size_t i) { return "Tempo_" + std::to_string(mg::io::timed_tempos()[i]); }

}  // namespace

TEST_CASE("timed grammar accepts every stream the encoder writes from the built-in corpus") {
  const std::vector<mg::io::MidiFile> pieces = mg::io::builtin_piano_corpus(7);
  REQUIRE(!pieces.empty());
  for (size_t i = 0; i < pieces.size(); ++i)
    check_accepted(mg::io::midi_to_timed_tokens(pieces[i]).tokens, "built-in piece " + std::to_string(i));
}

TEST_CASE("timed grammar accepts every stream the encoder writes from the 48 Chopin files") {
  const std::string data = mg::test::shared_data_dir();
  if (data.empty() || !std::filesystem::is_directory(data + "/chopin-midi")) {
    mg::test::skip("shared data folder with chopin-midi not found");
    return;
  }
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(data + "/chopin-midi"))
    if (e.path().extension() == ".mid") files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  CHECK(files.size() == 48);
  for (const std::string& f : files) check_accepted(mg::io::midi_to_timed_tokens(mg::io::read_midi(f)).tokens, f);
}

TEST_CASE("timed grammar refuses what the encoder never writes") {
  const std::string t0 = tempo(20), t1 = tempo(21);
  struct Case {
    std::vector<std::string> prefix;
    std::string refused, why;
  };
  const std::vector<Case> cases = {
      {{}, "Pos_0", "a stream starts with a Bar"},
      {{}, "Pitch_60", "a stream starts with a Bar"},
      {{"Bar_4/4"}, "Pos_0", "the first bar names its tempo"},
      {{"Bar_4/4"}, "Bar_4/4", "the first bar names its tempo"},
      {{"Bar_4/4", t0}, t1, "one Tempo a bar"},
      {{"Bar_4/4", t0, "Bar_4/4"}, t0, "a Tempo only where it changes"},
      {{"Bar_4/4", t0, "Pos_0", "Pitch_60", "Dur_12", "Vel_60"}, t1, "a Tempo only after a Bar"},
      {{"Bar_3/4", t0}, "Pos_36", "a Pos inside the bar"},
      {{"Bar_4/4", t0, "Pos_12", "Pitch_60", "Dur_12", "Vel_60"}, "Pos_12", "Pos rises in the bar"},
      {{"Bar_4/4", t0, "Pos_12", "Pitch_60", "Dur_12", "Vel_60"}, "Pos_6", "Pos rises in the bar"},
      {{"Bar_4/4", t0, "Pos_12", "Pitch_60", "Dur_12", "Vel_60"}, "Pitch_60", "Pitch rises in the onset"},
      {{"Bar_4/4", t0, "Pos_12", "Pitch_60", "Dur_12", "Vel_60"}, "Pitch_59", "Pitch rises in the onset"},
      {{"Bar_4/4", t0, "Pos_12", "Pitch_60", "Dur_12", "Vel_60"}, "Dur_12", "a Dur only after a Pitch"},
      {{"Bar_4/4", t0, "Pos_12", "Pitch_60", "Dur_12", "Vel_60"}, "Vel_60", "a Vel only after a Dur"},
      {{"Bar_4/4", t0, "Pos_0"}, "Pos_12", "an onset holds a note"},
      {{"Bar_4/4", t0, "Pos_0"}, "Bar_4/4", "an onset holds a note"},
      {{"Bar_4/4", t0, "Pos_0", "Pitch_60"}, "Vel_60", "a Dur after the Pitch"},
      {{"Bar_4/4", t0, "Pos_0", "Pitch_60"}, "Pitch_62", "a Dur after the Pitch"},
      {{"Bar_4/4", t0, "Pos_0", "Pitch_60"}, "Bar_4/4", "a Dur after the Pitch"},
      {{"Bar_4/4", t0, "Pos_0", "Pitch_60", "Dur_12"}, "Dur_12", "a Vel after the Dur"},
      {{"Bar_4/4", t0, "Pos_0", "Pitch_60", "Dur_12"}, "Pos_12", "a Vel after the Dur"},
  };
  for (const Case& c : cases) {
    INFO(c.why, ": ", c.refused);
    TimedGrammar g = TimedGrammar::at_start();
    for (const TimedToken& t : parsed(c.prefix)) {
      REQUIRE(g.allows(t));
      g.advance(t);
    }
    CHECK_FALSE(g.allows(mg::io::parse_timed_token(c.refused)));
  }
  // What may follow a note: a higher Pitch, a later Pos inside the bar, a Bar.
  TimedGrammar g = TimedGrammar::at_start();
  for (const TimedToken& t : parsed({"Bar_3/4", t0, "Pos_12", "Pitch_60", "Dur_12", "Vel_60"})) g.advance(t);
  for (const char* next : {"Pitch_61", "Pos_13", "Pos_35", "Bar_3/4", "Bar_4/4"})
    CHECK_MESSAGE(g.allows(mg::io::parse_timed_token(next)), next);
}

TEST_CASE("timed grammar inside a stream: everything until its tokens say otherwise") {
  TimedGrammar g = TimedGrammar::mid_stream();
  for (const std::string& t : mg::io::timed_vocabulary()) CHECK(g.allows(mg::io::parse_timed_token(t)));
  // A window that starts after a Pitch: its Dur, then the Vel, then a higher pitch or anything that moves on.
  for (const TimedToken& t : parsed({"Dur_12", "Vel_60"})) {
    REQUIRE(g.allows(t));
    g.advance(t);
  }
  CHECK(g.allows(mg::io::parse_timed_token("Pos_95")));  // the bar's length is not known yet
  g.advance(mg::io::parse_timed_token("Bar_2/4"));
  CHECK(g.allows(mg::io::parse_timed_token(tempo(3))));  // nor the tempo in force
  CHECK(g.allows(mg::io::parse_timed_token("Pos_23")));
  CHECK_FALSE(g.allows(mg::io::parse_timed_token("Pos_24")));
  // A note is unfinished from its Pitch until its Vel.
  CHECK_FALSE(g.inside_note());
  for (const TimedToken& t : parsed({"Pos_0", "Pitch_60", "Dur_12"})) {
    g.advance(t);
    CHECK(g.inside_note() == (t.kind != mg::io::TimedKind::Pos));
  }
  g.advance(mg::io::parse_timed_token("Vel_60"));
  CHECK_FALSE(g.inside_note());
}
