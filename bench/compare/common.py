"""What the framework scripts share: their flags, the timing convention of
musicgen's bench_util.h, and the RESULT line that run.py reads.

The timed unit is one full training step (forward, loss, backward, optimizer
update). Warm-up steps run first; the reported time is the median of the
timed steps, taken as musicgen takes it (the upper median for an even count).

--precision bf16 is each framework's own mixed precision: the forward pass and
the loss compute in bfloat16 where the framework chooses to, while the weights
and the optimizer stay float32 (musicgen's bf16 rounds only the operands of
its matrix products and sums in float32).
"""
import argparse
import json
import resource
import time

# The inputs musicgen's bench_chopin builds: token ids and targets from two
# fixed multiplicative sequences, so every framework sees the same batch.
CHOPIN_BATCH, CHOPIN_STEPS, CHOPIN_VOCAB = 256, 40, 117


def chopin_ids(batch, steps, vocab):
    """Token ids [batch * steps] (row-major [B, T]) and targets [batch]."""
    ids = [(i * 7919) % vocab for i in range(batch * steps)]
    targets = [(i * 104729) % vocab for i in range(batch)]
    return ids, targets


def parser(description, models, default_model, default_batch):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--model", choices=models, default=default_model)
    p.add_argument("--threads", type=int, default=0, help="intra-op threads (0: the framework's default)")
    p.add_argument("--steps", type=int, default=5, help="timed training steps (median reported)")
    p.add_argument("--warmup", type=int, default=1, help="untimed training steps before timing")
    p.add_argument("--batch", type=int, default=default_batch)
    p.add_argument("--precision", choices=["fp32", "bf16"], default="fp32",
                   help="bf16: the framework's mixed precision (bfloat16 compute, float32 weights and optimizer)")
    return p


def check_args(p, args):
    if args.threads < 0:
        p.error("--threads must be >= 0")
    if args.steps < 1:
        p.error("--steps must be >= 1")
    if args.warmup < 0:
        p.error("--warmup must be >= 0")
    if args.batch < 1:
        p.error("--batch must be >= 1")


def time_steps(step, steps, warmup):
    """Runs step() warmup + steps times; step returns the loss as a float
    (which also waits for the computation). Returns (median seconds of the
    timed steps, loss of the very first step)."""
    first_loss = None
    times = []
    for i in range(warmup + steps):
        t0 = time.perf_counter()
        loss = step()
        t1 = time.perf_counter()
        if first_loss is None:
            first_loss = loss
        if i >= warmup:
            times.append(t1 - t0)
    times.sort()
    return times[len(times) // 2], first_loss


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux reports KiB


def rss_mib():
    """Resident memory now. Taken right after the framework's import, it is
    the part of the peak that the framework's libraries cost before any work."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def print_result(bench, framework, version, model, threads, step_s, batch, loss_first, parameters, import_rss_mib,
                 precision, **extra):
    result = {
        "bench": bench,
        "framework": framework,
        "version": version,
        "model": model,
        "precision": precision,
        "threads": threads,
        "batch": batch,
        "step_ms": round(step_s * 1e3, 3),
        "samples_per_s": round(batch / step_s, 3),
        "peak_rss_mib": round(peak_rss_mib(), 1),
        "loss_first": round(float(loss_first), 6),
        "parameters": parameters,
        "import_rss_mib": round(import_rss_mib, 1),
    }
    result.update(extra)
    print(f"{framework} {bench} {model} {precision}: {parameters} parameters, {threads} threads, batch {batch}: "
          f"{result['step_ms']:.1f} ms per step (median), {result['samples_per_s']:.1f} samples/s, "
          f"first loss {result['loss_first']:.4f}, peak RSS {result['peak_rss_mib']:.0f} MiB", flush=True)
    print("RESULT " + json.dumps(result), flush=True)
