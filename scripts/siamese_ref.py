#!/usr/bin/env python3
"""PyTorch reference for models/siamese (the Siamese BiLSTM / MaLSTM of train/siamese).

It trains the same model as the Go code, from the same initial weights, on the same batches,
and writes the loss of every step, so that Go and PyTorch can be compared step by step
(scripts/internal/modelparity: the parity suite's model/siamese/* cases and that package's
TestParityPyTorch), and it times a training epoch for the speed comparison.

    python3 scripts/siamese_ref.py DIR

DIR holds (written by the Go side):
  config.json   {"hidden": [..], "bidirectional": b, "pooling": "last|mean|max|meanmax",
                 "loss": "malstm|contrastive|triplet|tai", "margin": m, "threshold": t,
                 "similarity_hidden": h (the tai head's hidden size),
                 "entailment": w (optional: the tai head's entailment classifier "we" on its
                 hidden layer, its cross entropy weighted w and added to the KL loss),
                 "scale": "one|learned|dim" (alpha of the malstm score exp(-alpha*L1);
                 learned: a trainable scalar "scale" initialised to 1, dim: 1/features),
                 "optimizer": "adam|adadelta", "lr": lr, "clip": c, "threads": n,
                 "repeat": r (optional: time the epoch r times)}
  init.pt       the initial state dict (torch.save of a dict name -> tensor, PyTorch names)
  batches.json  [{"a": ids, "ta": T, "la": lengths, "b": ids, "tb": T, "lb": lengths,
                  "scores": [..], "labels": [..]}, ...]  (ids row-major, padded with 0;
                  labels: entailment classes 0..2)
and gets:
  losses.json   {"losses": [...], "seconds": [...] (one per repeat)}
"""
import json
import math
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


class Similarity(nn.Module):
    """Tai, Socher & Manning (2015) similarity head, as treelstm.pytorch's Similarity."""

    def __init__(self, features, hidden, classes=5, entailment=False):
        super().__init__()
        self.wh = nn.Linear(2 * features, hidden)
        self.wp = nn.Linear(hidden, classes)
        if entailment:
            self.we = nn.Linear(hidden, 3)

    def hidden(self, fa, fb):
        vec = torch.cat((fa * fb, torch.abs(fa - fb)), 1)
        return torch.sigmoid(self.wh(vec))

    def forward(self, fa, fb):
        """Returns log p-hat over the scores 1..5."""
        return F.log_softmax(self.wp(self.hidden(fa, fb)), dim=1)


def tai_target(scores, classes=5):
    """The sparse target distribution of Tai et al.: p[floor(y)] = floor(y) - y + 1,
    p[floor(y) + 1] = y - floor(y) (scores numbered 1..5)."""
    p = torch.zeros(len(scores), classes)
    for i, y in enumerate(scores):
        f = int(math.floor(y))
        if f == classes:
            p[i, classes - 1] = 1
        else:
            p[i, f - 1] = f - y + 1
            p[i, f] = y - f
    return p


class SiameseLSTM(nn.Module):
    """Frozen embedding -> (Bi)LSTM stack -> pooled features, as models/siamese.Model."""

    def __init__(self, vocab, dim, hidden, bidirectional, pooling, similarity_hidden=0, scale="one",
                 entailment=False):
        super().__init__()
        if scale == "learned":
            self.scale = nn.Parameter(torch.ones(1))
        dirs = 2 if bidirectional else 1
        self.features = dirs * hidden[-1] * (2 if pooling == "meanmax" else 1)
        self.factor = 1.0 / self.features if scale == "dim" else 1.0
        self.embedding = nn.Embedding(vocab, dim, padding_idx=0)
        self.embedding.weight.requires_grad = False
        self.pooling = pooling
        dirs = 2 if bidirectional else 1
        if all(h == hidden[0] for h in hidden):
            self.names = ["lstm"]
            self.lstm = nn.LSTM(dim, hidden[0], num_layers=len(hidden), batch_first=True,
                                bidirectional=bidirectional)
        else:
            self.names = []
            inp = dim
            for i, h in enumerate(hidden):
                name = "lstm_%d" % (i + 1)
                setattr(self, name, nn.LSTM(inp, h, batch_first=True, bidirectional=bidirectional))
                self.names.append(name)
                inp = h * dirs
        self.dirs = dirs
        if similarity_hidden > 0:
            feats = dirs * hidden[-1] * (2 if pooling == "meanmax" else 1)
            self.similarity = Similarity(feats, similarity_hidden, entailment=entailment)

    def forward(self, ids, lengths):
        """Returns all hidden states, the last hidden and cell states, and the features."""
        t = ids.shape[1]
        x = self.embedding(ids)
        packed = pack_padded_sequence(x, torch.tensor(lengths), batch_first=True, enforce_sorted=False)
        for name in self.names:
            packed, (h, c) = getattr(self, name)(packed)
        out, _ = pad_packed_sequence(packed, batch_first=True, total_length=t)
        if self.pooling == "last":
            feats = torch.cat([h[-self.dirs + k] for k in range(self.dirs)], dim=1)
        else:
            lens = torch.tensor(lengths, dtype=out.dtype).unsqueeze(1)
            mask = torch.arange(t).unsqueeze(0) < torch.tensor(lengths).unsqueeze(1)
            mean = out.sum(1) / lens
            mx = out.masked_fill(~mask.unsqueeze(2), float("-inf")).max(1).values
            feats = {"mean": mean, "max": mx}.get(self.pooling)
            if feats is None:
                feats = torch.cat([mean, mx], dim=1)
        return out, h, c, feats

    def encode_pair(self, a, la, b, lb):
        t = max(a.shape[1], b.shape[1])
        a = F.pad(a, (0, t - a.shape[1]))
        b = F.pad(b, (0, t - b.shape[1]))
        _, _, _, f = self.forward(torch.cat([a, b]), la + lb)
        n = len(la)
        return f[:n], f[n:]


