"""Times musicgen's benchmark binaries beside the same networks in PyTorch
and Keras and prints one markdown table.

For each configuration (threads x load) the candidates run interleaved,
A B C A B C ..., each as a fresh process, for --rounds rounds, so that a slow
spell on a shared machine falls on every candidate alike. Every candidate
prints `RESULT {json}` as its last line; a candidate that fails or prints no
such line shows as n/a. The table goes to stdout, progress to stderr.

    bench/compare/.venv/bin/python bench/compare/run.py [--build DIR] [--only chopin-seed,chopin-embed,jazz]
        [--rounds 5] [--threads 1,2] [--loads quiet,busy] [--steps 5] [--timeout 1800] [--json FILE]
    (--only chopin means both chopin networks)
"""
import argparse
import datetime
import json
import os
import shlex
import statistics
import subprocess
import sys
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
FRAMEWORKS = [("musicgen", "musicgen"), ("pytorch", "PyTorch"), ("keras", "Keras")]

# Each candidate runs as PROGRAM --model MODEL --threads N --steps S, where
# {build} is the musicgen binaries' folder and {py} this interpreter.
CHOPIN = {
    "musicgen": ["{build}/bench_chopin"],
    "pytorch": ["{py}", str(HERE / "torch_chopin.py")],
    "keras": ["{py}", str(HERE / "keras_chopin.py")],
}
JAZZ = {
    "musicgen": ["{build}/bench_jazz"],
    "pytorch": ["{py}", str(HERE / "torch_jazz.py")],
}
# Generation of 1,000 tokens at batch 1 (samples/s = tokens/s), the 40-token window run
# for every token as torch_chopin.py does (chopin-lstm generate --context window).
GENERATE = {
    "musicgen": ["{build}/bench_chopin", "--generate", "1000", "--context", "window"],
    "pytorch": ["{py}", str(HERE / "torch_chopin.py"), "--generate", "1000"],
}
NETWORKS = {
    "chopin-seed": {"title": "chopin seed", "model": "seed", "programs": CHOPIN},
    "chopin-embed": {"title": "chopin embed", "model": "embed", "programs": CHOPIN},
    "jazz": {"title": "jazz conv", "model": "conv", "programs": JAZZ},
    "generate": {"title": "generate 1000 tokens (seed, batch 1, windowed; tokens/s)", "model": "seed", "programs": GENERATE},
}

# Every thread-count knob the three runtimes and their math libraries read.
THREAD_VARIABLES = ["OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "BLIS_NUM_THREADS",
                    "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS", "TF_NUM_INTRAOP_THREADS"]
BUSY_LOOP = "while True: pass"


def csv_list(kind, choices=None):
    def parse(text):
        items = [s.strip() for s in text.split(",") if s.strip()]
        if not items:
            raise argparse.ArgumentTypeError(f"expected a comma-separated list of {kind}")
        if choices is not None:
            bad = [s for s in items if s not in choices]
            if bad:
                raise argparse.ArgumentTypeError(f"unknown {kind} {', '.join(bad)}; choose from {', '.join(choices)}")
        return items
    return parse


def network_list(text):
    """Network names; a family name ("chopin") stands for all its networks."""
    items = csv_list("networks")(text)
    chosen = set()
    for item in items:
        matches = [n for n in NETWORKS if n == item or n.startswith(item + "-")]
        if not matches:
            raise argparse.ArgumentTypeError(f"unknown network {item}; choose from {', '.join(NETWORKS)} or chopin")
        chosen.update(matches)
    return [n for n in NETWORKS if n in chosen]


def thread_list(text):
    items = csv_list("thread counts")(text)
    try:
        counts = [int(s) for s in items]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected thread counts such as 1,2, got '{text}'")
    if min(counts) < 1:
        raise argparse.ArgumentTypeError("thread counts must be >= 1")
    return counts


