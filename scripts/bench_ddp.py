#!/usr/bin/env python3
"""PyTorch side of the ddp item of `make bench` (scripts/bench/ddp.go).

Usage:

  check      python3 scripts/bench_ddp.py check
             Prints "BENCH {json}" when torch.distributed with Gloo is available; fails otherwise.

  epoch      python3 scripts/bench_ddp.py epoch DIR [--threads 1]
             DIR is what `go run ./scripts/bench sms-inputs -model RUN -dir DIR` writes for a
             run of `sms --cell lstm --device cpu` (as item (a) of the benchmark): spec.json, init.pt, batches.pt with the
             epoch-1 batches of the global batch size (32). Alone (RANK and WORLD_SIZE unset) it
             trains one epoch over those batches exactly as `sms_ref.py bench` does. As one of
             WORLD_SIZE ranks it joins a Gloo group (init_method file://$SEQTORCH_STORE_FILE),
             wraps the model in DistributedDataParallel and trains on its share of every batch:
             rows RANK, RANK+WORLD_SIZE, ... (16 of 32 with two ranks, as seqtorch's
             --nproc 2 gives each process batch/2 examples per step), trimmed to their longest
             message. The epoch's timer starts after a barrier and stops after the loss and
             correct-count sums are all-reduced, as train/loop's epoch does. Rank 0 prints
             "BENCH {json}" with epoch_s, steps, loss_mean and batch (per process).

  allreduce  python3 scripts/bench_ddp.py allreduce [--threads 1]
             As one of WORLD_SIZE ranks: for each size of SIZES, float32 zeros, WARMUP calls of
             all_reduce(sum), CALIBRATE timed calls from which rank 0 picks the count (at least
             MIN_ITERS, about MIN_SECONDS, at most MAX_ITERS; broadcast to every rank), then that
             many calls timed one by one. Rank 0 prints "BENCH {json}" with, per size in bytes,
             us_<bytes> (the median time per call, µs), mean_us_<bytes> and iters_<bytes>.
             The Go worker `bench worker allreduce` does the same with the same constants.

The ranks are started by the parent (scripts/bench, through train/cli's launcher) with RANK,
WORLD_SIZE, SEQTORCH_STORE_FILE and SEQTORCH_DIST_TIMEOUT set; they talk over the loopback
interface only (GLOO_SOCKET_IFNAME=lo unless set).
"""
import argparse
import datetime
import json
import os
import re
import statistics
import sys
import time

import torch
import torch.distributed as dist
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sms_ref  # noqa: E402  (the SMS model and training step of item (a))

# As the other reference scripts: the LSTM equations, not oneDNN (see sms_ref.py).
torch.backends.mkldnn.enabled = False

SIZES = [1 << 10, 16 << 10, 256 << 10, 1 << 20, 4 << 20, 16 << 20]
WARMUP, CALIBRATE, MIN_ITERS, MAX_ITERS, MIN_SECONDS = 5, 10, 20, 5000, 0.5


def rank_env():
    """(rank, world) from the launcher's variables; (0, 1) when not launched."""
    if not os.environ.get("RANK") and not os.environ.get("WORLD_SIZE"):
        return 0, 1
    return int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])


def go_duration(s):
    """Parses a Go duration as time.Duration.String writes it ("5m0s", "1h0m0s", "90s");
    None when s is empty or not one."""
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "\u00b5s": 1e-6, "ns": 1e-9}
    parts = re.findall(r"(\d+(?:\.\d+)?)(h|ms|m|s|us|\u00b5s|ns)", s)
    if not s or "".join(v + u for v, u in parts) != s:
        return None
    return datetime.timedelta(seconds=sum(float(v) * units[u] for v, u in parts))


def join(rank, world):
    """Joins the Gloo group through the launcher's FileStore path, over loopback."""
    path = os.environ.get("SEQTORCH_STORE_FILE")
    if not path:
        raise SystemExit("bench_ddp.py: SEQTORCH_STORE_FILE is unset: the parent launches the ranks")
    if not os.environ.get("GLOO_SOCKET_IFNAME") and os.path.exists("/sys/class/net/lo"):
        os.environ["GLOO_SOCKET_IFNAME"] = "lo"
    timeout = go_duration(os.environ.get("SEQTORCH_DIST_TIMEOUT", "")) or datetime.timedelta(minutes=5)
    dist.init_process_group("gloo", init_method="file://" + path, rank=rank, world_size=world, timeout=timeout)


