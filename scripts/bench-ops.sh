#!/usr/bin/env bash
# Per-op overhead, Go vs Python, on the same libtorch and one thread. Run from the repo root
# after `make libtorch`. Prints a Markdown table with the Go/Python ratio.
set -euo pipefail
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
py=${SEQTORCH_PYTHON:-${TORCH_PYTHON:-/usr/bin/python3}} # modelparity.Python's rule
go test -c -o build/torch.test ./torch >/dev/null
declare -A goNs pyNs
for rep in 1 2 3; do # alternate Go and Python runs
  while read -r name ns; do goNs[$name]+="$ns "; done < <(
    build/torch.test -test.run '^$' -test.bench 'Add1$|Matmul64x80' -test.benchtime 2s |
      awk '/^Benchmark/ {sub(/^Benchmark/, "", $1); sub(/-[0-9]+$/, "", $1); print $1, $3}')
  while read -r name ns; do pyNs[$name]+="$ns "; done < <("$py" scripts/bench_ops.py 1)
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "| op | Go ns/op | Python ns/op | Go/Python |"
echo "|---|---:|---:|---:|"
for name in Add1 Matmul64x80; do
  g=$(echo "${goNs[$name]}" | median); p=$(echo "${pyNs[$name]}" | median)
  printf "| %s | %.0f | %.0f | %.2f |\n" "$name" "$g" "$p" "$(echo "$g / $p" | bc -l)"
done
