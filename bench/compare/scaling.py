"""Data-parallel scaling on this machine, side by side: musicgen's training
step (build/bench/bench_scaling) as 1 rank x 1 thread, 2 ranks x 1 thread
(mpirun) and 1 rank x 2 threads, and PyTorch DistributedDataParallel (gloo)
as 1 and 2 ranks x 1 thread on the same seed step (torch_ddp.py), the
candidates interleaved round by round; the table gives the medians.

    scaling.py [--build DIR] [--models seed,jazz] [--rounds 3] [--steps 4] [--no-torch]

Speed-up is samples/s against 1 rank x 1 thread of the same framework;
efficiency is the speed-up divided by the processes x threads used.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def run(cmd, timeout):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    for line in r.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    sys.exit(f"scaling.py: no RESULT from {' '.join(cmd)}:\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")


def cpu_model():
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--build", default=os.path.join(ROOT, "build"))
    p.add_argument("--models", default="seed,jazz")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--steps", type=int, default=4)
    p.add_argument("--no-torch", action="store_true")
    args = p.parse_args()
    bench = os.path.join(args.build, "bench", "bench_scaling")
    if not os.access(bench, os.X_OK):
        sys.exit(f"scaling.py: {bench} is missing; build musicgen first")
    mpirun = shutil.which("mpirun")
    if not mpirun:
        sys.exit("scaling.py: mpirun is missing (apt-get install openmpi-bin)")
    launch = [mpirun, "--oversubscribe"] + (["--allow-run-as-root"] if os.geteuid() == 0 else [])
    models = args.models.split(",")
    configs = []  # (model, framework, ranks, threads, command)
    for m in models:
        for ranks, threads in [(1, 1), (2, 1), (1, 2)]:
            cmd = [bench, "--model", m, "--threads", str(threads), "--steps", str(args.steps)]
            configs.append((m, "musicgen", ranks, threads, (launch + ["-np", str(ranks)] + cmd) if ranks > 1 else cmd))
        if m == "seed" and not args.no_torch:
            for ranks in (1, 2):
                cmd = [sys.executable, os.path.join(HERE, "torch_ddp.py"), "--model", m, "--ranks", str(ranks),
                       "--threads", "1", "--steps", str(args.steps)]
                configs.append((m, "pytorch-ddp-gloo", ranks, 1, cmd))
    results = {c[:4]: [] for c in configs}
    for r in range(args.rounds):
        for c in configs:
            res = run(c[4], 3600)
            results[c[:4]].append(res)
            print(f"round {r + 1}/{args.rounds}: {c[1]} {c[0]} {c[2]} rank(s) x {c[3]} thread(s): "
                  f"{res['samples_per_s']:.1f} samples/s", file=sys.stderr, flush=True)

    def med(key, field):
        return statistics.median(x[field] for x in results[key]) if results.get(key) else None

    print(f"CPU: {cpu_model()}; {os.cpu_count()} logical CPUs; medians of {args.rounds} interleaved rounds, "
          f"{args.steps} timed steps each\n")
    header = ["model", "ranks x threads", "musicgen samples/s", "speed-up", "efficiency", "all-reduce ms",
              "all-reduce % of step", "PyTorch DDP gloo samples/s", "DDP speed-up", "musicgen / DDP"]
    rows = []
    for m in models:
        base = med((m, "musicgen", 1, 1), "samples_per_s")
        tbase = med((m, "pytorch-ddp-gloo", 1, 1), "samples_per_s")
        for ranks, threads in [(1, 1), (2, 1), (1, 2)]:
            key = (m, "musicgen", ranks, threads)
            s = med(key, "samples_per_s")
            ar = med(key, "allreduce_ms")
            step = med(key, "step_ms")
            t = med((m, "pytorch-ddp-gloo", ranks, threads), "samples_per_s") if threads == 1 else None
            rows.append([m, f"{ranks} x {threads}", f"{s:.1f}", f"{s / base:.2f}x", f"{100 * s / base / (ranks * threads):.0f} %",
                         f"{ar:.2f}" if ranks > 1 else "-", f"{100 * ar / step:.2f}" if ranks > 1 else "-",
                         f"{t:.1f}" if t else "-", f"{t / tbase:.2f}x" if t and tbase else "-",
                         f"{s / t:.2f}x" if t else "-"])
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print("| " + " | ".join(c.rjust(w) for c, w in zip(r, widths)) + " |")


if __name__ == "__main__":
    main()
