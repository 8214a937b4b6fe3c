#!/usr/bin/env python3
"""PyTorch side of seqtorch's parity suite (run by `go run ./scripts/parity`).

Usage: parity_ref.py DIR
       parity_ref.py --ddp-rank CASE_DIR RANK PARENT_PID   (a rank of a "ddp" case; internal)

Every subdirectory of DIR holding a spec.json is a case written by the Go runner:
spec.json is {"kind": ..., "args": {...}} and in.pt a dict of tensors (torch.save format).
The handler registered for the kind (called with the args, plus "_dir", the case's
directory, and the inputs) computes PyTorch's results, saved as out.pt (a dict of
tensors); a failing case gets error.txt with the traceback instead, and the others go on.

Adding a kind: write a function f(args, inp) -> dict of tensors and decorate it with
@handler("kind"). Keep it to plain PyTorch, written as a PyTorch user would.
"""
import json
import os
import sys
import traceback

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

# The reference computes the LSTM equations, as seqtorch does: oneDNN off, because libtorch 2.x
# runs an LSTM's no-grad CPU forward through oneDNN, which Debian 13's PyTorch 2.6 (oneDNN 3.7.2)
# gets wrong by up to 0.3 (see st_init in torch/csrc/shim.cpp). No effect on 1.13.
torch.backends.mkldnn.enabled = False

HANDLERS = {}


def handler(kind):
    def deco(f):
        HANDLERS[kind] = f
        return f
    return deco


def grad_of(t):
    return t.grad if t.grad is not None else torch.zeros_like(t)


# ---- optimizers -------------------------------------------------------------------------

def linear_loss(inp, W, b):
    """The small linear-model loss the optimizer cases minimise."""
    return F.mse_loss(F.linear(inp["x"], W, b), inp["y"])


def make_optimizer(name, params, o):
    if name == "sgd":
        return torch.optim.SGD(params, lr=o["lr"], momentum=o.get("momentum", 0),
                               dampening=o.get("dampening", 0), weight_decay=o.get("weight_decay", 0),
                               nesterov=o.get("nesterov", False), foreach=False)
    if name == "adam":
        return torch.optim.Adam(params, lr=o.get("lr", 1e-3), betas=(float(o.get("beta1", 0.9)), float(o.get("beta2", 0.999))),
                                eps=o.get("eps", 1e-8), weight_decay=o.get("weight_decay", 0),
                                amsgrad=o.get("amsgrad", False), foreach=False)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=o.get("lr", 1e-3), betas=(float(o.get("beta1", 0.9)), float(o.get("beta2", 0.999))),
                                 eps=o.get("eps", 1e-8), weight_decay=o.get("weight_decay", 1e-2),
                                 amsgrad=o.get("amsgrad", False), foreach=False)
    if name == "adadelta":
        return torch.optim.Adadelta(params, lr=o.get("lr", 1.0), rho=o.get("rho", 0.9), eps=o.get("eps", 1e-6),
                                    weight_decay=o.get("weight_decay", 0), foreach=False)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=o.get("lr", 1e-2), alpha=o.get("alpha", 0.99), eps=o.get("eps", 1e-8),
                                   weight_decay=o.get("weight_decay", 0), momentum=o.get("momentum", 0),
                                   centered=o.get("centered", False), foreach=False)
    if name == "adagrad":
        return torch.optim.Adagrad(params, lr=o.get("lr", 1e-2), lr_decay=o.get("lr_decay", 0),
                                   weight_decay=o.get("weight_decay", 0),
                                   initial_accumulator_value=o.get("initial_accumulator_value", 0),
                                   eps=o.get("eps", 1e-10), foreach=False)
    raise ValueError("unknown optimizer %r" % name)


def group_options(o):
    """A case's per-group options (JSON names) as PyTorch's param-group keys."""
    g = {k: v for k, v in o.items() if k not in ("params", "beta1", "beta2")}
    if "beta1" in o or "beta2" in o:
        g["betas"] = (float(o.get("beta1", 0.9)), float(o.get("beta2", 0.999)))
    return g


# Param-group keys seqtorch's optimizers do not have (PyTorch implementation switches).
GROUP_KEYS_SKIPPED = {"maximize", "foreach", "capturable", "differentiable", "fused"}