def emit(metrics):
    print("BENCH " + json.dumps({"metrics": metrics, "torch": torch.__version__}), flush=True)


def check():
    if not dist.is_available():
        raise SystemExit("this PyTorch has no torch.distributed")
    if not dist.is_gloo_available():
        raise SystemExit("this PyTorch's torch.distributed has no Gloo backend")
    emit({"gloo": 1})


def shard(batches, rank, world):
    """This rank's rows of every batch, trimmed to the longest of them."""
    out = []
    for ids, lengths, labels in batches:
        ids, lengths, labels = ids[rank::world], lengths[rank::world], labels[rank::world]
        out.append((ids[:, : int(lengths.max())].contiguous(), lengths.contiguous(), labels.contiguous()))
    return out


def epoch(d, threads):
    rank, world = rank_env()
    torch.set_num_threads(threads)
    if world == 1:
        sms_ref.bench(d, threads)  # item (a)'s Python side, unchanged
        return
    join(rank, world)
    with open(os.path.join(d, "spec.json")) as f:
        spec = json.load(f)
    torch.manual_seed(1)
    model = sms_ref.build(spec)
    model.load_state_dict(torch.load(os.path.join(d, "init.pt")))
    ddp = torch.nn.parallel.DistributedDataParallel(model)  # broadcasts rank 0's parameters
    opt = sms_ref.make_optimizer(spec, ddp)
    batches = shard(sms_ref.load_batches(d, spec["steps"]), rank, world)
    clip = spec.get("clip", 0.0)

    ddp.train()
    loss_sum = torch.zeros((), dtype=torch.float64)
    correct_sum = torch.zeros((), dtype=torch.float64)
    n = 0
    dist.barrier()
    t0 = time.perf_counter()
    for ids, lengths, labels in batches:
        loss, logits = sms_ref.step(ddp, opt, ids, lengths, labels, clip)
        correct = logits.argmax(1).eq(labels).sum()
        b = labels.shape[0]
        loss_sum.add_(loss.detach(), alpha=b)
        correct_sum.add_(correct.double())
        n += b
    sums = torch.tensor([loss_sum.item(), correct_sum.item(), float(n)], dtype=torch.float64)
    dist.all_reduce(sums)
    secs = time.perf_counter() - t0
    if rank == 0:
        emit({"epoch_s": secs, "steps": len(batches), "loss_mean": sums[0].item() / sums[2].item(),
              "batch": max(b[2].shape[0] for b in batches), "world_size": world})
    dist.destroy_process_group()


def allreduce(threads):
    rank, world = rank_env()
    if world < 2:
        raise SystemExit("bench_ddp.py allreduce: run as one of several ranks (RANK and WORLD_SIZE unset)")
    torch.set_num_threads(threads)
    join(rank, world)
    metrics = {"world_size": world}
    for size in SIZES:
        t = torch.zeros(size // 4, dtype=torch.float32)
        for _ in range(WARMUP):
            dist.all_reduce(t)
        t0 = time.perf_counter()
        for _ in range(CALIBRATE):
            dist.all_reduce(t)
        per = (time.perf_counter() - t0) / CALIBRATE
        iters = torch.tensor([min(max(MIN_ITERS, int(MIN_SECONDS / max(per, 1e-9)) + 1), MAX_ITERS)], dtype=torch.int64)
        dist.broadcast(iters, 0)
        times = []
        for _ in range(int(iters.item())):
            s = time.perf_counter_ns()
            dist.all_reduce(t)
            times.append((time.perf_counter_ns() - s) / 1e3)
        metrics["us_%d" % size] = statistics.median(times)
        metrics["mean_us_%d" % size] = sum(times) / len(times)
        metrics["iters_%d" % size] = len(times)
    dist.barrier()
    if rank == 0:
        emit(metrics)
    dist.destroy_process_group()


def main():
    ap = argparse.ArgumentParser(description="PyTorch side of the ddp bench item")
    ap.add_argument("mode", choices=["check", "epoch", "allreduce"])
    ap.add_argument("dir", nargs="?", help="epoch: the folder `bench sms-inputs` wrote")
    ap.add_argument("--threads", type=int, default=1, help="libtorch intra-op threads per process")
    a = ap.parse_args()
    if a.mode == "check":
        check()
    elif a.mode == "epoch":
        if not a.dir:
            ap.error("epoch needs DIR")
        epoch(a.dir, a.threads)
    else:
        allreduce(a.threads)


if __name__ == "__main__":
    main()
