#!/usr/bin/env python3
"""The SMS classifier of a Go run as a TorchScript module, for `jitserve` (train/jitserve) in the
serving item of `make bench` (scripts/bench).

    python3 scripts/sms_jit_export.py RUN MODEL_PT OUTDIR

RUN is a run folder written by `go run ./train/sms` (config.json, vocab.txt); MODEL_PT holds the
same weights as RUN/model.safetensors, written by `bench sms-export` (PyTorch names, the state
dict of scripts/sms_ref.py's SMSRNN, as scripts/sms_serve_ref.py loads it). Writes

  OUTDIR/model_script.pt   torch.jit.script of the same model with those weights, eval mode:
                           forward(ids [B,T] int64, lengths [B] int64) -> logits [B,C]
  OUTDIR/vocab.txt         the run's vocabulary, one token a line (id = line number), as
                           jitserve's --vocab wants it (the run's file has "token<TAB>count")

and prints one line "JIT {json}" with the model and the largest difference between the scripted
module's logits and SMSRNN's (eager) on a padded batch of the bench message and a few others.
The scripted model is SMSRNN's forward for what jitserve can serve: an RNN, LSTM or GRU over
packed (or padded) sequences, "last" pooling, no subwords, tokens written as seqtorch's SMS
tokenizer does with placeholders and without --caps (jitserve --tokenizer sms).
"""
import json
import os
import sys
from typing import List

import torch
import torch.nn as nn
from torch import Tensor
from torch.nn.utils.rnn import pack_padded_sequence

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sms_serve_ref import Classifier  # noqa: E402


class _Head(nn.Module):
    """SMSRNN's parameters under the same names, and its dense head."""

    def __init__(self, m):
        super().__init__()
        self.embedding = nn.Embedding(m["vocab"], m["embed"], padding_idx=0)
        kw = dict(num_layers=m["layers"], batch_first=True, dropout=float(m["rnn_dropout"]),
                  bidirectional=m["bidirectional"])
        cell = m["cell"]
        if cell == "rnn":
            self.rnn = nn.RNN(m["embed"], m["hidden"], nonlinearity=m["nonlinearity"], **kw)
        else:
            self.rnn = {"lstm": nn.LSTM, "gru": nn.GRU}[cell](m["embed"], m["hidden"], **kw)
        self.fc1 = nn.Linear(m["hidden"] * (2 if m["bidirectional"] else 1), m["dense"])
        self.dropout = nn.Dropout(float(m["dropout"]))  # (JSON may hold an int; TorchScript wants a float)
        self.out = nn.Linear(m["dense"], m["classes"])
        self.packed = bool(m["packed"])
        self.tanh = m["activation"] == "tanh"
        self.directions = 2 if m["bidirectional"] else 1

    def head(self, h: Tensor, batch: int) -> Tensor:
        h = h[-self.directions:].transpose(0, 1).reshape(batch, -1)  # last layer, forward ‖ backward
        z = self.fc1(h)
        z = torch.tanh(z) if self.tanh else torch.relu(z)
        return self.out(self.dropout(z))


class LSTMClassifier(_Head):
    def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:
        x = self.embedding(ids)
        if self.packed:
            _, (h, _) = self.rnn(pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False))
        else:
            _, (h, _) = self.rnn(x)
        return self.head(h, ids.shape[0])


class RNNClassifier(_Head):
    """RNN or GRU: the final state is one tensor."""

    def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:
        x = self.embedding(ids)
        if self.packed:
            _, h = self.rnn(pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False))
        else:
            _, h = self.rnn(x)
        return self.head(h, ids.shape[0])


def batch(rows: List[List[int]]):
    t = max(len(r) for r in rows)
    ids = torch.tensor([r + [0] * (t - len(r)) for r in rows], dtype=torch.int64)
    return ids, torch.tensor([len(r) for r in rows], dtype=torch.int64)


def main(run, model_pt, out):
    torch.set_num_threads(1)
    with open(os.path.join(run, "config.json")) as f:
        cfg = json.load(f)
    m, o = cfg["model"], cfg["options"]
    unsupported = []
    if (m.get("pooling") or "last") != "last":
        unsupported.append("pooling %r" % m["pooling"])
    if m.get("subwords", 0):
        unsupported.append("subwords")
    if o.get("tokens", "words") not in ("", "words") or not o.get("placeholders") or o.get("caps"):
        unsupported.append("tokens %r, placeholders %r, caps %r (jitserve --tokenizer sms is words with "
                           "placeholders, no caps)" % (o.get("tokens"), o.get("placeholders"), o.get("caps")))
    if unsupported:
        sys.exit("sms_jit_export: %s: not exported: %s" % (run, "; ".join(unsupported)))

    state = torch.load(model_pt)
    model = (LSTMClassifier if m["cell"] == "lstm" else RNNClassifier)(m)
    model.load_state_dict(state)  # strict: the same names and shapes as SMSRNN's
    model.eval()
    scripted = torch.jit.script(model)
    os.makedirs(out, exist_ok=True)
    scripted.save(os.path.join(out, "model_script.pt"))
    with open(os.path.join(run, cfg["vocab"]), encoding="utf-8") as f:
        tokens = [line.rstrip("\n").split("\t")[0] for line in f]
    with open(os.path.join(out, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(tokens) + "\n")

    # The scripted module against SMSRNN (scripts/sms_serve_ref.py's model) on one padded batch.
    ref = Classifier(run, model_pt)
    msgs = ["WINNER!! You have won a FREE prize worth £1000, call 09061701461 now",
            "see you at lunch", "ok", "Free entry to win cash, text WIN to 87121 www.win.com"]
    ids, lengths = batch([ref.ids(t) for t in msgs])
    reloaded = torch.jit.load(os.path.join(out, "model_script.pt"))
    with torch.no_grad():
        diff = (reloaded(ids, lengths) - ref.model(ids, lengths)).abs().max().item()
    print("JIT " + json.dumps({"model": os.path.join(out, "model_script.pt"), "cell": m["cell"],
                                "vocab": len(tokens), "params": sum(p.numel() for p in model.parameters()),
                                "max_abs_diff_vs_eager": diff, "torch": torch.__version__}))
    if diff > 1e-5:
        sys.exit("sms_jit_export: the scripted model differs from SMSRNN by %g" % diff)


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