def flat_optimizer_state(opt):
    """opt.state_dict() flattened as Go's Optimizer.StateDict names it."""
    out = {}
    sd = opt.state_dict()
    for idx, st in sd["state"].items():
        for k, v in st.items():
            if v is None:  # SGD without momentum keeps momentum_buffer = None
                continue
            out["state.%d.%s" % (idx, k)] = v.clone() if torch.is_tensor(v) else torch.tensor(v)
    for g, group in enumerate(sd["param_groups"]):
        for k, v in group.items():
            if k in GROUP_KEYS_SKIPPED:
                continue
            name = "param_groups.%d.%s" % (g, k)
            if k == "params":
                out[name] = torch.tensor(v, dtype=torch.int64)
            elif isinstance(v, bool):
                out[name] = torch.tensor(v)
            else:
                out[name] = torch.tensor(v, dtype=torch.float64)
    return out


@handler("optim")
def optim_case(args, inp):
    W = inp["W"].clone().requires_grad_()
    b = inp["b"].clone().requires_grad_()
    unused = inp["u"].clone().requires_grad_()  # never gets a gradient: skipped
    params = [W, b, unused]
    if args.get("groups"):  # parameter groups with their own options
        named = {"W": W, "b": b, "u": unused}
        groups = [dict(group_options(g), params=[named[n] for n in g["params"]]) for g in args["groups"]]
        opt = make_optimizer(args["opt"], groups, args["options"])
    else:
        opt = make_optimizer(args["opt"], params, args["options"])
    sched = None
    if args.get("step_lr"):
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=args["step_lr"]["step_size"],
                                                gamma=args["step_lr"]["gamma"])
    out = {}
    for k in range(args["steps"]):
        opt.zero_grad()
        loss = linear_loss(inp, W, b)
        loss.backward()
        if args.get("clip"):
            out["norm%d" % k] = torch.nn.utils.clip_grad_norm_(params, args["clip"]).clone()
        opt.step()
        if sched is not None:
            sched.step()
        out["loss%d" % k] = loss.detach().clone()
        out["W%d" % k] = W.detach().clone()
        out["b%d" % k] = b.detach().clone()
    out["u"] = unused.detach().clone()
    out.update(flat_optimizer_state(opt))
    return out


@handler("clip")
def clip_case(args, inp):
    W = inp["W"].clone().requires_grad_()
    b = inp["b"].clone().requires_grad_()
    unused = inp["u"].clone().requires_grad_()
    linear_loss(inp, W, b).backward()
    total = torch.nn.utils.clip_grad_norm_([W, b, unused], args["max_norm"])
    return {"total_norm": total, "grad.W": W.grad, "grad.b": b.grad}


# ---- learning-rate schedulers -------------------------------------------------------------

LR_LAMBDAS = {
    "pow": lambda a: (lambda epoch: a ** epoch),
    "inv": lambda a: (lambda epoch: 1.0 / (1.0 + a * epoch)),
    "warmup": lambda a: (lambda epoch: min(1.0, (epoch + 1) / a)),
}


def make_scheduler(spec, opt):
    S = torch.optim.lr_scheduler
    name, kw = spec["sched"], spec.get("kw", {})
    if name == "lambdalr":
        fns = [LR_LAMBDAS[l["kind"]](l["a"]) for l in spec["lambdas"]]
        return S.LambdaLR(opt, fns[0] if len(fns) == 1 else fns)
    if name == "sequentiallr":
        return S.SequentialLR(opt, [make_scheduler(s, opt) for s in spec["seq"]], milestones=spec["milestones"])
    cls = {"steplr": S.StepLR, "multisteplr": S.MultiStepLR, "exponentiallr": S.ExponentialLR,
           "cosineannealinglr": S.CosineAnnealingLR, "linearlr": S.LinearLR, "onecyclelr": S.OneCycleLR,
           "reducelronplateau": S.ReduceLROnPlateau}[name]
    kw = {k: (v[0] if isinstance(v, list) and len(v) == 1 and k != "milestones" else v) for k, v in kw.items()}
    return cls(opt, **kw)


# The scheduler state-dict entries the cases compare (seqtorch names its entries as these).
SCHED_KEYS = ("last_epoch", "_step_count", "base_lrs", "_last_lr", "_milestones", "total_steps",
              "best", "num_bad_epochs", "cooldown_counter")


def flat_scheduler_state(sd, prefix="sd."):
    out = {}
    for k in SCHED_KEYS:
        if k in sd:
            v = sd[k]
            out[prefix + k] = torch.tensor(v, dtype=torch.int64 if isinstance(v, int) or (
                isinstance(v, list) and all(isinstance(x, int) for x in v)) else torch.float64)
    for i, sub in enumerate(sd.get("_schedulers", [])):
        out.update(flat_scheduler_state(sub, "%s_schedulers.%d." % (prefix, i)))
    return out


