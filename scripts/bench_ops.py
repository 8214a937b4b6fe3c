"""Per-op overhead in PyTorch, the Python side of scripts/bench-ops.sh.

Prints one line per benchmark: name, nanoseconds per op (median of 5 runs).
"""
import statistics
import sys
import time

import torch


def bench(fn, n):
    times = []
    for _ in range(5):
        t0 = time.perf_counter_ns()
        for _ in range(n):
            fn()
        times.append((time.perf_counter_ns() - t0) / n)
    return statistics.median(times)


def main():
    torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
    x1, y1 = torch.tensor([1.0]), torch.tensor([2.0])
    torch.manual_seed(0)
    a, b = torch.randn(64, 80), torch.randn(80, 80)
    print("Add1 %.0f" % bench(lambda: x1 + y1, 200000))
    print("Matmul64x80 %.0f" % bench(lambda: torch.matmul(a, b), 20000))
    print("LogSoftmax %.0f" % bench(lambda: torch.log_softmax(a, 1), 20000))


if __name__ == "__main__":
    main()
