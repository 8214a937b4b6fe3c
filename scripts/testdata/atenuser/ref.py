"""The PyTorch side of scripts/testdata/atenuser/main.go: the same steps, the same printed lines."""
import torch

x = torch.tensor([0.5, -1.25, 3, 2.75, 0])
v, i = torch.ops.aten.topk(x, 2)
print("topk", repr(v), repr(i))
v, i = x.topk(2, -1, True, True)
print("Topk", repr(v), repr(i))

a = torch.tensor([1.0, 2.0], requires_grad=True)
y = a * 2
y.mul_(3)
y.sum().backward()
print("grad", repr(a.grad))

try:
    a.mul_(3)
    print("leaf", "false", "")
except RuntimeError as e:
    print("leaf", "true", str(e).split("\n")[0])

print(repr(torch.tensor([1, 2.5, -3, 1e-4]).reshape(2, 2)))
print(repr(a))