@handler("lr_scheduler")
def lr_scheduler_case(args, inp):
    """Steps a scheduler over two parameter groups, saving and loading optimizer and scheduler
    state dicts into fresh ones at step save_at, and records every group's lr after each step
    (and momentum or beta1 where the case asks)."""
    def build():
        ps = [inp["p0"].clone().requires_grad_(), inp["p1"].clone().requires_grad_()]
        groups = [{"params": [p], "lr": lr} for p, lr in zip(ps, args["lrs"])]
        opt = make_optimizer(args["opt"], groups, args["options"])
        return opt, make_scheduler(args, opt)

    opt, sched = build()
    out = {}

    def record(k):
        out["lr%d" % k] = torch.tensor([g["lr"] for g in opt.param_groups], dtype=torch.float64)
        if args.get("momentum"):
            out["momentum%d" % k] = torch.tensor([g["betas"][0] if "betas" in g else g["momentum"]
                                                  for g in opt.param_groups], dtype=torch.float64)

    record(0)
    metrics = args.get("metrics")
    for k in range(args["steps"]):
        if k == args.get("save_at"):
            osd, ssd = opt.state_dict(), sched.state_dict()
            opt, sched = build()
            opt.load_state_dict(osd)
            sched.load_state_dict(ssd)
        opt.step()
        if metrics:
            sched.step(metrics[k])
        else:
            sched.step()
        record(k + 1)
    out.update(flat_scheduler_state(sched.state_dict()))
    return out


# ---- losses -------------------------------------------------------------------------------

@handler("loss")
def loss_case(args, inp):
    x = {k: v.clone() for k, v in inp.items()}
    for k in args["grad"]:
        x[k].requires_grad_()
    fn, red = args["fn"], args.get("reduction", "mean")
    if fn == "cross_entropy":
        loss = F.cross_entropy(x["input"], x["target"], weight=x.get("weight"),
                               ignore_index=args.get("ignore_index", -100), reduction=red,
                               label_smoothing=args.get("label_smoothing", 0.0))
    elif fn == "nll":
        loss = F.nll_loss(F.log_softmax(x["input"], dim=1), x["target"], weight=x.get("weight"),
                          ignore_index=args.get("ignore_index", -100), reduction=red)
    elif fn == "mse":
        loss = F.mse_loss(x["input"], x["target"], reduction=red)
    elif fn == "l1":
        loss = F.l1_loss(x["input"], x["target"], reduction=red)
    elif fn == "bce_logits":
        loss = F.binary_cross_entropy_with_logits(x["input"], x["target"], weight=x.get("weight"),
                                                  pos_weight=x.get("pos_weight"), reduction=red)
    elif fn == "triplet":
        loss = F.triplet_margin_loss(x["anchor"], x["positive"], x["negative"], margin=args["margin"],
                                     p=2, eps=1e-6, swap=args.get("swap", False), reduction=red)
    elif fn == "contrastive":
        # As the seed's Siamese model writes it: Euclidean distance, y = 1 for similar pairs.
        d = F.pairwise_distance(x["a"], x["b"])
        m = args["margin"]
        per = x["y"] * d + (1 - x["y"]) * torch.clamp(m - d, min=0.0)
        loss = {"mean": torch.mean, "sum": torch.sum, "none": lambda t: t}[red](per)
    else:
        raise ValueError("unknown loss %r" % fn)
    if loss.dim() > 0:  # an unreduced loss: weight it with the first elements of gw
        (loss * x["gw"][:loss.numel()].view(loss.shape)).sum().backward()
    else:
        loss.backward()
    out = {"loss": loss.detach()}
    for k in args["grad"]:
        out["grad." + k] = grad_of(x[k])
    return out


# ---- modules ------------------------------------------------------------------------------

@handler("embedding")
def embedding_case(args, inp):
    w = inp["weight"]
    emb = nn.Embedding(w.shape[0], w.shape[1], padding_idx=args.get("padding_idx"))
    emb.load_state_dict({"weight": w}, strict=True)
    out = emb(inp["idx"])
    (out * inp["gw"]).sum().backward()
    return {"out": out.detach(), "grad.weight": emb.weight.grad}


