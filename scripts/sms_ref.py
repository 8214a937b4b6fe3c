#!/usr/bin/env python3
"""PyTorch reference for seqtorch's SMS classifier (models/smsrnn).

Two uses:

  parity   python3 scripts/sms_ref.py parity DIR
           DIR holds spec.json, init.pt (initial state dict) and batches.pt, written by the Go
           package scripts/internal/modelparity. Trains the same model from the same weights
           on the same batches and writes DIR/py_losses.json (one loss per step).

  bench    python3 scripts/sms_ref.py bench DIR [--threads N]
           DIR holds spec.json, batches.pt and optionally init.pt (written by `go run
           ./scripts/bench sms-inputs -model RUN -dir DIR` for a run folder RUN of train/sms,
           or by scripts/smsbench). Trains spec["epochs"] epochs over those batches, doing
           per step what Go's training loop does (cross entropy,
           Adam, the batch's correct count; loss and count summed on the device, read once per
           epoch), and prints one line "BENCH {json}" with epoch_s (the first epoch),
           last_epoch_s, steps and loss_mean.

  latency  python3 scripts/sms_ref.py latency DIR [--threads N] [--n 3000] [--warmup 300]
           DIR holds model.pt and latency.json (written by `bench sms-export`). Times the
           warm single-message predict path fed the message's token ids: model forward +
           softmax + .item() under torch.no_grad(); prints "BENCH {json}" with p50_us, p99_us,
           mean_us and p_spam (and p_spam_diff, the difference from Go's answer).

The model class mirrors models/smsrnn line for line, so state dicts are interchangeable.
"""
import json
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

# The reference computes the LSTM equations, as seqtorch does: oneDNN off, because libtorch 2.x
# runs an LSTM's no-grad CPU forward through oneDNN, which Debian 13's PyTorch 2.6 (oneDNN 3.7.2)
# gets wrong by up to 0.3 (see st_init in torch/csrc/shim.cpp). No effect on 1.13.
torch.backends.mkldnn.enabled = False


class SMSRNN(nn.Module):
    def __init__(self, vocab, embed=100, hidden=80, dense=60, cell="rnn", layers=1,
                 bidirectional=False, dropout=0.0, rnn_dropout=0.0, nonlinearity="tanh",
                 activation="relu", packed=True, classes=2, pooling="last", subwords=0, words=None):
        super().__init__()
        self.embedding = nn.Embedding(vocab, embed, padding_idx=0)
        kw = dict(num_layers=layers, batch_first=True, dropout=rnn_dropout, bidirectional=bidirectional)
        if cell == "rnn":
            self.rnn = nn.RNN(embed, hidden, nonlinearity=nonlinearity, **kw)
        else:
            self.rnn = {"lstm": nn.LSTM, "gru": nn.GRU}[cell](embed, hidden, **kw)
        self.fc1 = nn.Linear(hidden * (2 if bidirectional else 1), dense)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(dense, classes)
        self.activation = torch.tanh if activation == "tanh" else torch.relu
        self.packed = packed
        self.pooling = pooling or "last"
        if subwords:
            # models/smsrnn's subwords: the mean embedding of each word's character n-grams.
            self.subword = nn.Embedding(subwords + 1, embed, padding_idx=0)
            ids, scale = subword_table(words, subwords)
            self.register_buffer("subword_ids", ids, persistent=False)
            self.register_buffer("subword_scale", scale, persistent=False)

    def forward(self, ids, lengths):
        x = self.embedding(ids)
        if hasattr(self, "subword"):
            x = x + self.subword(self.subword_ids[ids]).sum(2) * self.subword_scale[ids]
        t = ids.shape[1]
        if self.packed:
            x = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out, h = self.rnn(x)
        if self.pooling != "last":  # max or mean of the last layer's outputs over each message
            if self.packed:
                out, _ = pad_packed_sequence(out, batch_first=True, total_length=t)
            mask = torch.arange(t).unsqueeze(0) < torch.as_tensor(lengths).unsqueeze(1)
            if self.pooling == "max":
                h = out.masked_fill(~mask.unsqueeze(2), float("-inf")).max(1).values
            else:
                h = out.masked_fill(~mask.unsqueeze(2), 0).sum(1) / torch.as_tensor(lengths, dtype=out.dtype).unsqueeze(1)
            return self.out(self.dropout(self.activation(self.fc1(h))))
        if isinstance(h, tuple):  # LSTM: (h_n, c_n)
            h = h[0]
        d = 2 if self.rnn.bidirectional else 1
        h = h[-d:].transpose(0, 1).reshape(ids.shape[0], -1)  # last layer, forward ‖ backward
        return self.out(self.dropout(self.activation(self.fc1(h))))


