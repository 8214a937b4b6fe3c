#!/usr/bin/env bash
# find-libtorch.sh OUT.mk — locate (or, on Debian/Ubuntu, install) libtorch and write the
# make variables the shim build needs. Order: LIBTORCH=dir, TORCH_PYTHON=python, distro packages.
# Re-running with the same choice and the same libtorch files is a no-op (fast path for `make
# libtorch`); a libtorch replaced at the same path (a package upgrade) changes TORCH_IDENTITY,
# which rewrites OUT.mk and so rebuilds the shim.
set -euo pipefail
out=${1:?usage: find-libtorch.sh OUT.mk}
# v2: OUT.mk has the TORCH_DIST lines. The gloo headers' presence is part of the key, so
# installing libgloo-dev later rebuilds the shim with torch/distributed.
gloo_here=$([[ -f /usr/include/gloo/algorithm.h ]] && echo 1 || echo 0)
key="v2 LIBTORCH=${LIBTORCH:-} TORCH_PYTHON=${TORCH_PYTHON:-} gloo=$gloo_here nccl=${SEQTORCH_NCCL:-0}"

identity() { # size and mtime of the libtorch libraries in $1
  local f ids=()
  for f in "$1"/libtorch.so "$1"/libtorch_cpu.so "$1"/libc10.so "$1"/libtorch_cuda.so; do
    [[ -e $f ]] && ids+=("$(stat -L -c '%s:%Y' "$f")")
  done
  echo "${ids[*]}"
}

if [[ -f $out ]] && grep -qxF "# key: $key" "$out"; then
  libdir=$(sed -n 's/^TORCH_LIBDIR := //p' "$out")
  if [[ -e $libdir/libtorch.so ]] && grep -qxF "TORCH_IDENTITY := $(identity "$libdir")" "$out"; then exit 0; fi
fi

# ST_SETUP_NAME: the command the user ran, for messages (torch.Setup sets "seqtorch setup").
who=${ST_SETUP_NAME:-make libtorch}
die() { echo "$who: $*" >&2; exit 1; }

abi_from_cmake() { # prints 0/1 from a TorchConfig.cmake, default 1
  local f=$1
  if [[ -f $f ]] && grep -q '_GLIBCXX_USE_CXX11_ABI=0' "$f"; then echo 0; else echo 1; fi
}

source_name="" ; incs=() ; libdir="" ; abi=1 ; version=""
if [[ -n ${LIBTORCH:-} ]]; then
  [[ -f $LIBTORCH/include/torch/csrc/api/include/torch/torch.h && -e $LIBTORCH/lib/libtorch.so ]] ||
    die "LIBTORCH=$LIBTORCH is not an unpacked libtorch archive (want include/torch/csrc/api/include/torch/torch.h and lib/libtorch.so)"
  source_name="LIBTORCH=$LIBTORCH"
  incs=("$LIBTORCH/include" "$LIBTORCH/include/torch/csrc/api/include")
  libdir="$LIBTORCH/lib"
  abi=$(abi_from_cmake "$LIBTORCH/share/cmake/Torch/TorchConfig.cmake")
elif [[ -n ${TORCH_PYTHON:-} ]]; then
  info=$("$TORCH_PYTHON" -c 'import os, torch; print(os.path.dirname(torch.__file__)); print(int(torch._C._GLIBCXX_USE_CXX11_ABI))' 2>&1) ||
    die "TORCH_PYTHON=$TORCH_PYTHON cannot import torch: $(echo "$info" | tail -1)"
  tdir=$(sed -n 1p <<<"$info")
  abi=$(sed -n 2p <<<"$info")
  source_name="TORCH_PYTHON=$TORCH_PYTHON ($tdir)"
  incs=("$tdir/include" "$tdir/include/torch/csrc/api/include")
  libdir="$tdir/lib"