def make_rnn(a):
    cls = {"RNN_TANH": nn.RNN, "RNN_RELU": nn.RNN, "LSTM": nn.LSTM, "GRU": nn.GRU}[a["mode"]]
    kw = dict(num_layers=a["layers"], bias=not a.get("no_bias", False), batch_first=a["batch_first"],
              bidirectional=a["bidirectional"])
    if cls is nn.RNN:
        kw["nonlinearity"] = "relu" if a["mode"] == "RNN_RELU" else "tanh"
    return cls(a["input_size"], a["hidden_size"], **kw)


def build_module(spec):
    """Modules described by Go: {"type": ..., ...}."""
    t = spec["type"]
    if t in ("RNN_TANH", "RNN_RELU", "LSTM", "GRU"):
        return make_rnn(spec)
    if t == "Linear":
        return nn.Linear(spec["in"], spec["out"], bias=not spec.get("no_bias", False))
    if t == "Embedding":
        return nn.Embedding(spec["num"], spec["dim"], padding_idx=spec.get("padding_idx"))
    if t == "RefRNN":
        return RefRNN(spec["input_dim"], spec["hidden_dim"], spec["num_layers"])
    raise ValueError("unknown module type %r" % t)


# ---- the generated ATen surface (scripts/internal/parity/cases/aten.go) ------------------

def flat_results(r, out):
    if isinstance(r, torch.Tensor):
        out.append(r)
    elif isinstance(r, (list, tuple)):
        for e in r:
            flat_results(e, out)
    elif isinstance(r, bool):
        out.append(torch.tensor(float(r), dtype=torch.float64))
    elif isinstance(r, (int, float)):
        out.append(torch.tensor(float(r), dtype=torch.float64))
    elif r is not None:
        raise TypeError("unexpected result type %s" % type(r))


@handler("aten")
def aten_case(args, inp):
    """One operator by schema name on float64 inputs, as torch.ops.aten.NAME.OVERLOAD; every
    input is a leaf requiring grad and the op gets a copy (so in-place ops are differentiable);
    gradients of the sum of the floating-point outputs with respect to the inputs."""
    fn = getattr(getattr(torch.ops.aten, args["name"]), args["overload"] or "default")
    leaves = {k: v.clone().requires_grad_(True) for k, v in inp.items()}
    call, kwargs = [], {}
    for a in args["args"]:
        if a.get("none"):
            v = None
        elif "t" in a:
            v = leaves[a["t"]].clone()
        elif "tl" in a:
            v = [leaves[n].clone() for n in a["tl"]]
        elif "dtype" in a:
            v = getattr(torch, a["dtype"])
        else:
            v = a["v"]
        if a.get("kw"):
            kwargs[a["name"]] = v
        else:
            call.append(v)
    outs = []
    flat_results(fn(*call, **kwargs), outs)
    res = {"nout": torch.tensor(float(len(outs)), dtype=torch.float64)}
    for i, o in enumerate(outs):
        res["out%d" % i] = o.detach().clone()
    loss = None
    for o in outs:
        if o.dtype == torch.float64 and o.requires_grad:
            loss = o.sum() if loss is None else loss + o.sum()
    if loss is not None:
        names = list(leaves)
        try:
            grads = torch.autograd.grad(loss, [leaves[n] for n in names], allow_unused=True)
        except RuntimeError:
            grads = None  # not differentiable: Go does not backpropagate either
        if grads is not None:
            res["hasgrad"] = torch.tensor(1.0, dtype=torch.float64)
            for n, g in zip(names, grads):
                if g is not None:
                    res["grad_" + n] = g.detach().clone()
    return res


@handler("inplace")
def inplace_case(args, inp):
    """An in-place chain on a non-leaf tensor, recorded by autograd."""
    x = inp["x"].clone().requires_grad_(True)
    z = inp["z"].clone().requires_grad_(True)
    mask = x > 0.5
    y = x * 2
    for op in args["ops"]:
        if op == "mul_":
            y.mul_(3)
        elif op == "mul_tensor_":
            y.mul_(z)
        elif op == "add_":
            y.add_(z, alpha=0.5)
        elif op == "masked_fill_":
            y.masked_fill_(mask, 0.25)
        elif op == "clamp_":
            y.clamp_(0.3, 1.5)
        else:
            raise ValueError("unknown in-place op %r" % op)
    (y * inp["w"]).sum().backward()
    return {"y": y.detach().clone(), "x.grad": grad_of(x), "z.grad": grad_of(z)}


@handler("init")
def init_case(args, inp):
    torch.manual_seed(args["seed"])
    out = {}
    for i, spec in enumerate(args["modules"]):
        m = build_module(spec)
        for k, v in m.state_dict().items():
            out["%d.%s" % (i, k)] = v.clone()
    return out