def parse_args():
    p = argparse.ArgumentParser(description="musicgen vs PyTorch vs Keras, interleaved, as one markdown table")
    p.add_argument("--build", type=Path, default=REPO / "build" / "bench",
                   help="folder with bench_chopin and bench_jazz (default: build/bench in the repository)")
    p.add_argument("--only", type=network_list, default=list(NETWORKS),
                   help=f"networks to run, e.g. chopin-seed,jazz; chopin means both chopin networks "
                        f"(default: {','.join(NETWORKS)})")
    p.add_argument("--rounds", type=int, default=5, help="runs of every candidate per configuration")
    p.add_argument("--threads", type=thread_list, default=[1, 2], help="thread counts (default: 1,2)")
    p.add_argument("--loads", type=csv_list("loads", ["quiet", "busy"]), default=["quiet", "busy"],
                   help="quiet, and/or busy: one competing process spins for the whole configuration")
    p.add_argument("--steps", type=int, default=5, help="timed training steps per run (each reports the median)")
    p.add_argument("--timeout", type=float, default=1800, help="seconds before one run counts as failed")
    p.add_argument("--json", type=Path, help="also write every run's RESULT (or failure) to this file")
    args = p.parse_args()
    if args.rounds < 1:
        p.error("--rounds must be >= 1")
    if args.steps < 1:
        p.error("--steps must be >= 1")
    args.build = args.build.resolve()
    return args


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run_once(cmd, model, threads, timeout):
    """Runs one candidate; returns (its RESULT dict for `model`, or None and why)."""
    env = dict(os.environ)
    for name in THREAD_VARIABLES:
        env[name] = str(threads)
    env["TF_NUM_INTEROP_THREADS"] = "1"
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, f"timed out after {timeout:.0f} s"
    except OSError as e:
        return None, str(e)
    why = f"exit status {proc.returncode}"
    if proc.returncode == 0:
        why = parse_error = None
        results = []
        for line in proc.stdout.splitlines():
            if line.startswith("RESULT "):
                try:
                    result = json.loads(line[len("RESULT "):])
                    float(result["samples_per_s"])
                    results.append(result)
                except (ValueError, KeyError, TypeError) as e:
                    parse_error = f"unreadable RESULT line ({e})"
        # A binary that times several models prints one line for each.
        results = [r for r in results if r.get("model", model) == model]
        if results:
            return results[-1], ""
        why = parse_error or f"no RESULT line for model {model}"
    tail = (proc.stdout + proc.stderr).strip().splitlines()[-6:]
    return None, why + "".join("\n    | " + line for line in tail)


class BusyLoad:
    """One competing process spinning on a core while the block runs."""

    def __init__(self, active):
        self.active = active
        self.proc = None

    def __enter__(self):
        if self.active:
            self.proc = subprocess.Popen([sys.executable, "-c", BUSY_LOOP])
        return self

    def __exit__(self, *exc):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()


def cpu_description():
    model, flags = "unknown", set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name" and model == "unknown":
                    model = value.strip()
                elif key == "flags" and not flags:
                    flags = set(value.split())
    except OSError:
        pass
    if model == "unknown":
        try:
            out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
            for line in out.splitlines():
                if line.startswith("Model name:"):
                    model = line.split(":", 1)[1].strip()
        except OSError:
            pass
    features = ", ".join(f"{name} {'yes' if name in flags else 'no'}" for name in ("avx512f", "avx2", "fma"))
    return model, features


def package_version(*names):
    for name in names:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return "not installed"


def musicgen_revision():
    def git(*a):
        return subprocess.run(["git", "-C", str(REPO), *a], capture_output=True, text=True).stdout.strip()
    try:
        commit = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except OSError:
        return "unknown"
    return (commit or "unknown") + (" with uncommitted changes" if dirty else "")


def median(values):
    return statistics.median(values) if values else None


def fmt(value, digits):
    return "n/a" if value is None else f"{value:.{digits}f}"


def markdown_table(header, rows, align):
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    def line(cells):
        return "| " + " | ".join(str(c).rjust(w) if a == "r" else str(c).ljust(w)
                                 for c, w, a in zip(cells, widths, align)) + " |"
    rule = "|" + "|".join("-" * (w + 1) + ":" if a == "r" else "-" * (w + 2) for w, a in zip(widths, align)) + "|"
    return "\n".join([line(header), rule] + [line(r) for r in rows])