def fnv1a32(b):
    h = 0x811C9DC5
    for c in b:
        h = ((h ^ c) * 0x01000193) & 0xFFFFFFFF
    return h


def subword_table(words, buckets, min_n=3, max_n=5):
    """Each word's character n-gram buckets (FNV-1a of the UTF-8 n-gram of "<word>", modulo
    buckets, plus 1; 0 pads; tokens written "<...>" have none) and 1 / their count."""
    grams = []
    for w in words:
        g = []
        if w and not (w.startswith("<") and w.endswith(">")):
            r = "<" + w + ">"
            for n in range(min_n, max_n + 1):
                g += [fnv1a32(r[i:i + n].encode()) % buckets + 1 for i in range(len(r) - n + 1)]
        grams.append(g)
    k = max(1, max(len(g) for g in grams))
    ids = torch.zeros(len(words), k, dtype=torch.int64)
    scale = torch.zeros(len(words), 1)
    for i, g in enumerate(grams):
        ids[i, :len(g)] = torch.tensor(g, dtype=torch.int64)
        if g:
            scale[i, 0] = 1.0 / len(g)
    return ids, scale


def build(spec):
    m = spec["model"]
    return SMSRNN(m["vocab"], m["embed"], m["hidden"], m["dense"], m["cell"], m["layers"],
                  m["bidirectional"], m["dropout"], m["rnn_dropout"], m["nonlinearity"],
                  m["activation"], m["packed"], m["classes"], m.get("pooling", "last"),
                  m.get("subwords", 0), spec.get("words"))


def load_batches(d, n):
    b = torch.load(os.path.join(d, "batches.pt"))
    return [(b["ids_%03d" % i], b["lengths_%03d" % i], b["labels_%03d" % i]) for i in range(n)]


def make_optimizer(spec, model):
    params = [p for p in model.parameters() if p.requires_grad]
    name = spec.get("optimizer") or "adam"
    if name == "adam":
        return torch.optim.Adam(params, lr=spec["lr"])
    if name == "adadelta":
        return torch.optim.Adadelta(params, lr=spec["lr"])
    raise ValueError("optimizer %r (want adam or adadelta)" % name)


def step(model, opt, ids, lengths, labels, clip):
    """One training step: cross entropy on the logits, backward, optional gradient-norm
    clipping, optimizer step. Returns (loss, logits)."""
    logits = model(ids, lengths)
    loss = F.cross_entropy(logits, labels)
    opt.zero_grad()
    loss.backward()
    if clip > 0:
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
    opt.step()
    return loss, logits


def train_steps(model, opt, batches, seeds, clip):
    losses = []
    model.train()
    for i, (ids, lengths, labels) in enumerate(batches):
        if seeds:
            torch.manual_seed(seeds[i])
        loss, _ = step(model, opt, ids, lengths, labels, clip)
        losses.append(loss.item())
    return losses


def parity(d):
    """Trains from DIR/init.pt on DIR/batches.pt and writes DIR/py_losses.json."""
    with open(os.path.join(d, "spec.json")) as f:
        spec = json.load(f)
    torch.set_num_threads(1)
    model = build(spec)
    model.load_state_dict(torch.load(os.path.join(d, "init.pt")))
    opt = make_optimizer(spec, model)
    batches = load_batches(d, spec["steps"])
    losses = train_steps(model, opt, batches, spec.get("seeds"), spec.get("clip", 0.0))
    with open(os.path.join(d, "py_losses.json"), "w") as f:
        json.dump(losses, f)
    return losses