@handler("rnn")
def rnn_case(args, inp):
    m = make_rnn(args)
    m.load_state_dict({k[len("param."):]: v for k, v in inp.items() if k.startswith("param.")}, strict=True)
    x = inp["x"].clone().requires_grad_()
    h0 = inp["h0"].clone().requires_grad_()
    lstm = args["mode"] == "LSTM"
    hx = h0
    if lstm:
        c0 = inp["c0"].clone().requires_grad_()
        hx = (h0, c0)
    if args["packed"]:
        p = pack_padded_sequence(x, inp["lengths"], batch_first=args["batch_first"], enforce_sorted=False)
        out_p, hn = m(p, hx)
        out, lengths = pad_packed_sequence(out_p, batch_first=args["batch_first"])
    else:
        out, hn = m(x, hx)
    if lstm:
        hn, cn = hn
    loss = (out * inp["W"]).sum() + (hn * inp["V"]).sum()
    if lstm:
        loss = loss + (cn * inp["Vc"]).sum()
    loss.backward()
    res = {"out": out.detach(), "hn": hn.detach(), "grad.x": grad_of(x), "grad.h0": grad_of(h0)}
    if lstm:
        res["cn"] = cn.detach()
        res["grad.c0"] = grad_of(c0)
    for name, p in m.named_parameters():
        res["grad." + name] = grad_of(p)
    return res


class RefRNN(nn.Module):
    """The seed's reference class, as written there."""

    def __init__(self, input_dim, hidden_dim, num_layers):
        super(RefRNN, self).__init__()
        self.hidden_dim = hidden_dim
        self.num_layers = num_layers
        self.rnn = nn.RNN(input_dim, hidden_dim, num_layers, batch_first=True)
        self.linear_out = nn.Linear(hidden_dim, 1)

    def forward(self, x):
        h0 = torch.zeros(self.num_layers, x.size(0), self.hidden_dim)
        out, hn = self.rnn(x, h0)
        out = self.linear_out(out[:, -1, :])
        return out


@handler("refmodel")
def refmodel_case(args, inp):
    model = RefRNN(args["input_dim"], args["hidden_dim"], args["num_layers"])
    model.load_state_dict({k[len("param."):]: v for k, v in inp.items() if k.startswith("param.")}, strict=True)
    criterion = nn.BCEWithLogitsLoss()
    opt = torch.optim.Adam(model.parameters(), lr=args["lr"], foreach=False)
    x = inp["x"].clone().requires_grad_()
    res = {}
    for k in range(args["steps"]):
        opt.zero_grad()
        out = model(x)
        loss = criterion(out, inp["y"])
        loss.backward()
        if k == 0:
            res["out"] = out.detach().clone()
            res["grad.x"] = grad_of(x).clone()
            for name, p in model.named_parameters():
                res["grad." + name] = p.grad.clone()
        res["loss%d" % k] = loss.detach().clone()
        opt.step()
        for name, p in model.named_parameters():
            res["step%d.%s" % (k, name)] = p.detach().clone()
    return res


@handler("statedict")
def statedict_case(args, inp):
    """Load the Go-written state dict strictly, save model.state_dict() again."""
    model = nn.ModuleDict({name: build_module(spec) for name, spec in args["modules"]})
    sd = torch.load(os.path.join(args["_dir"], args["path"]))
    model.load_state_dict(sd, strict=True)
    torch.save(model.state_dict(), os.path.join(args["_dir"], args["out_path"]))
    return {k: v.clone() for k, v in model.state_dict().items()}


# ---- data-parallel training ---------------------------------------------------------------

class DDPClassifier(nn.Module):
    """The ddp cases' model: embedded tokens, a bidirectional LSTM over packed sequences, and a
    linear layer over the final hidden states of both directions."""

    def __init__(self, vocab, dim, hidden, classes):
        super().__init__()
        self.embedding = nn.Embedding(vocab, dim, padding_idx=0)
        self.lstm = nn.LSTM(dim, hidden, batch_first=True, bidirectional=True)
        self.linear = nn.Linear(2 * hidden, classes)

    def forward(self, tokens, lengths):
        x = self.embedding(tokens)
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        _, (hn, _) = self.lstm(packed)
        return self.linear(torch.cat([hn[-2], hn[-1]], dim=1))


def _loopback_interface():
    """The loopback interface's name (for GLOO_SOCKET_IFNAME), or None."""
    import socket
    try:
        names = [n for _, n in socket.if_nameindex()]
    except (AttributeError, OSError):
        return None
    for n in ("lo", "lo0"):
        if n in names:
            return n
    return None


