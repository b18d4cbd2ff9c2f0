// chopin-lstm: train an LSTM on piano MIDI tokens, generate new pieces, evaluate.
//   chopin-lstm train    [--data DIR] [--out DIR] [--model seed|embed] ...
//   chopin-lstm generate --checkpoint FILE --notes N --out FILE.mid [--wav FILE.wav]
//   chopin-lstm eval     --checkpoint FILE [--data DIR]
#include "apps/chopin-lstm/chopin.h"

int main(int argc, char** argv) {
  return mg::app::guarded_main(chopin::kApp, [&] {
    CLI::App app{"chopin-lstm: an LSTM that learns note and chord tokens from piano MIDI and writes new pieces",
                 chopin::kApp};
    app.require_subcommand(1);

    chopin::TrainOptions t;
    CLI::App* train = app.add_subcommand("train", "Train on a MIDI folder (default: the built-in corpus)");
    t.common.epochs = 200;
    t.common.batch = 256;
    t.common.out = "runs/chopin";
    mg::app::add_common_options(train, t.common);
    train->get_option("--epochs")->description("Training epochs (default 200)");
    train->get_option("--batch")->description("Batch size (default 256)");
    train->add_option("--out", t.common.out, "Output folder (default runs/chopin)");
    train->add_option("--model", t.model, "seed: scalar input as the original; embed: learned embedding")
        ->check(CLI::IsMember({"seed", "embed"}));
    train->add_option("--min-count", t.min_count, "Drop tokens seen fewer times (default 100)")
        ->check(CLI::NonNegativeNumber);
    train->add_option("--seq-len", t.seq_len, "Tokens per input window (default 40)")->check(CLI::Range(1, 100000));
    train->add_option("--lr", t.lr, "Adamax learning rate (default 0.01)")->check(CLI::PositiveNumber);
    train->add_option("--max-steps", t.max_steps, "Stop each epoch after this many batches (quick runs)")
        ->check(CLI::NonNegativeNumber);
    train->add_flag("--resume", t.resume, "Continue from OUT/model.safetensors");
    train->add_option("--hidden1", t.net.hidden1, "First LSTM size (default 512)")->check(CLI::PositiveNumber);
    train->add_option("--hidden2", t.net.hidden2, "Second LSTM size (default 256)")->check(CLI::PositiveNumber);
    train->add_option("--dense", t.net.dense, "Dense layer size (default 256)")->check(CLI::PositiveNumber);
    train->add_option("--embed-dim", t.net.embed_dim, "Embedding size for --model embed (default 64)")
        ->check(CLI::PositiveNumber);
    train->add_option("--dropout", t.net.dropout, "Dropout rate (default 0.1)")->check(CLI::Range(0.0, 0.95));

    chopin::GenerateOptions g;
    CLI::App* gen = app.add_subcommand("generate", "Continue a primer and write MIDI (and WAV)");
    mg::app::add_common_options(gen, g.common, false);
    gen->add_option("--checkpoint", g.checkpoint, "A model.safetensors written by train")->required();
    gen->add_option("--notes", g.notes, "Tokens to generate (default 100)");
    gen->add_option("--out", g.out, "MIDI file to write")->required();
    gen->add_option("--wav", g.wav, "Also render audio to this WAV (44.1 kHz, 16-bit)");
    gen->add_option("--roll", g.roll, "Piano-roll PNG (default: next to the MIDI file)");
    gen->add_option("--primer", g.primer, "Start from the last tokens of this MIDI file (default: a held-out window)")
        ->check(CLI::ExistingFile);
    gen->add_option("--temperature", g.temperature, "0: greedy as the original (default); > 0: sample");
    gen->add_option("--top-k", g.top_k, "Sample only among the k most likely tokens")->check(CLI::NonNegativeNumber);
    gen->add_option("--top-p", g.top_p, "Sample only from the smallest set with this much probability");
    gen->add_option("--step", g.step_beats, "Beats per token (default 1: a quarter note, as the original)");
    gen->add_option("--tempo", g.tempo, "Tempo in BPM (default 120)");

    chopin::EvalOptions e;
    CLI::App* ev = app.add_subcommand("eval", "Held-out metrics and statistics of generated music");
    mg::app::add_common_options(ev, e.common, false);
    ev->add_option("--checkpoint", e.checkpoint, "A model.safetensors written by train")->required();
    ev->add_option("--data", e.common.data, "The training data (default: what the checkpoint was trained on)");
    ev->add_option("--pieces", e.pieces, "Pieces to generate for the statistics (default 4)")->check(CLI::PositiveNumber);
    ev->add_option("--notes", e.notes, "Tokens per piece (default 200)")->check(CLI::PositiveNumber);
    ev->add_option("--temperature", e.temperature, "Sampling temperature of those pieces (default 1; 0: greedy)")
        ->check(CLI::NonNegativeNumber);

    if (int rc = mg::app::parse_cli(app, argc, argv); rc >= 0) return rc;
    if (*train) return chopin::run_train(t);
    if (*gen) return chopin::run_generate(g);
    return chopin::run_eval(e);
  });
}
