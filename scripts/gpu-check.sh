#!/usr/bin/env bash
# gpu-check.sh — prove seqtorch's CUDA path on an accelerator machine that has no Go and no
# network (but PyTorch with CUDA, g++, make, python3).
#
#   scripts/gpu-check.sh prepare   here, with Go: build the Go test binaries (go test -c) and
#                                  the command binaries into gpu-carry/ (git-ignored), with
#                                  the data files they need (from $SEQTORCH_MIRROR, default
#                                  ../shared/data), packed as gpu-carry/bin.tar.xz + data.tar.xz
#                                  (gzip when xz is missing).
#   scripts/gpu-check.sh run       there, from the repository root with gpu-carry/ beside it:
#                                  rebuild the shim against that machine's PyTorch
#                                  (TORCH_PYTHON=python3 make libtorch, no Go needed), run the
#                                  test binaries, the parity suite, a TorchScript module
#                                  loaded onto the GPU (jit step, below), and one training
#                                  epoch of each job with --device cuda beside its PyTorch
#                                  script on the same GPU; print a summary (also
#                                  gpu-carry/out/summary.md).
#   scripts/gpu-check.sh jit       the jit step alone, against the shim already in build/lib
#                                  and a prepared gpu-carry/: scripts/jit_ref.py writes its
#                                  TorchScript fixtures with this machine's PyTorch (the torch/jit
#                                  and train/jitserve test binaries of `run` share them through
#                                  SEQTORCH_JIT_FIXTURES), then the carried torch/jit test binary
#                                  loads lstm_script.pt with jit.Load(path, device) and compares
#                                  its logits with PyTorch's (TestLoadOnDevice with
#                                  SEQTORCH_TEST_DEVICE=$GPU_CHECK_DEVICE; 1e-4 on CUDA, 1e-6 on
#                                  the CPU). `GPU_CHECK_DEVICE=cpu scripts/gpu-check.sh jit` runs
#                                  the same code on a machine without a GPU.
#
# The Go binaries do not link the shim: they load it at run time and refuse one built from
# other sources. On the device machine the shim is rebuilt in that checkout's build/lib from the
# same sources and named by SEQTORCH_LIB. Environment knobs for `run`: TORCH_PYTHON (default
# python3), GPU_CHECK_TEST_TIMEOUT (seconds per test binary, default 240), GPU_CHECK_EPOCHS
# (training epochs per job, default 1), GPU_CHECK_DEVICE (default cuda). GPU_CHECK_CARRY
# (default gpu-carry) names the carried folder, relative to the repository root, for prepare,
# run and jit alike.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
carry=${GPU_CHECK_CARRY:-gpu-carry}
module=github.com/seqtorch/seqtorch

say() { printf '%s\n' "$*" >&2; }
die() { say "gpu-check: $*"; exit 1; }

# Packages whose tests exercise libtorch (they import the torch package, directly or not).
torch_test_packages() {
  go list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}} {{join .Deps " "}} {{join .TestImports " "}} {{join .XTestImports " "}}{{end}}' ./... |
    awk -v t="$module/torch" '{ for (i = 1; i <= NF; i++) if ($i == t || $1 == t) { print $1; break } }'
}

