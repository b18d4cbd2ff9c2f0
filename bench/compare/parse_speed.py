"""MIDI parsing speed: `chopin-lstm prepare` on one thread beside symusic's
parser alone (symusic.Score.from_file), on the same folder of files, and one
markdown table on stdout.

symusic (pip install symusic, into bench/compare/.venv) reads a file into a
Score of tracks and notes, in C++; it does not tokenize. prepare reads each
file, checksums it, parses it, tokenizes it (--repr seed or timed), and
writes the cache's shards and index (bench/compare never keeps them). Its
rows give two rates, both as prepare reports them: notes per second of the
whole command (wall clock), and notes per second of the reading, parsing and
tokenizing alone (the time its thread spent in them).

Before timing, both sides count the folder's notes; the two counts are
printed (symusic keeps notes that have no note-off, which prepare's reader
also keeps: they should agree). Candidates run interleaved, A B C A B C ...,
for --rounds rounds, and each row shows the median.

    bench/compare/.venv/bin/python bench/compare/parse_speed.py --data DIR
        [--chopin build/apps/chopin-lstm/chopin-lstm] [--reprs seed,timed] [--rounds 3]
"""
import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent


def midi_files(folder):
    """The files prepare reads: *.mid and *.midi (any case), not recursive, sorted."""
    return sorted(p for p in Path(folder).iterdir()
                  if p.suffix.lower() in (".mid", ".midi") and p.is_file())


def symusic_round(files):
    """Seconds to parse every file with symusic, and the notes found."""
    import symusic
    notes = 0
    t0 = time.perf_counter()
    scores = [symusic.Score.from_file(str(f)) for f in files]
    seconds = time.perf_counter() - t0
    for s in scores:
        notes += sum(len(t.notes) for t in s.tracks)
    return seconds, notes


PREPARE_LINE = re.compile(r"time: ([0-9.]+) s with 1 thread: [0-9.]+ files/s, ([0-9.]+) notes/s "
                          r"\(reading, parsing and tokenizing: ([0-9.]+) s of thread time, ([0-9.]+) notes/s")
NOTES_LINE = re.compile(r"MIDI files read, \d+ skipped, (\d+) notes")


def prepare_round(chopin, folder, repr_name):
    """(wall seconds, parse+tokenize seconds, notes) of one prepare run on one thread."""
    with tempfile.TemporaryDirectory(prefix="parse-speed-") as out:
        r = subprocess.run([chopin, "prepare", "--data", str(folder), "--out", out + "/cache",
                            "--repr", repr_name, "--threads", "1"], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"parse_speed: chopin-lstm prepare failed: {r.stderr.strip()}")
    timing, notes = PREPARE_LINE.search(r.stdout), NOTES_LINE.search(r.stdout)
    if not timing or not notes:
        sys.exit(f"parse_speed: no timing line in prepare's output:\n{r.stdout}")
    return float(timing.group(1)), float(timing.group(3)), int(notes.group(1))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, help="folder of MIDI files")
    p.add_argument("--chopin", default=str(REPO / "build/apps/chopin-lstm/chopin-lstm"))
    p.add_argument("--reprs", default="seed,timed", help="prepare's --repr values, comma-separated")
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    try:
        import symusic
    except ImportError:
        sys.exit("parse_speed: no symusic here; bench/compare/.venv/bin/pip install symusic")
    files = midi_files(args.data)
    if not files:
        sys.exit(f"parse_speed: {args.data}: no .mid or .midi files")
    reprs = [r for r in args.reprs.split(",") if r]

    # Verify: both sides find the same notes (this round also warms the page cache).
    _, sym_notes = symusic_round(files)
    mg_notes = prepare_round(args.chopin, args.data, reprs[0])[2] if reprs else sym_notes
    print(f"{len(files)} files; notes: symusic {sym_notes}, chopin-lstm prepare {mg_notes}", file=sys.stderr)

    sym, mg = [], {r: [] for r in reprs}
    for i in range(args.rounds):
        sym.append(symusic_round(files)[0])
        for r in reprs:
            mg[r].append(prepare_round(args.chopin, args.data, r))
        print(f"round {i + 1}/{args.rounds} done", file=sys.stderr)

    sym_s = statistics.median(sym)
    print(f"{len(files)} MIDI files from {args.data}, {sym_notes} notes (symusic {symusic.__version__}); "
          f"one thread each; median of {args.rounds} rounds\n")
    print("| candidate | seconds | notes/s | vs symusic |")
    print("| --- | ---: | ---: | ---: |")
    print(f"| symusic Score.from_file (parse only) | {sym_s:.3f} | {sym_notes / sym_s:,.0f} | 1.00 |")
    for r in reprs:
        wall = statistics.median(x[0] for x in mg[r])
        work = statistics.median(x[1] for x in mg[r])
        print(f"| prepare --repr {r}: read, parse, tokenize | {work:.3f} | {mg_notes / work:,.0f} | "
              f"{sym_s / work:.2f} |")
        print(f"| prepare --repr {r}: whole command (with shards, index) | {wall:.3f} | {mg_notes / wall:,.0f} | "
              f"{sym_s / wall:.2f} |")


if __name__ == "__main__":
    main()
