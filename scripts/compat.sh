#!/usr/bin/env bash
# compat.sh — `make compat`: seqtorch against Debian 13's libtorch 2.6, on this Debian 12 machine.
#
# 1. Builds (once; kept for the next run) a Debian 13 (trixie) chroot with debootstrap under
#    third_party/compat/trixie (git-ignored), with libtorch-dev, python3-torch (2.6), OpenBLAS,
#    g++, make and wordnet-base, from the Debian mirror this machine's apt uses.
# 2. Copies the checkout's files (tracked and untracked, not ignored) to /src inside, binds the
#    host's Go, module cache (GOPROXY=off: the chroot has no CA certificates for the proxy) and
#    data mirror, and runs the README's test command there: make libtorch && make test.
# 3. Compiles (objects kept between runs) and links (every run) the shim, libseqtorch.so only,
#    against Debian 13's CUDA build of libtorch 2.6 (libtorch-cuda-dev, unpacked without its
#    dependencies: its cuDNN package downloads from outside Debian, and no GPU is here to run
#    it), so the CUDA code paths build on every run.
# Ends with the libtorch line, the Go package and parity counts and the CUDA link line.
# Needs root (debootstrap, chroot, mount). COMPAT_DIR overrides the chroot's folder. With
# arguments, steps 2–3 run that command in the chroot's /src instead (after make libtorch), e.g.
# `scripts/compat.sh make bench`.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
dir=${COMPAT_DIR:-$root/third_party/compat}
jail=$dir/trixie
log=$dir/test.log

say() { printf 'compat: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

[[ $(id -u) == 0 ]] || die "needs root (debootstrap, chroot, mount)"
command -v go >/dev/null || die "needs Go on the host (it is bound into the chroot)"
goroot=$(go env GOROOT)
modcache=$(go env GOMODCACHE)
mirror_data=${SEQTORCH_MIRROR:-$root/../shared/data}
[[ -d $mirror_data ]] || die "no data mirror at $mirror_data (set SEQTORCH_MIRROR)"
mirror_data=$(cd "$mirror_data" && pwd)

# The Debian mirror apt uses here (deb822 .sources or a classic sources.list line).
debian_mirror() {
  local m
  m=$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | grep -v security | head -1)
  [[ -n $m ]] || m=$(grep -hs '^deb ' /etc/apt/sources.list | awk '{print $2}' | grep -v security | head -1)
  echo "${m:-http://deb.debian.org/debian}"
}

mounts=()
bind() { # bind SRC DST [ro]; a no-op when DST is already a mount point
  mkdir -p "$2"
  mountpoint -q "$2" && return
  mount --bind "$1" "$2"
  mounts+=("$2")
  if [[ ${3:-} == ro ]]; then mount -o remount,bind,ro "$2"; fi
}
cleanup() {
  local i
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do umount "${mounts[i]}" 2>/dev/null || umount -l "${mounts[i]}" || true; done
}
trap cleanup EXIT

