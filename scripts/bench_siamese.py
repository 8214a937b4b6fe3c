"""PyTorch side of the Siamese epoch in `make bench` and scripts/gpu-check.sh.

    bench_siamese.py DIR [--threads N] [--device cpu|cuda]

DIR is a folder written by `go run ./scripts/bench siamese-inputs -dir DIR` (config.json,
init.pt, batches.json: see scripts/siamese_ref.py). This trains scripts/siamese_ref.py's
SiameseLSTM for one epoch over those batches on the given device, keeping losses on the device
until the epoch ends (one host sync per epoch), and prints one line "BENCH {json}" with epoch_s
(seconds of the training steps), steps and loss_mean. Only the MaLSTM loss is supported (the
bench's setting).
"""
import argparse
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from siamese_ref import SiameseLSTM  # noqa: E402


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    with open(os.path.join(args.dir, "config.json")) as f:
        cfg = json.load(f)
    if cfg["loss"] != "malstm" or cfg["optimizer"] != "adam" or cfg.get("clip", 0) > 0:
        sys.exit("bench_siamese.py: only the MaLSTM loss with Adam and no clipping is supported")
    state = torch.load(os.path.join(args.dir, "init.pt"))
    vocab, dim = state["embedding.weight"].shape
    model = SiameseLSTM(vocab, dim, cfg["hidden"], cfg["bidirectional"], cfg["pooling"])
    model.load_state_dict(state)
    if cfg["pooling"] != "last" and device.type != "cpu":
        sys.exit("bench_siamese.py: pooling %r builds CPU masks in siamese_ref.py; use 'last' on %s" % (cfg["pooling"], device))
    model.to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=cfg["lr"])
    with open(os.path.join(args.dir, "batches.json")) as f:
        raw = json.load(f)
    batches = []
    for b in raw:
        a = torch.tensor(b["a"], dtype=torch.int64).view(len(b["la"]), b["ta"]).to(device)
        bb = torch.tensor(b["b"], dtype=torch.int64).view(len(b["lb"]), b["tb"]).to(device)
        target = ((torch.tensor(b["scores"], dtype=torch.float32) - 1) / 4).to(device)
        batches.append((a, b["la"], bb, b["lb"], target))
    sync(device)
    losses = []
    start = time.perf_counter()
    for a, la, bb, lb, target in batches:
        fa, fb = model.encode_pair(a, la, bb, lb)
        sim = torch.exp(-torch.sum(torch.abs(fa - fb), dim=1))
        loss = F.mse_loss(sim, target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.detach())
    loss_mean = torch.stack(losses).mean().item()
    sync(device)
    secs = time.perf_counter() - start
    print("BENCH " + json.dumps({"metrics": {"epoch_s": secs, "steps": len(batches), "loss_mean": loss_mean}}), flush=True)


if __name__ == "__main__":
    main()
