"""Times musicgen's benchmark binaries beside the same networks in PyTorch
and Keras and prints one markdown table.

For each configuration (threads x load) the candidates, every network,
precision and framework, run interleaved, A B C A B C ..., each as a fresh
process, for --rounds rounds, so that a slow spell on a shared machine falls
on every candidate alike. Every candidate prints `RESULT {json}` as its last
line; a candidate that fails or prints no such line shows as n/a. The table
goes to stdout, progress to stderr.

Before the runs and again after them, `bench_gemm --peak` measures the CPU's
peak multiply-add rate for each thread count (float32 FMA and, where the CPU
has AVX512_BF16, vdpbf16ps); the higher of the two counts. With the
matrix-product FLOPs of one training step that musicgen's binaries report
(gflop_per_step), that gives every row a physical limit in samples/s, and
each framework's share of it.

    bench/compare/.venv/bin/python bench/compare/run.py [--build DIR] [--only chopin-seed,chopin-embed,jazz]
        [--precisions fp32,bf16] [--rounds 5] [--threads 1,2] [--loads quiet,busy] [--steps 5]
        [--timeout 1800] [--json FILE]
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
PRECISIONS = ["fp32", "bf16"]

# Each candidate runs as PROGRAM --model MODEL --threads N --steps S --precision P,
# where {build} is the musicgen binaries' folder and {py} this interpreter.
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
# batch: the samples of one step, for a RESULT line that does not say (musicgen's binaries do not).
NETWORKS = {
    "chopin-seed": {"title": "chopin seed", "model": "seed", "programs": CHOPIN, "batch": 256},
    "chopin-embed": {"title": "chopin embed", "model": "embed", "programs": CHOPIN, "batch": 256},
    "jazz": {"title": "jazz conv", "model": "conv", "programs": JAZZ, "batch": 10},
    "generate": {"title": "generate 1000 tokens (seed, batch 1, windowed; tokens/s)", "model": "seed",
                 "programs": GENERATE, "batch": 1},
}
# (network, framework) pairs whose program has no --precision bf16: their bf16 cells show "—".
FP32_ONLY = set()

# Every thread-count knob the three runtimes and their math libraries read.
THREAD_VARIABLES = ["OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "BLIS_NUM_THREADS",
                    "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS", "TF_NUM_INTRAOP_THREADS"]
BUSY_LOOP = "while True: pass"
CPU_FLAGS = ["avx512f", "avx512_bf16", "amx_bf16", "avx2", "fma"]


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
                   help="folder with bench_chopin, bench_jazz and bench_gemm (default: build/bench in the repository)")
    p.add_argument("--only", type=network_list, default=list(NETWORKS),
                   help=f"networks to run, e.g. chopin-seed,jazz; chopin means both chopin networks "
                        f"(default: {','.join(NETWORKS)})")
    p.add_argument("--precisions", type=csv_list("precisions", PRECISIONS), default=["fp32"],
                   help="fp32 and/or bf16, passed to every candidate as --precision (default: fp32)")
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


def has_candidate(network, framework, precision):
    if precision == "bf16" and (network, framework) in FP32_ONLY:
        return False
    return framework in NETWORKS[network]["programs"]


def run_once(cmd, model, threads, timeout, key="samples_per_s"):
    """Runs one candidate; returns (its RESULT dict for `model`, or None and why).
    `key` is the number a RESULT line must hold to count."""
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
                    float(result[key])
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
    """(model, instruction sets). The model is lscpu's name with /proc/cpuinfo's
    vendor, family, model and stepping, which still identify the core where a
    virtual machine shows only a generic name (e.g. "AMD EPYC")."""
    info, flags = {}, set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "flags":
                    flags = set(value.split())
                    break  # the first processor's block is enough
                info.setdefault(key, value.strip())
    except OSError:
        pass
    name = info.get("model name", "unknown")
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                name = line.split(":", 1)[1].strip()
    except OSError:
        pass
    ids = ", ".join(f"{label} {info[key]}" for key, label in
                    (("vendor_id", "vendor"), ("cpu family", "family"), ("model", "model"), ("stepping", "stepping"))
                    if key in info)
    model = f"{name} ({ids})" if ids else name
    features = ", ".join(f"{flag} {'yes' if flag in flags else 'no'}" for flag in CPU_FLAGS)
    return model, features


def measure_peaks(build, thread_counts, timeout):
    """bench_gemm --peak for each thread count: {threads: its RESULT dict}, and why any is missing."""
    peaks, failures = {}, []
    exe = str(build / "bench_gemm")
    for threads in thread_counts:
        cmd = [exe, "--peak", "--threads", str(threads)]
        if not os.access(exe, os.X_OK):
            failures.append(f"{exe} not found or not executable (cmake --build build --target bench_gemm)")
            break
        result, why = run_once(cmd, None, threads, timeout, key="fp32_gflops")
        if result is None:
            failures.append(f"{shlex.join(cmd)}: {why}")
            continue
        peaks[threads] = result
        log(f"peak of {threads} thread{'s' if threads > 1 else ''}: fp32 {float(result['fp32_gflops']):.1f} GFLOP/s, "
            f"bf16 {float(result.get('bf16_gflops', 0)):.1f} GFLOP/s")
    return peaks, failures


def best_peaks(first, second):
    """Per thread count, the higher of two measurements of each peak."""
    best = {}
    for threads in sorted(set(first) | set(second)):
        a, b = first.get(threads, {}), second.get(threads, {})
        best[threads] = dict(a or b)
        for key in ("fp32_gflops", "bf16_gflops"):
            best[threads][key] = max(float(a.get(key, 0)), float(b.get(key, 0)))
    return best


def peak_gflops(peak, precision):
    """The peak for one precision; None where unknown or 0 (bf16 on a CPU without AVX512_BF16)."""
    value = float(peak.get(f"{precision}_gflops", 0)) if peak else 0.0
    return value or None


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


def modified_times(paths):
    """Modification time of each file that exists, to notice a rebuild during the runs."""
    return {path: os.stat(path).st_mtime for path in paths if os.path.exists(path)}


def peak_notes(peaks):
    """Warnings for peaks of several threads that fall short of the threads' share of the machine: a process
    that competed for the cores during both measurements, or threads that share cores (SMT)."""
    notes = []
    single = peaks.get(1, {})
    for threads, peak in sorted(peaks.items()):
        cores = min(threads, os.cpu_count() or threads)
        for key, name in (("fp32_gflops", "fp32"), ("bf16_gflops", "bf16")):
            one, many = float(single.get(key, 0)), float(peak.get(key, 0))
            if cores > 1 and one and many < 0.8 * cores * one:
                notes.append(f"the {threads}-thread {name} peak is {many / one:.2f} times the 1-thread peak, not "
                             f"about {cores}: another process competed for the cores while it was measured (its "
                             "limit is then too low), or the threads share cores")
    return notes


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
    revision = musicgen_revision()  # now: the tree may change while the runs go on
    networks, precisions = args.only, args.precisions
    candidates = [(n, prec, fw) for n in networks for prec in precisions for fw, _ in FRAMEWORKS
                  if has_candidate(n, fw, prec)]
    configs = [(t, load) for t in args.threads for load in args.loads]

    binaries = sorted({NETWORKS[n]["programs"]["musicgen"][0].format(build=args.build) for n in networks
                       if "musicgen" in NETWORKS[n]["programs"]} | {str(args.build / "bench_gemm")})
    binaries_before = modified_times(binaries)
    missing = {}  # command's first element -> reason, for binaries that are not there
    for n, _, fw in candidates:
        exe = NETWORKS[n]["programs"][fw][0].format(build=args.build, py=sys.executable)
        if not os.access(exe, os.X_OK):
            missing[exe] = f"{exe} not found or not executable"
    for reason in sorted(set(missing.values())):
        log(f"run.py: {reason}: its candidates show n/a (build them: cmake --build build "
            f"--target bench_chopin bench_jazz, or pass --build DIR)")

    # Measured before the runs and again after them, without the busy load, keeping the higher of the two: the
    # limit is what the CPU can do, and another process that runs during one measurement only lowers it.
    peaks_before, peak_failures = measure_peaks(args.build, args.threads, args.timeout)
    for failure in peak_failures:
        log(f"run.py: no peak, the limit columns show n/a: {failure}")

    results = {}   # (network, precision, threads, load, framework) -> [RESULT dicts]
    records = []   # every run, for --json
    failed = set()  # (network, precision, framework) whose failure was shown in full
    total = len(configs) * args.rounds * len(candidates)
    done = 0
    for threads, load in configs:
        with BusyLoad(load == "busy"):
            for r in range(args.rounds):
                for n, prec, fw in candidates:
                    done += 1
                    model = NETWORKS[n]["model"]
                    cmd = [a.format(build=args.build, py=sys.executable) for a in NETWORKS[n]["programs"][fw]]
                    cmd += ["--model", model, "--threads", str(threads), "--steps", str(args.steps),
                            "--precision", prec]
                    prefix = f"[{done}/{total}] {threads} thread{'s' if threads > 1 else ''}, {load}, " \
                             f"round {r + 1}: {fw} {n} {prec}:"
                    if cmd[0] in missing:
                        result, why = None, missing[cmd[0]]
                    else:
                        result, why = run_once(cmd, model, threads, args.timeout)
                    records.append({"time": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
                                    "network": n, "precision": prec, "framework": fw, "threads": threads,
                                    "load": load, "round": r + 1, "command": shlex.join(cmd), "result": result,
                                    "failure": why or None})
                    if result is None:
                        if (n, prec, fw) not in failed:
                            failed.add((n, prec, fw))
                            log(f"{prefix} n/a: {why}\n    command: {shlex.join(cmd)}")
                        else:
                            log(f"{prefix} n/a")
                        continue
                    results.setdefault((n, prec, threads, load, fw), []).append(result)
                    log(f"{prefix} {float(result['samples_per_s']):.1f} samples/s")

    peaks_after = measure_peaks(args.build, args.threads, args.timeout)[0] if peaks_before else {}
    peaks = best_peaks(peaks_before, peaks_after)
    rebuilt = [path for path, mtime in modified_times(binaries).items() if binaries_before.get(path) != mtime]

    all_results = [res for lst in results.values() for res in lst]
    musicgen_results = [res for res in all_results if res.get("framework") == "musicgen"]
    isas = sorted({str(res["isa"]) for res in musicgen_results if "isa" in res})
    builds = sorted({str(res["build"]) for res in musicgen_results + list(peaks.values()) if "build" in res})
    cpu_model, cpu_features = cpu_description()
    forced = os.environ.get("MUSICGEN_ISA")
    command = shlex.join([os.path.relpath(sys.executable)] + sys.argv)

    rows = []
    notes = [f"{os.path.basename(path)} changed during the runs (rebuilt?): its rows may mix two builds"
             for path in rebuilt] + peak_notes(peaks)
    for n in networks:
        programs = NETWORKS[n]["programs"]
        params, gflops, batches = {}, set(), {}
        # The FLOPs of a step are the network's, whatever the precision or the thread count:
        # every framework runs the same network, so musicgen's count serves all of them.
        for prec in precisions:
            for threads, load in configs:
                for x in results.get((n, prec, threads, load, "musicgen"), []):
                    if "gflop_per_step" in x:
                        gflops.add(float(x["gflop_per_step"]))
        gflop = max(gflops) if gflops else None
        if len(gflops) > 1:
            notes.append(f"musicgen reported different gflop_per_step for {n}: "
                         + ", ".join(f"{g:g}" for g in sorted(gflops)) + "; the limit uses the largest")
        for prec in precisions:
            for threads, load in configs:
                rate, rss, share = {}, {}, {}
                for fw, _ in FRAMEWORKS:
                    runs = results.get((n, prec, threads, load, fw), [])
                    rate[fw] = median([float(x["samples_per_s"]) for x in runs])
                    rss[fw] = median([float(x["peak_rss_mib"]) for x in runs if "peak_rss_mib" in x])
                    # musicgen's binaries say "params", the Python scripts "parameters".
                    params.update({fw: x.get("parameters", x.get("params")) for x in runs
                                   if "parameters" in x or "params" in x})
                    batches.update({fw: int(x["batch"]) for x in runs if "batch" in x})
                    reported = sorted({x["threads"] for x in runs if "threads" in x and x["threads"] != threads})
                    if reported:
                        notes.append(f"{fw} {n} was asked for {threads} threads and reported "
                                     + ", ".join(str(t) for t in reported))
                    other = sorted({x["precision"] for x in runs if x.get("precision", prec) != prec})
                    if other:
                        notes.append(f"{fw} {n} was asked for {prec} and reported " + ", ".join(other))

                # samples/s the step's matrix products alone would allow at the measured peak.
                peak = peak_gflops(peaks.get(threads), prec)
                batch = batches.get("musicgen", NETWORKS[n]["batch"])
                limit = peak / (gflop / batch) if peak and gflop else None
                for fw, _ in FRAMEWORKS:
                    share[fw] = 100 * rate[fw] / limit if limit and rate[fw] is not None else None
                    if share[fw] is not None and share[fw] > 100:
                        notes.append(f"{fw} {n} {prec} at {threads} threads ran above the limit: "
                                     "the peak was measured low (a busy machine?)")

                def cell(values, fw, digits):
                    return fmt(values[fw], digits) if has_candidate(n, fw, prec) else "—"

                def ratio(fw):
                    if not has_candidate(n, fw, prec):
                        return "—"
                    if rate["musicgen"] is None or not rate[fw]:
                        return "n/a"
                    return f"{rate['musicgen'] / rate[fw]:.2f}"

                rows.append([NETWORKS[n]["title"], prec, threads, load, fmt(gflop, 2), fmt(limit, 1),
                             cell(rate, "musicgen", 1), cell(rate, "pytorch", 1), cell(rate, "keras", 1),
                             cell(share, "musicgen", 1), cell(share, "pytorch", 1), cell(share, "keras", 1),
                             ratio("pytorch"), ratio("keras"),
                             cell(rss, "musicgen", 0), cell(rss, "pytorch", 0), cell(rss, "keras", 0)])
        if len(set(params.values())) > 1:
            notes.append(f"parameter counts differ for {n}: " + ", ".join(f"{fw} {p}" for fw, p in params.items()))
        if len(set(batches.values()) | {NETWORKS[n]["batch"]}) > 1:
            notes.append(f"batch sizes differ for {n}: default {NETWORKS[n]['batch']}, "
                         + ", ".join(f"{fw} {b}" for fw, b in batches.items()))
        if gflop is None and any(fw == "musicgen" for fw in programs):
            notes.append(f"musicgen reported no gflop_per_step for {n}: no limit")

    import_rss = {}
    for fw, name in FRAMEWORKS[1:]:
        values = [float(x["import_rss_mib"]) for x in all_results if x.get("framework") == fw and "import_rss_mib" in x]
        if values:
            import_rss[name] = statistics.median(values)

    print("# musicgen vs PyTorch vs Keras: training throughput on the CPU\n")
    print(f"- date: {started.strftime('%Y-%m-%d %H:%M %Z')}")
    print(f"- CPU: {cpu_model}, {os.cpu_count()} logical CPUs; {cpu_features}")
    print(f"- musicgen: commit {revision}, binaries in {args.build}; "
          f"build: {'; '.join(builds) if builds else 'n/a'}; "
          f"ISA reported: {', '.join(isas) if isas else 'n/a'}; "
          f"MUSICGEN_ISA={forced if forced else '(not set: widest supported)'}")
    print(f"- PyTorch {package_version('torch')}; Keras {package_version('keras')} on TensorFlow "
          f"{package_version('tensorflow-cpu', 'tensorflow')}")
    print(f"- precisions: {', '.join(precisions)} (bf16: musicgen's bf16 products with float32 sums; PyTorch's "
          "torch.autocast(bfloat16) over forward and loss; Keras' mixed_bfloat16 policy; float32 weights and "
          "optimizer in all)")
    if peaks:
        print("- peak (`bench_gemm --peak` before and after the runs, the higher kept), GFLOP/s: "
              + "; ".join(f"{t} thread{'s' if t > 1 else ''}: fp32 {float(pk['fp32_gflops']):.1f}, "
                          f"bf16 {float(pk.get('bf16_gflops', 0)):.1f} ({pk.get('isa', '?')})"
                          for t, pk in sorted(peaks.items())))
    else:
        print("- peak: not measured (" + "; ".join(peak_failures) + ")")
    print(f"- {args.rounds} round{'s' if args.rounds > 1 else ''} per configuration, candidates interleaved, "
          f"each a fresh process timing {args.steps} training step{'s' if args.steps > 1 else ''} after 1 warm-up; "
          "busy: one competing process spins on one core throughout")
    print(f"- command: `{command}`\n")
    header = ["network", "precision", "threads", "load", "GFLOP/step", "limit samples/s",
              "musicgen samples/s", "PyTorch samples/s", "Keras samples/s",
              "musicgen % of limit", "PyTorch % of limit", "Keras % of limit",
              "musicgen / PyTorch", "musicgen / Keras", "musicgen RSS MiB", "PyTorch RSS MiB", "Keras RSS MiB"]
    print(markdown_table(header, rows, "llrl" + "r" * 13))
    print()
    print("samples/s: training samples per second, median over rounds (chopin: 40-token windows, batch 256; "
          "jazz: 5 s spectrogram clips, batch 10). GFLOP/step: the matrix-product FLOPs of one training step "
          "(forward and backward GEMMs, convolutions, LSTM recurrence) as musicgen counts them; the same network "
          "in every framework. limit: the samples/s at which those products alone would run at the peak of the "
          "row's precision and thread count (peak / (GFLOP/step / batch)); % of limit: samples/s / limit. "
          "Ratios above 1: musicgen is faster. "
          "RSS: peak resident memory of the process, median over rounds; "
          "—: no such candidate; n/a: no result (see stderr).")
    if import_rss:
        print("Of the peak RSS, importing the framework alone takes: "
              + "; ".join(f"{name} {v:.0f} MiB" for name, v in import_rss.items()) + ".")
    for note in dict.fromkeys(notes):  # once each, in order
        print(f"Warning: {note}.")

    if args.json:
        args.json.write_text(json.dumps({"command": command, "date": started.isoformat(),
                                         "peaks": {"before": peaks_before, "after": peaks_after},
                                         "runs": records}, indent=1))


if __name__ == "__main__":
    main()