in_jail() { chroot "$jail" /usr/bin/env -i PATH=/usr/local/go/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
  LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"; }

t0=$SECONDS
if [[ ! -f $jail/.seqtorch-ready ]]; then
  command -v debootstrap >/dev/null || {
    say "installing debootstrap"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
  }
  rm -rf "$jail"
  mkdir -p "$dir"
  m=$(debian_mirror)
  say "debootstrap trixie from $m (about a minute)"
  debootstrap --variant=minbase trixie "$jail" "$m" >"$dir/debootstrap.log" 2>&1 ||
    die "debootstrap failed (see $dir/debootstrap.log)"
  echo "deb $m trixie main contrib" >"$jail/etc/apt/sources.list"
  rm -f "$jail"/etc/apt/sources.list.d/*
  bind /proc "$jail/proc"
  bind /dev "$jail/dev"
  say "apt-get install libtorch-dev python3-torch (2.6) and the build tools (about a minute)"
  in_jail bash -c 'apt-get update -qq && apt-get install -y -qq --no-install-recommends \
    libtorch-dev libgloo-dev python3-torch libopenblas0-pthread g++ make wordnet-base ca-certificates >/dev/null' \
    >"$dir/apt.log" 2>&1 || die "apt-get in the chroot failed (see $dir/apt.log)"
  touch "$jail/.seqtorch-ready"
  say "chroot ready in $((SECONDS - t0)) s"
fi
bind /proc "$jail/proc"
bind /dev "$jail/dev"

# Debian 13's CUDA libtorch, unpacked beside the CPU one (the packages conflict) as an
# "unpacked libtorch" layout that LIBTORCH= understands: include/, lib/.
cuda=$jail/opt/libtorch-cuda
if [[ ! -f $cuda/.ready ]]; then
  say "fetching Debian 13's libtorch-cuda-dev and libtorch-cuda-2.6 (480 MB) to unpack"
  rm -rf "$jail/opt/debs" "$cuda"
  mkdir -p "$jail/opt/debs" "$cuda/root"
  in_jail bash -c 'cd /opt/debs && apt-get download -qq libtorch-cuda-dev libtorch-cuda-2.6' >"$dir/cuda.log" 2>&1 ||
    die "apt-get download of the CUDA packages failed (see $dir/cuda.log)"
  for deb in "$jail"/opt/debs/*.deb; do
    # headers, the libtorch and c10 libraries and the cmake files; not the other 1.4 GB
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$cuda/root" --wildcards \
      './usr/include/*' './usr/lib/x86_64-linux-gnu/libtorch*' './usr/lib/x86_64-linux-gnu/libc10*' \
      './usr/lib/x86_64-linux-gnu/cmake/Torch/*' 2>/dev/null || true
  done
  rm -rf "$jail/opt/debs"
  [[ -e $cuda/root/usr/lib/x86_64-linux-gnu/libtorch_cuda.so ]] || die "libtorch_cuda.so not found in the CUDA packages"
  ln -sfn root/usr/include "$cuda/include"
  ln -sfn root/usr/lib/x86_64-linux-gnu "$cuda/lib"
  touch "$cuda/.ready"
fi

# The checkout, as git sees it (tracked and untracked files, not ignored ones), into /src; the
# chroot's build/ folders and Go caches stay between runs.
say "copying the checkout to the chroot's /src"
mkdir -p "$jail/src"
find "$jail/src" -mindepth 1 -maxdepth 1 ! -name build ! -name build-cuda -exec rm -rf {} +
git ls-files -co --exclude-standard -z | tar --null -T - -c -f - | tar -x -C "$jail/src"

bind "$goroot" "$jail/usr/local/go" ro
bind "$modcache" "$jail/root/go/pkg/mod"
bind "$mirror_data" "$jail/shared/data" ro

if (($# > 0)); then # run a command of the user's instead, e.g. `scripts/compat.sh make bench`
  say "make libtorch, then $* against libtorch 2.6"
  in_jail GOPROXY=off GOFLAGS= GOTOOLCHAIN=local OPENBLAS_NUM_THREADS=1 SEQTORCH_MIRROR=/shared/data \
    bash -c 'cd /src && make libtorch >&2 && "$@"' run "$@"
  exit
fi

say "make libtorch && make test against libtorch 2.6 (log: $log)"
set +e
in_jail GOPROXY=off GOFLAGS= GOTOOLCHAIN=local OPENBLAS_NUM_THREADS=1 SEQTORCH_MIRROR=/shared/data \
  bash -c 'cd /src && make libtorch && make test' >"$log" 2>&1
rc=$?
set -e
torch_line=$(grep -m1 '^libtorch ' "$log" || echo "libtorch: (no line; see $log)")
ok=$(grep -c '^ok ' "$log" || true)
failed=$(grep -c $'^FAIL\t' "$log" || true)
parity=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -1 || true)

say "compiling and linking the shim against the CUDA build (libseqtorch.so only)"
set +e
in_jail LIBTORCH=/opt/libtorch-cuda bash -c 'cd /src && bash torch/csrc/find-libtorch.sh build-cuda/libtorch.mk && rm -f build-cuda/lib/libseqtorch.so &&
  make -s --no-print-directory -j2 -f torch/csrc/shim.mk BUILD=build-cuda V=1 build-cuda/lib/libseqtorch.so' >"$dir/cuda-build.log" 2>&1
crc=$?
set -e
link_line=$(grep -m1 -- '-shared' "$dir/cuda-build.log" || true)

echo "== make compat (Debian 13 chroot, $((SECONDS - t0)) s)"
echo "$torch_line"
echo "go test: $ok packages ok, $failed failed"
echo "parity: ${parity:-no count (see $log)}"
if ((crc == 0)); then
  echo "CUDA build linked: $link_line"
  in_jail bash -c 'readelf -d /src/build-cuda/lib/libseqtorch.so | grep -E "NEEDED.*(torch_cuda|c10_cuda)"' | sed 's/^/  /'
else
  echo "CUDA build FAILED (log $dir/cuda-build.log):"
  tail -20 "$dir/cuda-build.log"
fi
if ((rc != 0)); then
  echo "make libtorch && make test FAILED (exit $rc); the end of $log:"
  tail -40 "$log"
fi
((rc == 0 && crc == 0))