def _tail(path, n=2000):
    try:
        with open(path, errors="replace") as f:
            text = f.read().strip()
    except OSError as e:
        return "(no output: %s)" % e
    return text if len(text) <= n else "..." + text[-n:]


@handler("ddp")
def ddp_case(args, inp):
    """Trains DDPClassifier with DistributedDataParallel on args["world"] processes (this script
    re-run with --ddp-rank), Gloo meeting through a FileStore in the case's directory; returns
    rank 0's final state_dict and its loss at every step. A rank that fails stops the others;
    all are killed after args["timeout_s"] seconds."""
    import subprocess
    import time
    d, world = args["_dir"], args["world"]
    store = os.path.join(d, "pt_store")
    for p in [store] + [os.path.join(d, "py_rank%d.pt" % r) for r in range(world)]:
        if os.path.exists(p):
            os.remove(p)
    env = dict(os.environ)
    if "GLOO_SOCKET_IFNAME" not in env and _loopback_interface():
        env["GLOO_SOCKET_IFNAME"] = _loopback_interface()  # no listening on other interfaces
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    procs, logs = [], []
    try:
        for r in range(world):
            logs.append(os.path.join(d, "py_rank%d.log" % r))
            with open(logs[r], "w") as log:
                procs.append(subprocess.Popen(
                    [sys.executable, os.path.abspath(__file__), "--ddp-rank", d, str(r), str(os.getpid())],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=d, env=env))
        deadline = time.monotonic() + args.get("timeout_s", 120)
        while True:
            codes = [p.poll() for p in procs]
            failed = [r for r, c in enumerate(codes) if c not in (None, 0)]
            if failed:
                r = failed[0]
                lines = _tail(logs[r]).splitlines() or [""]
                running = [q for q, c in enumerate(codes) if c is None]
                also = " (ranks %s still running)" % running if running else ""
                raise RuntimeError("%s\nPyTorch rank %d of %d exited with status %d%s: %s"
                                   % ("\n".join(lines), r, world, codes[r], also, lines[-1]))
            if all(c == 0 for c in codes):
                break
            if time.monotonic() > deadline:
                running = [r for r, c in enumerate(codes) if c is None]
                raise RuntimeError("PyTorch ranks %s of %d still running after %d s: killed"
                                   % (running, world, args.get("timeout_s", 120)))
            time.sleep(0.02)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait()
    return torch.load(os.path.join(d, "py_rank0.pt"))


def _die_with_parent(parent):
    """Asks Linux to kill this process when the parity_ref.py that started it dies."""
    try:
        import ctypes
        import signal
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (AttributeError, OSError):
        pass
    if os.getppid() != parent:
        sys.exit("parent %d exited before the rank started" % parent)


def ddp_rank(d, rank, parent):
    """One PyTorch rank of a ddp case (see ddp_case)."""
    import datetime
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel as DDP
    _die_with_parent(parent)
    torch.set_num_threads(1)
    torch.backends.mkldnn.enabled = False  # as at the top of this script
    with open(os.path.join(d, "spec.json")) as f:
        args = json.load(f)["args"]
    inp = torch.load(os.path.join(d, "in.pt"))
    world = args["world"]
    dist.init_process_group("gloo", init_method="file://" + os.path.join(d, "pt_store"), rank=rank,
                            world_size=world, timeout=datetime.timedelta(seconds=60))
    try:
        model = DDPClassifier(args["vocab"], args["dim"], args["hidden"], args["classes"])
        prefix = "rank%d." % rank
        model.load_state_dict({k[len(prefix):]: v for k, v in inp.items() if k.startswith(prefix)}, strict=True)
        ddp = DDP(model)  # broadcasts rank 0's parameters
        opt = torch.optim.Adam(ddp.parameters(), lr=args["lr"], foreach=False)
        lo, b = rank * args["per_rank"], args["per_rank"]
        out = {}
        for k in range(args["steps"]):
            opt.zero_grad(set_to_none=True)
            logits = ddp(inp["tokens"][k, lo:lo + b], inp["lengths"][k, lo:lo + b])
            loss = F.cross_entropy(logits, inp["labels"][k, lo:lo + b])
            loss.backward()
            opt.step()
            out["loss%d" % k] = loss.detach().clone()
        if rank == 0:
            for name, v in model.state_dict().items():
                out[name] = v.detach().clone()
            tmp = os.path.join(d, "py_rank0.pt.tmp")
            torch.save(out, tmp)
            os.replace(tmp, os.path.join(d, "py_rank0.pt"))
    finally:
        dist.destroy_process_group()
    return 0


