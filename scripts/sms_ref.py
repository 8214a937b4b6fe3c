#!/usr/bin/env python3
"""PyTorch reference for seqtorch's SMS classifier (models/smsrnn).

Two uses:

  parity   python3 scripts/sms_ref.py parity DIR
           DIR holds spec.json, init.pt (initial state dict) and batches.pt, written by the Go
           package scripts/smsparity. Trains the same model from the same weights on the same
           batches and writes DIR/py_losses.json (one loss per step).

  bench    python3 scripts/sms_ref.py bench DIR
           DIR holds spec.json and batches.pt for one epoch (written by `go run
           ./scripts/smsparity/cmd/bench`); times training epochs and prints JSON.

The model class mirrors models/smsrnn line for line, so state dicts are interchangeable.
"""
import json
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence


class SMSRNN(nn.Module):
    def __init__(self, vocab, embed=100, hidden=80, dense=60, cell="rnn", layers=1,
                 bidirectional=False, dropout=0.0, rnn_dropout=0.0, nonlinearity="tanh",
                 activation="relu", packed=True, classes=2):
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

    def forward(self, ids, lengths):
        x = self.embedding(ids)
        if self.packed:
            x = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        _, h = self.rnn(x)
        if isinstance(h, tuple):  # LSTM: (h_n, c_n)
            h = h[0]
        d = 2 if self.rnn.bidirectional else 1
        h = h[-d:].transpose(0, 1).reshape(ids.shape[0], -1)  # last layer, forward ‖ backward
        return self.out(self.dropout(self.activation(self.fc1(h))))


def build(spec):
    m = spec["model"]
    return SMSRNN(m["vocab"], m["embed"], m["hidden"], m["dense"], m["cell"], m["layers"],
                  m["bidirectional"], m["dropout"], m["rnn_dropout"], m["nonlinearity"],
                  m["activation"], m["packed"], m["classes"])


def load_batches(d, n):
    b = torch.load(os.path.join(d, "batches.pt"))
    return [(b["ids_%03d" % i], b["lengths_%03d" % i], b["labels_%03d" % i]) for i in range(n)]


def make_optimizer(spec, model):
    params = [p for p in model.parameters() if p.requires_grad]
    if spec.get("optimizer", "adam") == "adam":
        return torch.optim.Adam(params, lr=spec["lr"])
    raise ValueError("optimizer %r" % spec["optimizer"])


def train_steps(model, opt, batches, seeds, clip):
    losses = []
    model.train()
    for i, (ids, lengths, labels) in enumerate(batches):
        if seeds:
            torch.manual_seed(seeds[i])
        logits = model(ids, lengths)
        loss = F.cross_entropy(logits, labels)
        opt.zero_grad()
        loss.backward()
        if clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
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


def bench(d):
    """Times spec["epochs"] epochs over the batches in DIR (model built with seed 1)."""
    with open(os.path.join(d, "spec.json")) as f:
        spec = json.load(f)
    torch.set_num_threads(spec.get("threads", 1))
    torch.manual_seed(1)
    model = build(spec)
    opt = make_optimizer(spec, model)
    batches = load_batches(d, spec["steps"])
    times = []
    for _ in range(spec["epochs"]):
        t0 = time.perf_counter()
        train_steps(model, opt, batches, None, 0.0)
        times.append(time.perf_counter() - t0)
    print(json.dumps({"seconds": times, "torch": torch.__version__}))


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("parity", "bench"):
        sys.exit("usage: sms_ref.py parity|bench DIR")
    {"parity": parity, "bench": bench}[sys.argv[1]](sys.argv[2])
