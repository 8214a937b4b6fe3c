#!/usr/bin/env bash
# One SMS training epoch in Go (train/loop + models/smsrnn) vs the equivalent PyTorch script
# (scripts/sms_ref.py) on the same libtorch, one thread each, alternating rounds.
# Usage: scripts/bench_sms.sh [--cell rnn|lstm|gru] [--bidirectional] [--rounds N] [--threads N]
set -euo pipefail
cd "$(dirname "$0")/.."
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
export SEQTORCH_MIRROR="${SEQTORCH_MIRROR:-$(cd .. && pwd)/shared/data}"
exec go run ./scripts/smsbench "$@"