else
  multiarch=$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
  debian_ok() {
    [[ -f /usr/include/torch/csrc/api/include/torch/torch.h && -e /usr/lib/$multiarch/libtorch.so ]] &&
      ls /usr/lib/"$multiarch"/libopenblas*.so* >/dev/null 2>&1
  }
  installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'ok installed'; }
  # Debian's CUDA build (libtorch-cuda-dev, python3-torch-cuda) replaces the CPU packages; never
  # swap one for the other behind the user's back.
  # libgloo-dev: the gloo headers that c10d's ProcessGroupGloo.hpp includes (torch.distributed).
  pkgs=(libtorch-dev libopenblas0-pthread python3-torch libgloo-dev)
  if installed libtorch-cuda-dev || installed python3-torch-cuda; then
    pkgs=(libtorch-cuda-dev libopenblas0-pthread python3-torch-cuda libgloo-dev)
  fi
  if ! debian_ok || ! { installed python3-torch || installed python3-torch-cuda; } || ! installed libgloo-dev; then
    if command -v apt-get >/dev/null && [[ $(id -u) == 0 ]]; then
      echo "$who: installing Debian packages ${pkgs[*]}" >&2
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq >/dev/null
      apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
    fi
  fi
  debian_ok || die "no libtorch found. Use one of: LIBTORCH=/path/to/unpacked/libtorch $who; \
TORCH_PYTHON=python3 $who (the libtorch inside an installed PyTorch); \
or on Debian/Ubuntu: apt-get install libtorch-dev libopenblas0-pthread python3-torch"
  source_name="debian packages"
  incs=("/usr/include/torch/csrc/api/include")
  libdir="/usr/lib/$multiarch"
  abi=$(abi_from_cmake "/usr/lib/$multiarch/cmake/Torch/TorchConfig.cmake")
fi

cuda=0
cudalibs=""
if [[ -e $libdir/libtorch_cuda.so ]]; then
  cuda=1
  cudalibs="-Wl,--no-as-needed -ltorch_cuda -lc10_cuda -Wl,--as-needed"
fi

# torch.distributed (dist.cpp): c10d with Gloo when the libtorch exports ProcessGroupGloo and its
# headers and gloo's are found; NCCL besides, when asked for, if the CUDA library exports
# ProcessGroupNCCL and nccl.h is found. Otherwise the shim builds without them and says so when
# asked.
find_header() { # find_header REL DIR... prints the first DIR holding REL
  local d rel=$1; shift
  for d in "$@"; do [[ -f $d/$rel ]] && { echo "$d"; return 0; }; done
  return 1
}
isystem() { # -isystem flags for the folders given, except the compiler's own /usr/include
  local d; for d in "$@"; do [[ $d == /usr/include ]] || printf ' -isystem %s' "$d"; done
}
exports() { [[ -e $1 ]] && nm -D --defined-only "$1" 2>/dev/null | grep "$2" >/dev/null; } # not grep -q: pipefail
hdr_dirs=("${incs[@]%/torch/csrc/api/include}" /usr/include)
dist="" ; dist_flags=""
if c10d=$(find_header torch/csrc/distributed/c10d/ProcessGroupGloo.hpp "${hdr_dirs[@]}") &&
  gloo=$(find_header gloo/algorithm.h "${hdr_dirs[@]}") && exports "$libdir/libtorch_cpu.so" ProcessGroupGloo; then
  dist="gloo"
  dist_flags="-DST_WITH_GLOO=1 -DUSE_C10D_GLOO=1 -DUSE_DISTRIBUTED=1$(isystem "$c10d" "$gloo")"
  # NCCL is opt-in (SEQTORCH_NCCL=1; NCCL_INCLUDE names the folder of nccl.h if elsewhere): its
  # header pulls in the CUDA toolkit's, and that build has not been compiled on a GPU machine yet.
  if [[ ${SEQTORCH_NCCL:-0} == 1 ]] && exports "$libdir/libtorch_cuda.so" ProcessGroupNCCL &&
    nccl=$(find_header nccl.h ${NCCL_INCLUDE:-} "${hdr_dirs[@]}" /usr/local/cuda/include); then
    dist="gloo nccl"
    dist_flags+=" -DST_WITH_NCCL=1 -DUSE_C10D_NCCL=1$(isystem "$nccl")"
  fi
else
  echo "$who: no c10d with Gloo in this libtorch (or no gloo headers): the shim is built without torch/distributed" >&2
fi

mkdir -p "$(dirname "$out")"
tmp=$(mktemp "$out.XXXXXX")
{
  echo "# generated by torch/csrc/find-libtorch.sh; delete to re-detect"
  echo "# key: $key"
  echo "TORCH_SOURCE := $source_name"
  echo "TORCH_INCLUDES := ${incs[*]/#/-isystem }"
  echo "TORCH_LIBDIR := $libdir"
  echo "TORCH_ABI := $abi"
  echo "TORCH_CUDA := $cuda"
  echo "TORCH_CUDA_LIBS := $cudalibs"
  echo "TORCH_IDENTITY := $(identity "$libdir")"
  echo "TORCH_DIST := $dist"
  echo "TORCH_DIST_FLAGS := $dist_flags"
} >"$tmp"
mv "$tmp" "$out"
