"""PyTorch side of `make bench` (scripts/bench): the same workloads as scripts/bench/worker.go.

Usage: bench_workloads.py NAME --threads N [--spec FILE]
Prints one line "BENCH {json}" with the workload's metrics. NAME is one of lstm-step, ops,
batching; each mirrors the Go worker of the same name line for line.
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_ops import bench as ops_bench  # noqa: E402  (the per-op loop of bench-ops.sh)

STEP_BATCH, STEP_SEQ, STEP_IN, STEP_HIDDEN = 64, 30, 300, 50
STEP_WARMUP, STEP_TIMED = 5, 40
OPS_ADD_N, OPS_MATMUL_N = 50000, 5000


class SeqModel(nn.Module):
    """LSTM(in -> hidden, batch_first) + Linear(hidden -> 1) on the last hidden state."""

    def __init__(self, n_in, hidden):
        super().__init__()
        self.lstm = nn.LSTM(n_in, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 1)


def lstm_step(threads, spec):
    torch.manual_seed(0)
    m = SeqModel(STEP_IN, STEP_HIDDEN)
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    x = torch.randn(STEP_BATCH, STEP_SEQ, STEP_IN)
    y = torch.randn(STEP_BATCH, 1)

    def step():
        opt.zero_grad()
        _, (h, _) = m.lstm(x)
        loss = F.mse_loss(m.head(h[-1]), y)
        loss.backward()
        opt.step()
        return loss

    times, first, last = [], 0.0, 0.0
    for i in range(STEP_WARMUP + STEP_TIMED):
        t0 = time.perf_counter_ns()
        loss = step()
        el = time.perf_counter_ns() - t0
        if i == 0:
            first = loss.item()
        if i == STEP_WARMUP + STEP_TIMED - 1:
            last = loss.item()
        if i >= STEP_WARMUP:
            times.append(el / 1e6)
    return {"step_ms": statistics.median(times), "loss_first": first, "loss_last": last}


def ops(threads, spec):
    x1, y1 = torch.tensor([1.0]), torch.tensor([2.0])
    torch.manual_seed(0)
    a, b = torch.randn(64, 80), torch.randn(80, 80)
    return {
        "add1_ns": ops_bench(lambda: x1 + y1, OPS_ADD_N),
        "matmul64x80_ns": ops_bench(lambda: torch.matmul(a, b), OPS_MATMUL_N),
    }


def token_id(i, t, vocab):
    return (i * 31 + t * 17) % (vocab - 1) + 1


def prepare_batch(spec, idx):
    lengths = [spec["lengths"][i] for i in idx]
    tmax = max(lengths)
    ids = torch.zeros(len(idx), tmax, dtype=torch.int64)
    for r, i in enumerate(idx):
        ids[r, : lengths[r]] = torch.tensor([token_id(i, t, spec["vocab"]) for t in range(lengths[r])])
    gather = torch.tensor(lengths, dtype=torch.int64).sub(1).view(-1, 1, 1).expand(-1, 1, spec["hidden"]).contiguous()
    labels = torch.tensor([[1.0 if l > 20 else 0.0] for l in lengths])
    return ids, torch.tensor(lengths, dtype=torch.int64), gather, labels


def batching_epoch(spec, emb, batches, packed):
    torch.manual_seed(1)
    m = SeqModel(spec["embed"], spec["hidden"])
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)

    def step(b):
        ids, lengths, gather, labels = b
        opt.zero_grad()
        x = F.embedding(ids, emb)
        if packed:
            p = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
            _, (h, _) = m.lstm(p)
            h = h[-1]
        else:
            out, _ = m.lstm(x)
            h = out.gather(1, gather).squeeze(1)
        loss = F.binary_cross_entropy_with_logits(m.head(h), labels)
        loss.backward()
        opt.step()
        return loss

    for b in batches[:2]:
        step(b)
    kept = []
    t0 = time.perf_counter()
    for b in batches:
        kept.append(step(b).detach())
    total = torch.stack(kept).mean().item()
    return time.perf_counter() - t0, total


def batching(threads, spec_path):
    with open(spec_path) as f:
        spec = json.load(f)
    torch.manual_seed(0)
    emb = torch.randn(spec["vocab"], spec["embed"])
    prepared = {name: [prepare_batch(spec, idx) for idx in bs] for name, bs in spec["batches"].items()}
    out = {}
    for mode in spec["modes"]:
        secs, loss = batching_epoch(spec, emb, prepared[mode["batches"]], mode["packed"])
        out[mode["name"] + "_s"] = secs
        out[mode["name"] + "_loss"] = loss
    return out


WORKLOADS = {"lstm-step": lstm_step, "ops": ops, "batching": batching}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("name", choices=sorted(WORKLOADS))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--spec", default="")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    metrics = WORKLOADS[args.name](args.threads, args.spec)
    print("BENCH " + json.dumps({"metrics": metrics}), flush=True)


if __name__ == "__main__":
    main()
