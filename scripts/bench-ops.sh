#!/usr/bin/env bash
# Per-op overhead, Go vs Python, on the same libtorch and one thread, for the hand-written ops
# and for the generated path (typed wrappers over the boxed dispatcher call, torch/call.go):
# a 1-element add, a 64×80 · 80×80 matmul, log_softmax over a 64×80 matrix. Run from the repo
# root after `make libtorch`. Prints a Markdown table of medians over 3 alternating rounds.
set -euo pipefail
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
py=${SEQTORCH_PYTHON:-${TORCH_PYTHON:-/usr/bin/python3}} # modelparity.Python's rule
go test -c -o build/torch.test ./torch >/dev/null
declare -A goNs pyNs
for rep in 1 2 3; do # alternate Go and Python runs
  while read -r name ns; do goNs[$name]+="$ns "; done < <(
    build/torch.test -test.run '^$' -test.bench '^Benchmark(Add1|Add1Generated|Add1Call|Matmul64x80|Matmul64x80Generated|LogSoftmax|LogSoftmaxGenerated)$' -test.benchtime 1s |
      awk '/^Benchmark/ {sub(/^Benchmark/, "", $1); sub(/-[0-9]+$/, "", $1); print $1, $3}')
  while read -r name ns; do pyNs[$name]+="$ns "; done < <("$py" scripts/bench_ops.py 1)
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ratio() { echo "$1 / $2" | bc -l; }
echo "| op | hand-written ns/op | generated ns/op | generated / hand-written | Python ns/op | hand-written / Python | generated / Python |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for name in Add1 Matmul64x80 LogSoftmax; do
  h=$(echo "${goNs[$name]}" | median); g=$(echo "${goNs[${name}Generated]}" | median); p=$(echo "${pyNs[$name]}" | median)
  printf "| %s | %.0f | %.0f | %.2f | %.0f | %.2f | %.2f |\n" "$name" "$h" "$g" "$(ratio "$g" "$h")" "$p" "$(ratio "$h" "$p")" "$(ratio "$g" "$p")"
done
c=$(echo "${goNs[Add1Call]}" | median)
printf "\ntorch.Call(\"aten::add.Tensor\", x, y) (untyped): %.0f ns/op, %.2f × the hand-written Add\n" "$c" "$(ratio "$c" "$(echo "${goNs[Add1]}" | median)")"
