#!/usr/bin/env bash
# library-check.sh — seqtorch used as a library, the way a new user gets it: this checkout is
# served as module version v0.1.0 from a file GOPROXY into empty module, build and user caches;
# a module of its own (scripts/testdata/libuser) requires it and must
#   1. build with plain `go build` (no libtorch, no environment variables),
#   2. fail before setup with one line that names the setup command (exit 1),
#   3. run after `go run github.com/seqtorch/seqtorch/torch/cmd/seqtorch setup`,
#   4. run when copied to another folder with the shim beside it (the executable's folder),
#   5. pass `go mod verify`,
#   6. reach ATen from its own code (scripts/testdata/atenuser: torch.Call and a generated
#      wrapper, an in-place chain through autograd, an in-place op refused on a leaf, printing)
#      and print exactly what the same steps print in PyTorch (atenuser/ref.py),
#   7. run a TorchScript module that PyTorch scripted (scripts/testdata/jituser: an LSTM
#      classifier's logits against PyTorch's to 1e-5; a torch.save state dict refused in one line),
#   8. build a torch/nn module as PyTorch does (scripts/testdata/nnuser: ManualSeed(1), then a
#      MultiheadAttention(16, 4, batch_first) forward equal to PyTorch's to 1e-5).
# The dependencies of seqtorch come from the usual module proxy behind the file one.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
tmp=$(mktemp -d /tmp/seqtorch-library-check.XXXXXX)
cleanup() { chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
say() { printf 'library-check: %s\n' "$*" >&2; }
fail() { say "FAILED: $*"; exit 1; }

mod=github.com/seqtorch/seqtorch
ver=v0.1.0
proxy=$tmp/proxy/$mod/@v
mkdir -p "$proxy"
echo "$ver" >"$proxy/list"
printf '{"Version":"%s","Time":"%s"}\n' "$ver" "$(date -u +%FT%TZ)" >"$proxy/$ver.info"
cp go.mod "$proxy/$ver.mod"
# The module zip: the files git sees (tracked and untracked, not ignored), under module@version/.
git ls-files -co --exclude-standard -z | python3 -c '
import sys, zipfile
names = [n for n in sys.stdin.buffer.read().decode().split("\0") if n]
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:
    for n in sorted(names):
        z.write(n, sys.argv[2] + "/" + n)
' "$proxy/$ver.zip" "$mod@$ver"

export GOMODCACHE=$tmp/modcache GOCACHE=$tmp/gocache XDG_CACHE_HOME=$tmp/usercache
export GOPROXY="file://$tmp/proxy,$(go env GOPROXY)" GONOSUMDB=$mod GOFLAGS=-mod=mod
unset SEQTORCH_LIB LD_LIBRARY_PATH
app=$tmp/app
mkdir -p "$app"
cp scripts/testdata/libuser/main.go "$app/"
mkdir -p "$app/atenuser" "$app/jituser" "$app/nnuser"
cp scripts/testdata/atenuser/main.go "$app/atenuser/"
cp scripts/testdata/jituser/main.go "$app/jituser/"
cp scripts/testdata/nnuser/main.go "$app/nnuser/"
cd "$app"
go mod init example.com/libuser >/dev/null 2>&1
go get "$mod@$ver" >/dev/null 2>&1 || fail "go get $mod@$ver"
go mod tidy >/dev/null 2>&1 || fail "go mod tidy"

say "1. plain go build"
go build -o libuser . || fail "go build"
say "2. run before setup"
set +e
out=$(./libuser 2>&1)
rc=$?
set -e
echo "   exit $rc: $out"
[[ $rc == 1 && $(wc -l <<<"$out") == 1 && $out == *"torch/cmd/seqtorch setup"* ]] ||
  fail "want exit 1 and one line naming the setup command"
say "3. setup, then run"
go run "$mod/torch/cmd/seqtorch" setup | sed 's/^/   /' || fail "seqtorch setup"
out=$(./libuser) || fail "run after setup"
echo "   $out"
[[ $out == output* ]] || fail "unexpected output"
say "4. a binary carried elsewhere with the shim beside it (no user cache there)"
lib=$(go run "$mod/torch/cmd/seqtorch" path)
mkdir -p "$tmp/carried"
cp libuser "$lib" "$tmp/carried/"
go build -o "$tmp/carried/seqtorch" "$mod/torch/cmd/seqtorch"
out=$(XDG_CACHE_HOME=$tmp/empty-cache "$tmp/carried/libuser") || fail "carried binary"
echo "   $out"
where=$(XDG_CACHE_HOME=$tmp/empty-cache "$tmp/carried/seqtorch" path) || fail "carried seqtorch path"
echo "   loads $where"
[[ $where == "$tmp/carried/libseqtorch.so" ]] || fail "want the shim beside the binary"
say "5. go mod verify"
go mod verify | sed 's/^/   /' || fail "go mod verify"
say "6. ATen from a module of its own, against PyTorch"
go build -o aten-check ./atenuser || fail "go build ./atenuser"
./aten-check >"$tmp/aten-go.txt" || fail "atenuser"
"${SEQTORCH_PYTHON:-/usr/bin/python3}" "$root/scripts/testdata/atenuser/ref.py" >"$tmp/aten-py.txt" 2>/dev/null ||
  fail "scripts/testdata/atenuser/ref.py (needs Python with torch: SEQTORCH_PYTHON)"
diff -u "$tmp/aten-py.txt" "$tmp/aten-go.txt" || fail "atenuser's output differs from PyTorch's (above: - PyTorch, + Go)"
sed 's/^/   /' "$tmp/aten-go.txt"
say "7. a TorchScript module scripted by PyTorch, from a module of its own"
mkdir -p "$tmp/jit"
"${SEQTORCH_PYTHON:-/usr/bin/python3}" "$root/scripts/jit_ref.py" "$tmp/jit" >/dev/null 2>&1 ||
  fail "scripts/jit_ref.py (needs Python with torch: SEQTORCH_PYTHON)"
go build -o jit-check ./jituser || fail "go build ./jituser"
./jit-check "$tmp/jit" | sed 's/^/   /'
[[ ${PIPESTATUS[0]} == 0 ]] || fail "jituser"
say "8. a torch/nn module seeded as in PyTorch, from a module of its own"
go build -o nn-check ./nnuser || fail "go build ./nnuser"
"${SEQTORCH_PYTHON:-/usr/bin/python3}" "$root/scripts/testdata/nnuser/ref.py" >"$tmp/nn-py.json" 2>/dev/null ||
  fail "scripts/testdata/nnuser/ref.py (needs Python with torch: SEQTORCH_PYTHON)"
./nn-check <"$tmp/nn-py.json" | sed 's/^/   /'
[[ ${PIPESTATUS[0]} == 0 ]] || fail "nnuser"
say "passed"