prepare() {
  command -v go >/dev/null || die "prepare needs Go (run it on the development machine)"
  [[ -f build/lib/libseqtorch.so ]] || die "build the shim first: make libtorch"
  local mirror=${SEQTORCH_MIRROR:-$root/../shared/data}
  [[ -d $mirror/sms_spam && -d $mirror/sick && -d $mirror/vectors ]] ||
    die "data mirror $mirror lacks sms_spam/, sick/ or vectors/ (set SEQTORCH_MIRROR)"
  rm -rf "$carry"
  mkdir -p "$carry/bin" "$carry/data"
  local manifest=$carry/MANIFEST failed=()
  {
    echo "# gpu-carry, prepared $(date -u +%FT%TZ) by $(go version)"
    echo "# commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (+ uncommitted changes)')"
  } >"$manifest"
  local flags=(-ldflags=-s\ -w)
  local pkg rel name
  for pkg in $(torch_test_packages); do
    rel=${pkg#"$module"}; rel=${rel#/}; rel=${rel:-.}
    name=$(tr / _ <<<"$rel").test
    say "  go test -c ./$rel"
    if go test -c "${flags[@]}" -o "$carry/bin/$name" "./$rel" 2>"$carry/build-$name.log"; then
      printf 'test %s %s\n' "$name" "$rel" >>"$manifest"
      rm -f "$carry/build-$name.log"
    else
      failed+=("test ./$rel: $(grep -v '^#' "$carry/build-$name.log" | head -1)")
    fi
  done
  for rel in train/sms train/siamese scripts/bench scripts/parity; do
    name=$(basename "$rel")
    [[ -d $rel ]] || { failed+=("cmd ./$rel: does not exist"); continue; }
    say "  go build ./$rel"
    if go build "${flags[@]}" -o "$carry/bin/$name" "./$rel" 2>"$carry/build-$name.log"; then
      printf 'cmd %s %s\n' "$name" "$rel" >>"$manifest"
      rm -f "$carry/build-$name.log"
    else
      failed+=("cmd ./$rel: $(grep -v '^#' "$carry/build-$name.log" | head -1)")
    fi
  done
  cp -r "$mirror/sms_spam" "$mirror/sick" "$mirror/vectors" "$carry/data/"
  [[ -f $mirror/PROVENANCE.md ]] && cp "$mirror/PROVENANCE.md" "$carry/data/"
  # xz when available (about a third smaller); `run` unpacks with Python's tarfile, which reads
  # gzip and xz alike, so the device machine needs no xz binary.
  local z=z ext=tgz
  if command -v xz >/dev/null; then z=J ext=tar.xz; fi
  tar -C "$carry" -c${z}f "$carry/bin.$ext" bin && rm -rf "$carry/bin"
  tar -C "$carry" -c${z}f "$carry/data.$ext" data && rm -rf "$carry/data"
  local f
  for f in "${failed[@]}"; do printf 'skipped %s\n' "$f" >>"$manifest"; done
  cat "$manifest"
  local mib
  mib=$(du -sm "$carry" | cut -f1)
  say "gpu-carry: ${mib} MiB (the device run carries at most 64 MiB)"
  ((mib < 60)) || die "gpu-carry is ${mib} MiB: too large to carry"
  ((${#failed[@]} == 0)) || say "gpu-check prepare: ${#failed[@]} binaries skipped (listed in $manifest)"
}

# ---------------------------------------------------------------- run (on the device machine)

summary=()
note() { summary+=("$*"); say "== $*"; }

run_tests() {
  local timeout_s=${GPU_CHECK_TEST_TIMEOUT:-240} kind name rel log rc
  while read -r kind name rel; do
    [[ $kind == test ]] || continue
    log=$out/$name.log
    set +e
    (cd "$rel" && timeout "$timeout_s" "$bin/$name" -test.count=1 -test.timeout "${timeout_s}s") >"$log" 2>&1
    rc=$?
    set -e
    case $rc in
      0) note "test ./$rel: PASS ($(grep -c '^--- SKIP\|^    --- SKIP' "$log" || true) skips; log $log)" ;;
      124) note "test ./$rel: TIMEOUT after ${timeout_s}s (log $log)"; tail -5 "$log" >&2 ;;
      *) note "test ./$rel: FAIL rc=$rc (log $log): $(grep -m3 -- '--- FAIL\|panic:' "$log" | tr '\n' ' ')"; tail -20 "$log" >&2 ;;
    esac
  done <"$carry/MANIFEST"
}

run_parity() {
  [[ -x $bin/parity ]] || { note "parity: not carried (see MANIFEST)"; return; }
  local args=(-ref scripts/parity_ref.py) log=$out/parity.log rc
  local help
  help=$("$bin/parity" -h 2>&1 || true) # -h exits 2; keep pipefail from hiding the match
  if grep -q -- '-device' <<<"$help"; then
    args+=(-device "$device")
    note "parity: the RNN grid (tolerance 1e-4) and the ATen sweep (aten/*, 563 generated ops, 1e-7) compute on $device against PyTorch on the CPU; the other cases on the CPU (~1e-5)"
  else
    note "parity: this parity binary has no -device flag: the suite ran on the CPU against this machine's PyTorch (tolerances per case, ~1e-5)"
  fi
  set +e
  timeout 600 "$bin/parity" "${args[@]}" >"$log" 2>&1
  rc=$?
  set -e
  note "parity: rc=$rc, $(tail -1 "$log")"
  ((rc == 0)) || grep -i 'fail' "$log" | head -20 >&2 || true
}

# siamese_epoch: Go `siamese --device cuda --epochs N` beside scripts/bench_siamese.py on the
# batches and initial weights that `bench siamese-inputs -dir` writes (same model, same GPU).
run_siamese() {
  [[ -x $bin/siamese ]] || { note "siamese: not carried (see MANIFEST)"; return; }
  local ref=$out/siamese-ref run=$out/siamese-run log=$out/siamese.log epochs=${GPU_CHECK_EPOCHS:-1}
  mkdir -p "$ref"
  [[ -x $bin/bench ]] || { note "siamese: the bench binary is not carried (see MANIFEST)"; return; }
  if ! "$bin/bench" siamese-inputs -dir "$ref" >"$log" 2>&1; then
    note "siamese: writing the shared batches failed (log $log)"; tail -5 "$log" >&2; return
  fi
  local t0 t1
  t0=$(date +%s.%N)
  if "$bin/siamese" --device "$device" --epochs "$epochs" --layers 1 --scale one --pooling last --tsne 0 --out "$run" --force >>"$log" 2>&1; then
    t1=$(date +%s.%N)
    note "siamese Go --device $device: epoch 1 $(head -1 "$run/metrics.jsonl" | "$py" -c 'import json,sys; r=json.load(sys.stdin); print("train %.3fs, %d steps, loss %.4f" % (r["train_seconds"], r["steps"], r["train_loss"]))'), process $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')s"
  else
    note "siamese Go --device $device: FAILED (log $log)"; tail -5 "$log" >&2
  fi
  if "$py" scripts/bench_siamese.py "$ref" --device "$device" >>"$log" 2>&1; then
    note "siamese PyTorch $device: $(grep '^BENCH' "$log" | tail -1)"
  else
    note "siamese PyTorch $device: FAILED (log $log)"; tail -5 "$log" >&2
  fi
}

run_sms() {
  [[ -x $bin/sms ]] || { note "sms: not carried (see MANIFEST)"; return; }
  local run=$out/sms-run log=$out/sms.log epochs=${GPU_CHECK_EPOCHS:-1}
  if "$bin/sms" --device "$device" --epochs "$epochs" --out "$run" --force >"$log" 2>&1; then
    note "sms Go --device $device: epoch 1 $(head -1 "$run/metrics.jsonl" | "$py" -c 'import json,sys; r=json.load(sys.stdin); print("train %.3fs, %d steps, loss %.4f" % (r["train_seconds"], r["steps"], r["train_loss"]))' 2>/dev/null || echo '(no metrics.jsonl)')"
  else
    note "sms Go --device $device: FAILED (log $log)"; tail -5 "$log" >&2
  fi
  # PyTorch on the same device, same model (LSTM), initial weights and epoch-1 batches (what
  # `bench sms-inputs` writes from the Go LSTM run's folder).
  local inputs=$out/sms-bench-inputs
  if "$bin/sms" --cell lstm --device "$device" --epochs 1 --out "$run-lstm" --force >>"$log" 2>&1; then
    note "sms Go LSTM --device $device: epoch 1 $(head -1 "$run-lstm/metrics.jsonl" | "$py" -c 'import json,sys; r=json.load(sys.stdin); print("train %.3fs, loss %.4f" % (r["train_seconds"], r["train_loss"]))' 2>/dev/null || echo '(no metrics.jsonl)')"
  else
    note "sms Go LSTM --device $device: FAILED (log $log)"; tail -5 "$log" >&2
  fi
  if [[ -x $bin/bench ]] && "$bin/bench" sms-inputs -model "$run-lstm" -dir "$inputs" >>"$log" 2>&1 &&
    "$py" scripts/sms_ref.py bench "$inputs" --device "$device" >>"$log" 2>&1; then
    note "sms PyTorch LSTM $device: $(grep '^BENCH' "$log" | tail -1)"
  else
    note "sms PyTorch LSTM $device: FAILED (log $log)"; tail -5 "$log" >&2
  fi
}

# jit_fixtures: scripts/jit_ref.py's TorchScript modules and PyTorch's outputs, written once
# by this machine's PyTorch and shared by the torch/jit and train/jitserve test binaries
# (SEQTORCH_JIT_FIXTURES; without it each test process writes its own, finding jit_ref.py
# above its package folder).
jit_fixtures() {
  local dir=$out/jit-fixtures log=$out/jit-fixtures.log
  rm -rf "$dir"
  mkdir -p "$dir"
  if OMP_NUM_THREADS=1 "$py" scripts/jit_ref.py "$dir" >"$log" 2>&1; then
    export SEQTORCH_JIT_FIXTURES=$dir
    note "jit fixtures: scripts/jit_ref.py wrote $(find "$dir" -type f | wc -l) files with PyTorch $("$py" -c 'import json, sys; print(json.load(open(sys.argv[1]))["torch_version"])' "$dir/expected.json") into $dir"
  else
    unset SEQTORCH_JIT_FIXTURES
    note "jit fixtures: scripts/jit_ref.py FAILED (log $log): $(tail -1 "$log")"
  fi
}

# run_jit: the carried torch/jit test binary loads lstm_script.pt (a scripted LSTM classifier
# with pack_padded_sequence inside) with jit.Load(path, $device) and compares the logits of ids
# on that device with PyTorch's CPU logits (TestLoadOnDevice, SEQTORCH_TEST_DEVICE=$device;
# tolerance 1e-4 on CUDA, 1e-6 on the CPU); the summary has the largest difference.
run_jit() {
  local what="jit: jit.Load(lstm_script.pt, $device)" log=$out/jit-device.log rc detail
  local timeout_s=${GPU_CHECK_TEST_TIMEOUT:-240}
  [[ -x $bin/torch_jit.test ]] || { note "$what: torch_jit.test not carried (see MANIFEST)"; return; }
  [[ -n ${SEQTORCH_JIT_FIXTURES:-} ]] || { note "$what: not run, no fixtures (see 'jit fixtures')"; return; }
  set +e
  (cd torch/jit && SEQTORCH_TEST_DEVICE=$device timeout "$timeout_s" "$bin/torch_jit.test" \
    -test.run '^TestLoadOnDevice$' -test.v -test.count=1 -test.timeout "${timeout_s}s") >"$log" 2>&1
  rc=$?
  set -e
  detail=$(grep -o 'lstm_script.pt on .*' "$log" | head -1 || true)
  if ((rc == 0)) && grep -q -- '--- PASS: TestLoadOnDevice' "$log"; then
    note "$what: PASS, ${detail:-no detail} (log $log)"
  elif ((rc == 0)); then
    note "$what: not run: $(grep -m1 -A1 -- '--- SKIP' "$log" | tail -1 | sed 's/^ *//') (log $log)"
  elif ((rc == 124)); then
    note "$what: TIMEOUT after ${timeout_s}s (log $log)"; tail -5 "$log" >&2
  else
    note "$what: FAIL rc=$rc${detail:+, $detail} (log $log): $(grep -m3 -- 'jit_test.go:\|panic:' "$log" | sed 's/^ *//' | tr '\n' ' ')"
    tail -20 "$log" >&2
  fi
}

# unpack: gpu-carry/'s archives unpacked (Python's tarfile reads gzip and xz alike, so no xz
# binary is needed); sets py, device, out and bin.
unpack() {
  [[ -f $carry/MANIFEST ]] && compgen -G "$carry/bin.t*" >/dev/null || die "no $carry/ here: run 'scripts/gpu-check.sh prepare' on a machine with Go and carry $carry/"
  py=${TORCH_PYTHON:-python3}
  device=${GPU_CHECK_DEVICE:-cuda}
  out=$root/$carry/out
  rm -rf "$out" "$carry/bin" "$carry/data"
  mkdir -p "$out"
  "$py" -c 'import glob, sys, tarfile
for f in sorted(glob.glob(sys.argv[1] + "/*.t*")):
    with tarfile.open(f) as t:
        if hasattr(tarfile, "data_filter"):
            t.extractall(sys.argv[1], filter="data")
        else:
            t.extractall(sys.argv[1])' "$carry"
  bin=$root/$carry/bin
}

write_summary() {
  {
    echo "# gpu-check summary ($(date -u +%FT%TZ))"
    echo
    for l in "${summary[@]}"; do echo "- $l"; done
  } | tee "$out/summary.md"
}

# run_jit_only: `scripts/gpu-check.sh jit`, the jit step against the shim in build/lib.
run_jit_only() {
  unpack
  [[ -f build/lib/libseqtorch.so ]] || die "no shim in build/lib: make libtorch (TORCH_PYTHON=$py make libtorch)"
  export SEQTORCH_LIB=$root/build/lib/libseqtorch.so SEQTORCH_PYTHON=$py OPENBLAS_NUM_THREADS=1
  note "pytorch: $("$py" -c 'import torch; print(torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())' 2>&1 | tail -1)"
  jit_fixtures
  run_jit
  write_summary
}

run_all() {
  unpack
  local start=$SECONDS
  note "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
  note "gpu: $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo 'nvidia-smi unavailable')"
  note "pytorch: $("$py" -c 'import torch; print(torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available(), torch.cuda.device_count(), "device(s)")' 2>&1 | tail -1)"
  command -v go >/dev/null && note "go: present on this machine but not used"
  grep '^#' "$carry/MANIFEST" | sed 's/^# //' | while read -r l; do say "carry: $l"; done

  # 1. the shim, against this machine's PyTorch (bash, g++, make, python3; no Go)
  # With NCCL first (SEQTORCH_NCCL=1: torch/distributed's NCCL group, tried by the distributed
  # test binary in a world of one); without it if that build fails, which the summary notes.
  if SEQTORCH_NCCL=1 TORCH_PYTHON=$py make libtorch >"$out/libtorch.log" 2>&1; then
    note "shim with NCCL: $(grep -o 'TORCH_DIST := .*' build/libtorch.mk)"
  else
    note "shim with NCCL failed to build: $(grep -m1 -i error "$out/libtorch.log")"
    if ! TORCH_PYTHON=$py make libtorch >"$out/libtorch.log" 2>&1; then
      tail -30 "$out/libtorch.log" >&2
      die "make libtorch failed (log $out/libtorch.log)"
    fi
  fi
  note "shim: $(tail -1 "$out/libtorch.log")"
  # The Go binaries load the shim at run time (package torch's Load): SEQTORCH_LIB names the one
  # just rebuilt, which carries the same source hash as the binaries.
  export SEQTORCH_LIB=$root/build/lib/libseqtorch.so
  export SEQTORCH_PYTHON=$py SEQTORCH_MIRROR=$root/$carry/data OPENBLAS_NUM_THREADS=1
  export SEQTORCH_DATA=$out/data-cache
  note "binaries load: $SEQTORCH_LIB"

  # 2. Go test binaries (each from its package folder, as go test does), the TorchScript
  # fixtures written first by this machine's PyTorch, then a TorchScript module on the device
  jit_fixtures
  run_tests
  run_jit
  # 3. parity suite
  run_parity
  # 4. trainings on the GPU, beside PyTorch
  run_siamese
  run_sms

  note "total $((SECONDS - start))s"
  write_summary
}

case ${1:-} in
  prepare) prepare ;;
  run) run_all ;;
  jit) run_jit_only ;;
  *) die "usage: scripts/gpu-check.sh prepare|run|jit" ;;
esac