# ---- issue 26: cells, LayerNorm, Conv1d, attention, Transformer encoder, nn.init -----------
# (Go side: scripts/internal/parity/cases/nnlayers.go)

def build_module26(s):
    t = s["type"]
    if t in ("RNNCell", "LSTMCell", "GRUCell"):
        kw = {"bias": s["bias"]}
        if t == "RNNCell":
            kw["nonlinearity"] = s["nonlinearity"]
        return getattr(nn, t)(s["in"], s["hidden"], **kw)
    if t == "LayerNorm":
        kw = {"eps": s["eps"], "elementwise_affine": s["elementwise_affine"]}
        if not s["bias"]:
            if "bias" not in nn.LayerNorm.__init__.__code__.co_varnames:  # PyTorch < 2.1
                return LayerNormNoBias(s["shape"], s["eps"])
            kw["bias"] = False
        return nn.LayerNorm(s["shape"], **kw)
    if t == "Conv1d":
        return nn.Conv1d(s["in"], s["out"], s["kernel_size"], stride=s["stride"], padding=s["padding"],
                         dilation=s["dilation"], groups=s["groups"], bias=s["bias"], padding_mode=s["padding_mode"])
    if t == "MultiheadAttention":
        return nn.MultiheadAttention(s["embed_dim"], s["num_heads"], **s["kw"])
    if t == "TransformerEncoderLayer":
        return nn.TransformerEncoderLayer(s["d_model"], s["nhead"], **s["kw"])
    if t == "TransformerEncoder":
        layer = build_module26(s["layer"])
        norm = nn.LayerNorm(s["d_model"]) if s["norm"] else None
        return nn.TransformerEncoder(layer, s["num_layers"], norm=norm)
    if t == "Sequential":
        return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    raise ValueError("unknown module type %r" % t)


class LayerNormNoBias(nn.Module):
    """nn.LayerNorm(shape, eps, bias=False) for PyTorch < 2.1, which lacks the keyword."""

    def __init__(self, shape, eps):
        super().__init__()
        self.shape, self.eps = tuple(shape), eps
        self.weight = nn.Parameter(torch.ones(self.shape))

    def forward(self, x):
        return F.layer_norm(x, self.shape, self.weight, None, self.eps)


def forward26(m, call, kw, x):
    """The module call of an nnmod case; x holds the inputs by name (see forward26 in Go)."""
    if call == "layer":
        return {"out": m(x["x"])}
    if call == "rnncell":
        return {"h": m(x["x"], x.get("h"))}
    if call == "lstmcell":
        h, c = m(x["x"], (x["h"], x["c"]) if "h" in x else None)
        return {"h": h, "c": c}
    if call == "mha":
        q = x["query"]
        if kw.get("self"):
            k = v = q
        elif kw.get("kv_same"):
            k = v = x["key"]
        else:
            k, v = x["key"], x["value"]
        out, w = m(q, k, v, key_padding_mask=x.get("key_padding_mask"), need_weights=kw.get("need_weights", True),
                   attn_mask=x.get("attn_mask"), average_attn_weights=kw.get("average_attn_weights", True))
        r = {"out": out}
        if w is not None:
            r["weights"] = w
        return r
    if call == "encoder_layer":
        return {"out": m(x["x"], src_mask=x.get("mask"), src_key_padding_mask=x.get("src_key_padding_mask"))}
    if call == "encoder":
        return {"out": m(x["x"], mask=x.get("mask"), src_key_padding_mask=x.get("src_key_padding_mask"))}
    raise ValueError("unknown call %r" % call)


@handler("nnmod")
def nnmod_case(args, inp):
    if args["seeded"]:
        torch.manual_seed(args["seed"])
    m = build_module26(args["module"])
    if not args["seeded"]:
        m.load_state_dict({k[6:]: v for k, v in inp.items() if k.startswith("param.")}, strict=True)
    m.train(not args["eval"])
    x = {k[6:]: v.clone().requires_grad_(k[6:] in args["grad_inputs"])
         for k, v in inp.items() if k.startswith("input.")}
    if args["no_grad"]:
        with torch.no_grad():
            outs = forward26(m, args["call"], args["kw"], x)
        return {"out." + k: v for k, v in outs.items()}
    outs = forward26(m, args["call"], args["kw"], x)
    loss = sum((v * inp["g." + k]).sum() for k, v in sorted(outs.items()))
    loss.backward()
    res = {"out." + k: v.detach() for k, v in outs.items()}
    for k, p in m.named_parameters():
        res["grad." + k] = grad_of(p)
    for k in args["grad_inputs"]:
        res["grad.input." + k] = grad_of(x[k])
    return res