def loss_fn(cfg, model, fa, fb, scores, labels):
    kind = cfg["loss"]
    s = torch.tensor(scores, dtype=torch.float32)
    if kind == "tai":
        h = model.similarity.hidden(fa, fb)
        loss = F.kl_div(F.log_softmax(model.similarity.wp(h), dim=1), tai_target(scores), reduction="batchmean")
        w = cfg.get("entailment", 0)
        if w > 0:
            loss = loss + w * F.cross_entropy(model.similarity.we(h), torch.tensor(labels))
        return loss
    if kind == "malstm":
        d = torch.sum(torch.abs(fa - fb), dim=1)
        if model.factor != 1.0:
            d = d * model.factor
        if hasattr(model, "scale"):
            d = d * model.scale
        sim = torch.exp(-d)
        return F.mse_loss(sim, (s - 1) / 4)
    y = (s >= cfg["threshold"]).float()
    if kind == "contrastive":
        d = F.pairwise_distance(fa, fb, 2, 1e-6)
        return (y * d + (1 - y) * torch.clamp(cfg["margin"] - d, min=0)).mean()
    # triplet, hardest negative in the batch
    anchors = [i for i, v in enumerate(scores) if v >= cfg["threshold"]]
    n = len(scores)
    if not anchors or n < 2:
        return fa.sum() * 0
    with torch.no_grad():
        dist = (fa.detach().unsqueeze(1) - fb.detach().unsqueeze(0)).pow(2).sum(2)
    negs = []
    for i in anchors:
        best = -1
        for j in range(n):
            if j != i and (best < 0 or dist[i, j] < dist[i, best]):
                best = j
        negs.append(best)
    ai, ni = torch.tensor(anchors), torch.tensor(negs)
    return F.triplet_margin_loss(fa[ai], fb[ai], fb[ni], margin=cfg["margin"], p=2, eps=1e-6)


def main():
    d = sys.argv[1]
    cfg = json.load(open(os.path.join(d, "config.json")))
    torch.set_num_threads(cfg.get("threads", 1))
    state = torch.load(os.path.join(d, "init.pt"))
    vocab, dim = state["embedding.weight"].shape
    model = SiameseLSTM(vocab, dim, cfg["hidden"], cfg["bidirectional"], cfg["pooling"],
                        cfg.get("similarity_hidden", 0), cfg.get("scale") or "one",
                        cfg.get("entailment", 0) > 0)
    model.load_state_dict(state)
    params = [p for p in model.parameters() if p.requires_grad]
    if cfg["optimizer"] == "adadelta":
        opt = torch.optim.Adadelta(params, lr=cfg["lr"])
    else:
        opt = torch.optim.Adam(params, lr=cfg["lr"])
    raw = json.load(open(os.path.join(d, "batches.json")))
    batches = []
    for b in raw:
        a = torch.tensor(b["a"], dtype=torch.int64).view(len(b["la"]), b["ta"])
        bb = torch.tensor(b["b"], dtype=torch.int64).view(len(b["lb"]), b["tb"])
        batches.append((a, b["la"], bb, b["lb"], b["scores"], b["labels"]))
    losses, seconds = [], []
    for _ in range(max(cfg.get("repeat", 1), 1)):
        start = time.perf_counter()
        for a, la, bb, lb, scores, labels in batches:
            fa, fb = model.encode_pair(a, la, bb, lb)
            loss = loss_fn(cfg, model, fa, fb, scores, labels)
            opt.zero_grad()
            loss.backward()
            if cfg.get("clip", 0) > 0:
                torch.nn.utils.clip_grad_norm_(params, cfg["clip"])
            opt.step()
            losses.append(loss.item())
        seconds.append(time.perf_counter() - start)
    json.dump({"losses": losses, "seconds": seconds}, open(os.path.join(d, "losses.json"), "w"))


if __name__ == "__main__":
    main()