def bench_epoch(model, opt, batches, clip, device="cpu"):
    """One epoch as train/loop runs it: per step the loss and the correct count are added to
    device sums (no host sync), read once at the end. Returns (seconds, mean loss)."""
    model.train()
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    correct_sum = torch.zeros((), dtype=torch.float64, device=device)
    n = 0
    t0 = time.perf_counter()
    for ids, lengths, labels in batches:
        loss, logits = step(model, opt, ids, lengths, labels, clip)
        correct = logits.argmax(1).eq(labels).sum()
        b = labels.shape[0]
        loss_sum.add_(loss.detach(), alpha=b)
        correct_sum.add_(correct.double())
        n += b
    mean = loss_sum.item() / n
    correct_sum.item()
    return time.perf_counter() - t0, mean


def bench(d, threads, device="cpu"):
    """Times spec["epochs"] epochs over the batches in DIR from DIR/init.pt (or, without it, a
    model built with seed 1), on device (lengths stay on the CPU, as packing wants)."""
    with open(os.path.join(d, "spec.json")) as f:
        spec = json.load(f)
    torch.set_num_threads(threads or spec.get("threads", 1))
    torch.manual_seed(1)
    model = build(spec)
    init = os.path.join(d, "init.pt")
    if os.path.exists(init):
        model.load_state_dict(torch.load(init))
    model.to(device)
    opt = make_optimizer(spec, model)
    batches = [(i.to(device), n, y.to(device)) for i, n, y in load_batches(d, spec["steps"])]
    times, loss = [], 0.0
    for _ in range(spec.get("epochs", 1)):
        secs, loss = bench_epoch(model, opt, batches, spec.get("clip", 0.0), device)
        times.append(secs)
    metrics = {"epoch_s": times[0], "last_epoch_s": times[-1], "steps": len(batches), "loss_mean": loss}
    print("BENCH " + json.dumps({"metrics": metrics, "torch": torch.__version__}), flush=True)


def quantile(xs, q):
    """Linear interpolation between closest ranks (NumPy's default), as the Go side."""
    s = sorted(xs)
    pos = q * (len(s) - 1)
    lo, hi = int(pos), min(int(pos) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def latency(d, threads, n, warmup):
    """Times model forward + softmax + .item() on one message's ids, warm, n times."""
    with open(os.path.join(d, "latency.json")) as f:
        spec = json.load(f)
    torch.set_num_threads(threads)
    model = build(spec)
    model.load_state_dict(torch.load(os.path.join(d, "model.pt")))
    model.eval()
    ids = torch.tensor([spec["ids"]], dtype=torch.int64)
    lengths = torch.tensor([len(spec["ids"])], dtype=torch.int64)
    times = []
    p = 0.0
    with torch.no_grad():
        for i in range(warmup + n):
            t0 = time.perf_counter_ns()
            p = torch.softmax(model(ids, lengths), 1)[0, 1].item()
            el = time.perf_counter_ns() - t0
            if i >= warmup:
                times.append(el / 1e3)
    metrics = {"p50_us": quantile(times, 0.5), "p99_us": quantile(times, 0.99), "mean_us": sum(times) / len(times),
               "tokens": len(spec["ids"]), "p_spam": p, "p_spam_diff": abs(p - spec["p_spam"])}
    print("BENCH " + json.dumps({"metrics": metrics, "torch": torch.__version__}), flush=True)


def main():
    import argparse
    ap = argparse.ArgumentParser(description="PyTorch reference of seqtorch's SMS classifier")
    ap.add_argument("mode", choices=["parity", "bench", "latency"])
    ap.add_argument("dir")
    ap.add_argument("--threads", type=int, default=0, help="libtorch threads (bench: default spec's, latency: 1)")
    ap.add_argument("--n", type=int, default=3000, help="latency: timed predictions")
    ap.add_argument("--warmup", type=int, default=300, help="latency: untimed predictions first")
    ap.add_argument("--device", default="cpu", help="bench: cpu or cuda[:N]")
    a = ap.parse_args()
    if a.mode == "parity":
        parity(a.dir)
    elif a.mode == "bench":
        bench(a.dir, a.threads, a.device)
    else:
        latency(a.dir, a.threads or 1, a.n, a.warmup)


if __name__ == "__main__":
    main()
