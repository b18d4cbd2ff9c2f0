"""The Chopin seed network's training step under PyTorch DistributedDataParallel
with the gloo backend (CPU): N processes, each with its part of the global
batch, gradients all-reduced in DDP's buckets (25 MB, overlapped with the
backward pass), as a PyTorch user scales out on CPUs.

    torch_ddp.py [--ranks N] [--threads N] [--steps N] [--warmup N] [--batch B]
                 [--model seed|embed] [--vocab V]

Prints the median step of rank 0 (after a barrier per step) and a RESULT line
like the other scripts', with "ranks".
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
import torch_chopin  # noqa: E402


def worker(rank, world, args, port, out):
    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(1)
    net, KerasAdamax = torch_chopin.build(args.model, args.vocab)
    trainable = [q for q in net.parameters() if q.requires_grad]
    ddp = DistributedDataParallel(net)
    opt = KerasAdamax(trainable, lr=0.01)
    local = args.batch // world
    ids, targets = common.chopin_ids(args.batch, common.CHOPIN_STEPS, args.vocab)
    ids = torch.tensor(ids, dtype=torch.int64).reshape(args.batch, common.CHOPIN_STEPS)[rank * local:(rank + 1) * local]
    x = (ids.to(torch.float32) / args.vocab).unsqueeze(2) if args.model == "seed" else ids
    y = torch.tensor(targets, dtype=torch.int64)[rank * local:(rank + 1) * local]
    loss_fn = torch.nn.CrossEntropyLoss()
    times = []
    for i in range(args.warmup + args.steps):
        dist.barrier()
        t0 = time.perf_counter()
        loss = loss_fn(ddp(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        loss.item()
        dist.barrier()
        if i >= args.warmup:
            times.append(time.perf_counter() - t0)
    if rank == 0:
        times.sort()
        out.put((times[len(times) // 2], sum(q.numel() for q in trainable), torch.__version__))
    dist.destroy_process_group()


def main():
    p = common.parser("PyTorch DDP (gloo) Chopin training step", ["seed", "embed"], "seed", common.CHOPIN_BATCH)
    p.add_argument("--ranks", type=int, default=2)
    p.add_argument("--vocab", type=int, default=common.CHOPIN_VOCAB)
    args = p.parse_args()
    common.check_args(p, args)
    if args.threads == 0:
        args.threads = 1
    if args.ranks < 1 or args.batch % args.ranks:
        p.error("--batch must split evenly among --ranks")
    import torch.multiprocessing as mp
    port = 29500 + os.getpid() % 1000
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=worker, args=(r, args.ranks, args, port, out)) for r in range(args.ranks)]
    for proc in procs:
        proc.start()
    step_s, parameters, version = out.get()
    for proc in procs:
        proc.join()
    print(f"pytorch DDP gloo {args.model}: {args.ranks} ranks x {args.threads} threads, batch {args.batch}: "
          f"{step_s * 1e3:.1f} ms per step (median), {args.batch / step_s:.1f} samples/s")
    print('RESULT {"bench": "scaling", "framework": "pytorch-ddp-gloo", "version": "%s", "model": "%s", '
          '"ranks": %d, "threads": %d, "batch": %d, "step_ms": %.3f, "samples_per_s": %.3f, "parameters": %d}'
          % (version, args.model, args.ranks, args.threads, args.batch, step_s * 1e3, args.batch / step_s, parameters))


if __name__ == "__main__":
    main()
