"""PyTorch's repr of tensors, the reference for torch.Tensor.String (torch/print_test.go).

Reads a JSON list of cases on stdin, each
  {"name": str, "vals": [str, ...], "shape": [int, ...], "dtype": "float32", "grad": bool,
   "opts": {"precision": int, "threshold": int, "edgeitems": int, "linewidth": int,
            "sci_mode": null | bool}}
(values are strings so that nan and inf travel: "NaN", "+Inf", "-Inf"; opts may be absent),
builds each tensor as the Go test does (float64 values, reshaped, then converted to the dtype,
then requires_grad_ on the leaf), and writes a JSON object {name: repr(tensor)} on stdout.
"""

import json
import sys

import torch


def main():
    cases = json.load(sys.stdin)
    out = {}
    for c in cases:
        opts = c.get("opts") or {}
        torch.set_printoptions(profile="default")
        torch.set_printoptions(
            precision=opts.get("precision"),
            threshold=opts.get("threshold"),
            edgeitems=opts.get("edgeitems"),
            linewidth=opts.get("linewidth"),
            sci_mode=opts.get("sci_mode"),
        )
        vals = [float(v) for v in c["vals"]]
        t = torch.tensor(vals, dtype=torch.float64).reshape(c["shape"])
        t = t.to(getattr(torch, c["dtype"]))
        if c["grad"]:
            t.requires_grad_()
        out[c["name"]] = repr(t)
    torch.set_printoptions(profile="default")
    json.dump(out, sys.stdout, indent=0, sort_keys=True)


if __name__ == "__main__":
    main()
