#!/usr/bin/env python3
"""PyTorch side of torch/jit's tests: TorchScript modules and what PyTorch computes with them.

    python3 scripts/jit_ref.py OUTDIR

writes into OUTDIR (all produced here by PyTorch, nothing by hand):

  lstm_script.pt, lstm_trace.pt   an LSTM text classifier, forward(ids [B,T] int64, lengths [B]
                                  int64) -> logits [B,C], with pack_padded_sequence inside
                                  (enforce_sorted=False), scripted and traced; an exported
                                  predict method
  gru_script.pt, gru_trace.pt     a 2-layer GRU returning (output, h_n); the scripted one takes
                                  an optional h0
  values_script.pt                a module whose forward takes a tensor list, a dict, float,
                                  int, bool and str and returns a tuple holding a dict, a list,
                                  a str, ...; methods describe (tuple and list in, dict out) and
                                  fail (raises at run time)
  tupledict_trace.pt              a traced module returning a tuple (tensor, dict)
  state_dict.pt                   torch.save(model.state_dict()) of the LSTM classifier
  classifier.pt, vocab.txt        a small spam classifier (trained here on a few messages,
                                  tokenized as seqtorch's SMS tokenizer does), for serving
  expected.json                   inputs, outputs, and one fine-tuning step with SGD and with
                                  Adam (loss, updated parameters), and the classifier's labels
                                  for a fixed list of messages

and, run as `python3 scripts/jit_ref.py check MODULE.pt IDS_JSON`, prints the logits a module
saved elsewhere (by Go) gives for ids and lengths.
"""
import json
import os
import sys
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor
from torch.nn.utils.rnn import pack_padded_sequence

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sms_serve_ref import tokenize  # noqa: E402  (the port of data.SMSTokenizer)


class LSTMCore(nn.Module):
    def __init__(self, vocab: int, embed: int, hidden: int, classes: int):
        super().__init__()
        self.embedding = nn.Embedding(vocab, embed, padding_idx=0)
        self.rnn = nn.LSTM(embed, hidden, batch_first=True, bidirectional=True)
        self.linear_out = nn.Linear(2 * hidden, classes)

    def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:
        x = self.embedding(ids)
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, (h, _) = self.rnn(packed)
        return self.linear_out(torch.cat([h[-2], h[-1]], dim=1))


class LSTMClassifier(LSTMCore):
    """LSTMCore with an exported method (tracing compiles exported methods too, and a packed
    LSTM call in one fails there: the traced module is an LSTMCore)."""

    @torch.jit.export
    def predict(self, ids: Tensor, lengths: Tensor) -> Tensor:
        return self.forward(ids, lengths).argmax(1)


class GRUNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(4, 6, num_layers=2, batch_first=True)

    def forward(self, x: Tensor, h0: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
        return self.gru(x, h0)


class GRUTrace(nn.Module):
    def __init__(self, gru: GRUNet):
        super().__init__()
        self.gru = gru.gru

    def forward(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        return self.gru(x)


class Values(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(3, 2)
        self.register_buffer("offset", torch.tensor([0.5, -0.5]))

    def forward(self, x: Tensor, xs: List[Tensor], d: Dict[str, Tensor], scale: float, n: int, flag: bool,
                name: str) -> Tuple[Tensor, Dict[str, Tensor], List[int], str, float, bool, Optional[Tensor]]:
        y = self.linear(x) * scale + self.offset
        out: Dict[str, Tensor] = {}
        for k, v in d.items():
            out[k + "_sum"] = v.sum(0)
        s = torch.stack(xs).sum(0)
        return y, out, [n, n + 1], name + "!", scale * 2.0, not flag, s if flag else None

    @torch.jit.export
    def describe(self, pair: Tuple[int, str], ks: List[str]) -> Dict[str, int]:
        r: Dict[str, int] = {}
        for k in ks:
            r[k] = pair[0] + len(k) + len(pair[1])
        return r

    @torch.jit.export
    def fail(self, x: Tensor) -> Tensor:
        return x.view(7, 3)


class TupleDict(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(3, 3)

    def forward(self, x):
        y = self.linear(x)
        return y * 2, {"a": y + 1, "b": y.sum(1)}


def flat(t):
    return t.detach().double().reshape(-1).tolist()


def finetune(path, ids, lengths, target, make_opt):
    """One training step on a freshly loaded module, as Go repeats it."""
    m = torch.jit.load(path)
    m.train()
    opt = make_opt(m.parameters())
    opt.zero_grad()
    loss = F.cross_entropy(m(ids, lengths), target)
    loss.backward()
    grads = {n: flat(p.grad) for n, p in m.named_parameters()}
    opt.step()
    return {"loss": loss.item(), "params": {n: flat(p) for n, p in m.named_parameters()}, "grads": grads}


# The serving fixture: a spam classifier over a few messages.
TRAIN = [
    ("WINNER!! You have won a FREE prize, call 09061701461 now", 1),
    ("Free entry to win cash, text WIN to 87121", 1),
    ("URGENT! Claim your free prize now, call now", 1),
    ("Congratulations you won a free holiday, claim now", 1),
    ("You have been selected for a cash prize, txt CLAIM", 1),
    ("win a free phone now, call 08001234567", 1),
    ("see you at dinner tonight", 0),
    ("I'll be home late, can you pick up milk", 0),
    ("are we still meeting for lunch tomorrow?", 0),
    ("ok thanks, talk to you later", 0),
    ("Sorry I missed your call, call you back soon", 0),
    ("happy birthday! hope you have a great day", 0),
]
MESSAGES = [
    "WINNER! claim your FREE cash prize now",
    "see you at lunch",
    "call now to win a free holiday",
    "can you call me back later?",
    "free free free",
    "thanks, see you tomorrow",
    "txt WIN to 87121 for a prize",
    "I missed the bus, home late",
]


def classifier(out):
    torch.manual_seed(1)
    docs = [tokenize(m) for m, _ in TRAIN]
    counts = {}
    for d in docs:
        for t in d:
            counts[t] = counts.get(t, 0) + 1
    vocab = ["<pad>", "<unk>"] + sorted(counts, key=lambda t: (-counts[t], t))
    index = {t: i for i, t in enumerate(vocab)}

    def encode(toks):
        return [index.get(t, 1) for t in toks] or [1]

    def batch(rows):
        T = max(len(r) for r in rows)
        ids = torch.zeros(len(rows), T, dtype=torch.int64)
        for i, r in enumerate(rows):
            ids[i, :len(r)] = torch.tensor(r)
        return ids, torch.tensor([len(r) for r in rows])

    model = LSTMClassifier(len(vocab), 8, 8, 2)
    ids, lengths = batch([encode(d) for d in docs])
    y = torch.tensor([l for _, l in TRAIN])
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(40):
        opt.zero_grad()
        F.cross_entropy(model(ids, lengths), y).backward()
        opt.step()
    model.eval()
    sm = torch.jit.script(model)
    sm.save(os.path.join(out, "classifier.pt"))
    with open(os.path.join(out, "vocab.txt"), "w") as f:
        f.write("\n".join(vocab) + "\n")
    labels, probs = [], []
    with torch.no_grad():
        for msg in MESSAGES:  # one at a time: no padding at all
            i, l = batch([encode(tokenize(msg))])
            p = F.softmax(sm(i, l), dim=1)[0]
            labels.append(["ham", "spam"][int(p.argmax())])
            probs.append(p.double().tolist())
    return {"messages": MESSAGES, "labels": labels, "probs": probs}


def main(out):
    torch.manual_seed(0)
    torch.set_num_threads(1)
    exp = {}

    # LSTM classifier with packing, scripted and traced.
    model = LSTMClassifier(20, 5, 7, 3).eval()
    ids = torch.tensor([[3, 4, 5, 6, 0], [7, 8, 0, 0, 0], [9, 10, 11, 12, 13], [14, 0, 0, 0, 0]])
    lengths = torch.tensor([4, 2, 5, 1])
    with torch.no_grad():
        logits = model(ids, lengths)
    torch.jit.script(model).save(os.path.join(out, "lstm_script.pt"))
    core = LSTMCore(20, 5, 7, 3).eval()
    core.load_state_dict(model.state_dict())
    with torch.no_grad():
        torch.jit.trace(core, (ids, lengths), check_trace=False).save(os.path.join(out, "lstm_trace.pt"))
    torch.save(model.state_dict(), os.path.join(out, "state_dict.pt"))
    exp["lstm"] = {"ids": flat(ids), "ids_shape": list(ids.shape), "lengths": flat(lengths),
                   "logits": flat(logits), "logits_shape": list(logits.shape),
                   "predict": flat(logits.argmax(1)),
                   "params": [n for n, _ in model.named_parameters()]}

    target = torch.tensor([0, 2, 1, 2])
    path = os.path.join(out, "lstm_script.pt")
    exp["finetune"] = {
        "target": flat(target),
        "sgd": finetune(path, ids, lengths, target, lambda p: torch.optim.SGD(p, lr=0.5, momentum=0.9)),
        "adam": finetune(path, ids, lengths, target, lambda p: torch.optim.Adam(p, lr=0.01)),
    }

    # GRU, scripted (optional h0) and traced.
    gru = GRUNet().eval()
    x = torch.randn(3, 5, 4)
    h0 = torch.randn(2, 3, 6)
    with torch.no_grad():
        o1, h1 = gru(x)
        o2, h2 = gru(x, h0)
    torch.jit.script(gru).save(os.path.join(out, "gru_script.pt"))
    with torch.no_grad():
        torch.jit.trace(GRUTrace(gru).eval(), (x,)).save(os.path.join(out, "gru_trace.pt"))
    exp["gru"] = {"x": flat(x), "x_shape": list(x.shape), "h0": flat(h0), "h0_shape": list(h0.shape),
                  "out": flat(o1), "out_shape": list(o1.shape), "h_n": flat(h1), "h_n_shape": list(h1.shape),
                  "out_h0": flat(o2), "h_n_h0": flat(h2)}

    # Values in and out.
    vm = torch.jit.script(Values().eval())
    vm.save(os.path.join(out, "values_script.pt"))
    vx = torch.randn(2, 3)
    xs = [torch.randn(2), torch.randn(2)]
    d = {"p": torch.randn(3, 2), "q": torch.randn(4, 2)}
    with torch.no_grad():
        y, od, ints, s, f, b, opt = vm(vx, xs, d, 1.5, 7, True, "hi")
        _, _, _, _, _, b2, opt2 = vm(vx, xs, d, 1.5, 7, False, "hi")
    exp["values"] = {"x": flat(vx), "xs": [flat(t) for t in xs], "d": {k: flat(v) for k, v in d.items()},
                     "y": flat(y), "dict": {k: flat(v) for k, v in od.items()}, "ints": ints, "str": s,
                     "float": f, "bool": b, "opt": flat(opt), "bool2": b2, "opt2_is_none": opt2 is None,
                     "describe": vm.describe((3, "ab"), ["x", "yyy"])}

    td = TupleDict().eval()
    with torch.no_grad():
        tr = torch.jit.trace(td, (vx,), strict=False)
        tr.save(os.path.join(out, "tupledict_trace.pt"))
        a, dd = td(vx)
    exp["tupledict"] = {"x": flat(vx), "a": flat(a), "dict": {k: flat(v) for k, v in dd.items()}}

    exp["classifier"] = classifier(out)
    exp["torch_version"] = torch.__version__
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(exp, f)


def check(path, ids_json):
    torch.set_num_threads(1)
    with open(ids_json) as f:
        inp = json.load(f)
    m = torch.jit.load(path).eval()
    ids = torch.tensor(inp["ids"]).reshape(inp["ids_shape"])
    with torch.no_grad():
        print(json.dumps(flat(m(ids, torch.tensor(inp["lengths"])))))


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "check":
        check(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 2:
        main(sys.argv[1])
    else:
        sys.exit(__doc__)