def main():
    args = parse_args()
    started = datetime.datetime.now().astimezone()
    networks = args.only
    candidates = [(n, fw) for n in networks for fw, _ in FRAMEWORKS if fw in NETWORKS[n]["programs"]]
    configs = [(t, load) for t in args.threads for load in args.loads]

    missing = {}  # command's first element -> reason, for binaries that are not there
    for n, fw in candidates:
        exe = NETWORKS[n]["programs"][fw][0].format(build=args.build, py=sys.executable)
        if not os.access(exe, os.X_OK):
            missing[exe] = f"{exe} not found or not executable"
    for reason in sorted(set(missing.values())):
        log(f"run.py: {reason}: its candidates show n/a (build them: cmake --build build "
            f"--target bench_chopin bench_jazz, or pass --build DIR)")

    results = {}   # (network, threads, load, framework) -> [RESULT dicts]
    records = []   # every run, for --json
    failed = set()  # (network, framework) whose failure was shown in full
    total = len(configs) * args.rounds * len(candidates)
    done = 0
    for threads, load in configs:
        with BusyLoad(load == "busy"):
            for r in range(args.rounds):
                for n, fw in candidates:
                    done += 1
                    model = NETWORKS[n]["model"]
                    cmd = [a.format(build=args.build, py=sys.executable) for a in NETWORKS[n]["programs"][fw]]
                    cmd += ["--model", model, "--threads", str(threads), "--steps", str(args.steps)]
                    prefix = f"[{done}/{total}] {threads} thread{'s' if threads > 1 else ''}, {load}, " \
                             f"round {r + 1}: {fw} {n}:"
                    if cmd[0] in missing:
                        result, why = None, missing[cmd[0]]
                    else:
                        result, why = run_once(cmd, model, threads, args.timeout)
                    records.append({"network": n, "framework": fw, "threads": threads, "load": load,
                                    "round": r + 1, "command": shlex.join(cmd), "result": result,
                                    "failure": why or None})
                    if result is None:
                        if (n, fw) not in failed:
                            failed.add((n, fw))
                            log(f"{prefix} n/a: {why}\n    command: {shlex.join(cmd)}")
                        else:
                            log(f"{prefix} n/a")
                        continue
                    results.setdefault((n, threads, load, fw), []).append(result)
                    log(f"{prefix} {float(result['samples_per_s']):.1f} samples/s")

    all_results = [res for lst in results.values() for res in lst]
    isas = sorted({str(res["isa"]) for res in all_results if res.get("framework") == "musicgen" and "isa" in res})
    cpu_model, cpu_features = cpu_description()
    forced = os.environ.get("MUSICGEN_ISA")
    command = shlex.join([os.path.relpath(sys.executable)] + sys.argv)

    rows, notes = [], []
    for n in networks:
        programs = NETWORKS[n]["programs"]
        params = {}
        for threads, load in configs:
            rate, rss = {}, {}
            for fw, _ in FRAMEWORKS:
                runs = results.get((n, threads, load, fw), [])
                rate[fw] = median([float(x["samples_per_s"]) for x in runs])
                rss[fw] = median([float(x["peak_rss_mib"]) for x in runs if "peak_rss_mib" in x])
                params.update({fw: x["parameters"] for x in runs if "parameters" in x})
                reported = sorted({x["threads"] for x in runs if "threads" in x and x["threads"] != threads})
                if reported:
                    notes.append(f"{fw} {n} was asked for {threads} threads and reported "
                                 + ", ".join(str(t) for t in reported))

            def cell(values, fw, digits):
                return fmt(values[fw], digits) if fw in programs else "—"

            def ratio(fw):
                if fw not in programs:
                    return "—"
                if rate["musicgen"] is None or not rate[fw]:
                    return "n/a"
                return f"{rate['musicgen'] / rate[fw]:.2f}"

            rows.append([NETWORKS[n]["title"], threads, load,
                         cell(rate, "musicgen", 1), cell(rate, "pytorch", 1), cell(rate, "keras", 1),
                         ratio("pytorch"), ratio("keras"),
                         cell(rss, "musicgen", 0), cell(rss, "pytorch", 0), cell(rss, "keras", 0)])
        if len(set(params.values())) > 1:
            notes.append(f"parameter counts differ for {n}: " + ", ".join(f"{fw} {p}" for fw, p in params.items()))

    import_rss = {}
    for fw, name in FRAMEWORKS[1:]:
        values = [float(x["import_rss_mib"]) for x in all_results if x.get("framework") == fw and "import_rss_mib" in x]
        if values:
            import_rss[name] = statistics.median(values)

    print("# musicgen vs PyTorch vs Keras: training throughput on the CPU\n")
    print(f"- date: {started.strftime('%Y-%m-%d %H:%M %Z')}")
    print(f"- CPU: {cpu_model}, {os.cpu_count()} logical CPUs; {cpu_features}")
    print(f"- musicgen: commit {musicgen_revision()}, binaries in {args.build}; "
          f"ISA reported: {', '.join(isas) if isas else 'n/a'}; "
          f"MUSICGEN_ISA={forced if forced else '(not set: widest supported)'}")
    print(f"- PyTorch {package_version('torch')}; Keras {package_version('keras')} on TensorFlow "
          f"{package_version('tensorflow-cpu', 'tensorflow')}")
    print(f"- {args.rounds} round{'s' if args.rounds > 1 else ''} per configuration, candidates interleaved, "
          f"each a fresh process timing {args.steps} training step{'s' if args.steps > 1 else ''} after 1 warm-up; "
          "busy: one competing process spins on one core throughout")
    print(f"- command: `{command}`\n")
    header = ["network", "threads", "load", "musicgen samples/s", "PyTorch samples/s", "Keras samples/s",
              "musicgen / PyTorch", "musicgen / Keras", "musicgen RSS MiB", "PyTorch RSS MiB", "Keras RSS MiB"]
    print(markdown_table(header, rows, "lrl" + "r" * 8))
    print()
    print("samples/s: training samples per second, median over rounds (chopin: 40-token windows, batch 256; "
          "jazz: 5 s spectrogram clips, batch 10). Ratios above 1: musicgen is faster. "
          "RSS: peak resident memory of the process, median over rounds; "
          "—: no such candidate; n/a: no result (see stderr).")
    if import_rss:
        print("Of the peak RSS, importing the framework alone takes: "
              + "; ".join(f"{name} {v:.0f} MiB" for name, v in import_rss.items()) + ".")
    for note in dict.fromkeys(notes):  # once each, in order
        print(f"Warning: {note}.")

    if args.json:
        args.json.write_text(json.dumps({"command": command, "date": started.isoformat(), "runs": records}, indent=1))


if __name__ == "__main__":
    main()
