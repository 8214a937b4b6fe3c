"""The PyTorch side of scripts/testdata/nnuser/main.go: torch.manual_seed(1), then
nn.MultiheadAttention(16, 4, batch_first=True) on fixed inputs, with a key padding mask;
prints the output and the attention weights as JSON."""
import json
import math

import torch
import torch.nn as nn

torch.manual_seed(1)
mha = nn.MultiheadAttention(16, 4, batch_first=True)
x = torch.tensor([math.sin(0.1 * i) for i in range(2 * 5 * 16)]).reshape(2, 5, 16)
mask = torch.tensor([[False] * 5, [False, False, False, True, True]])
out, w = mha(x, x, x, key_padding_mask=mask)
print(json.dumps({"out": out.detach().flatten().tolist(), "weights": w.detach().flatten().tolist()}))