@handler("cellseq")
def cellseq_case(args, inp):
    """The full-sequence layer (nn.LSTM, nn.GRU, nn.RNN) holding a cell's weights."""
    mode = args["mode"]
    if mode.startswith("RNN"):
        m = nn.RNN(args["in"], args["hidden"], bias=args["bias"], nonlinearity="relu" if mode == "RNN_RELU" else "tanh")
    else:
        m = getattr(nn, mode)(args["in"], args["hidden"], bias=args["bias"])
    names = ["weight_ih", "weight_hh"] + (["bias_ih", "bias_hh"] if args["bias"] else [])
    m.load_state_dict({n + "_l0": inp[n] for n in names}, strict=True)
    x = inp["x"].clone().requires_grad_(True)
    h0 = inp["h0"].unsqueeze(0)
    if mode == "LSTM":
        out, (h, c) = m(x, (h0, inp["c0"].unsqueeze(0)))
    else:
        out, h = m(x, h0)
    loss = (out * inp["g.out"]).sum() + (h[0] * inp["g.h"]).sum()
    res = {"out": out.detach(), "h": h[0].detach()}
    if mode == "LSTM":
        loss = loss + (c[0] * inp["g.c"]).sum()
        res["c"] = c[0].detach()
    loss.backward()
    res["grad.x"] = grad_of(x)
    for n in names:
        res["grad." + n] = grad_of(getattr(m, n + "_l0"))
    return res


@handler("initfn")
def initfn_case(args, inp):
    torch.manual_seed(args["seed"])
    out = {}
    for i, c in enumerate(args["calls"]):
        t = nn.Parameter(torch.empty(c["shape"]))
        getattr(nn.init, c["fn"])(t, **(c["kw"] or {}))
        out["%d.%s" % (i, c["fn"])] = t.detach().clone()
        if t.dim() >= 2:
            fi, fo = nn.init._calculate_fan_in_and_fan_out(t)
            out["%d.fan_in" % i] = torch.tensor(float(fi), dtype=torch.float64)
            out["%d.fan_out" % i] = torch.tensor(float(fo), dtype=torch.float64)
    for i, g in enumerate(args["gains"]):
        out["gain.%d.%s" % (i, g["nonlinearity"])] = torch.tensor(
            float(nn.init.calculate_gain(g["nonlinearity"], g["param"])), dtype=torch.float64)
    return out


@handler("initmod26")
def initmod26_case(args, inp):
    torch.manual_seed(args["seed"])
    out = {}
    for i, spec in enumerate(args["modules"]):
        for k, v in build_module26(spec).state_dict().items():
            out["%d.%s" % (i, k)] = v.clone()
    return out


# ---- driver -------------------------------------------------------------------------------

def run_case(d):
    with open(os.path.join(d, "spec.json")) as f:
        spec = json.load(f)
    kind = spec["kind"]
    if kind not in HANDLERS:
        raise ValueError("no handler for kind %r (have %s)" % (kind, ", ".join(sorted(HANDLERS))))
    in_path = os.path.join(d, "in.pt")
    inp = torch.load(in_path) if os.path.exists(in_path) else {}
    args = spec.get("args") or {}
    args["_dir"] = d
    out = HANDLERS[kind](args, inp)
    out = {k: v.detach().clone().contiguous() for k, v in out.items()}
    torch.save(out, os.path.join(d, "out.pt"))


def main(argv):
    if len(argv) == 5 and argv[1] == "--ddp-rank":  # a rank started by ddp_case
        return ddp_rank(argv[2], int(argv[3]), int(argv[4]))
    if len(argv) != 2:
        print("usage: parity_ref.py DIR", file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    root = argv[1]
    with open(os.path.join(root, "_python.txt"), "w") as f:
        f.write("PyTorch %s, Python %s" % (torch.__version__, sys.version.split()[0]))
    for name in sorted(os.listdir(root)):
        d = os.path.join(root, name)
        if not os.path.isfile(os.path.join(d, "spec.json")):
            continue
        try:
            run_case(d)
        except Exception:
            with open(os.path.join(d, "error.txt"), "w") as f:
                f.write(traceback.format_exc())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
