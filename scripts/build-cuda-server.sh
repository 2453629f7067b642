#!/usr/bin/env bash
# Builds whisper-server with whisper.cpp's CUDA backend on a machine with no CUDA install and no
# GPU (how docs/benchmarks.md's GPU runs were built): NVIDIA's CUDA toolkit wheels from PyPI
# (nvcc, runtime, cuBLAS) unpacked under the cache, a link-time stub of the driver library made
# from that toolkit's cuda.h, and a target dir of its own (a cold build took about 17 min on
# 2 cores). The binary runs where an NVIDIA driver for CUDA 13 is installed, with the toolkit's
# lib folder (printed at the end) on LD_LIBRARY_PATH for libcudart and libcublas.
# The container image builds on NVIDIA's devel image instead (server/Dockerfile, target cuda).
#
# usage: scripts/build-cuda-server.sh
# env:   CUDA_ARCHS   GPU architectures to compile for (default 90: H100, H200; e.g. "80;86;89;90")
#        GGML_CUDA_FA ON to compile whisper.cpp's flash-attention kernels (--flash-attention true)
#        WHISPER_OPERATOR_CACHE (default ~/.cache/whisper-operator)
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CACHE="${WHISPER_OPERATOR_CACHE:-$HOME/.cache/whisper-operator}"
CUDA_ARCHS="${CUDA_ARCHS:-90}"
# The wheels of CUDA 13.0 that docs/benchmarks.md's run M was built with.
WHEELS=(
  nvidia-cuda-nvcc==13.0.88 nvidia-cuda-crt==13.0.88 nvidia-nvvm==13.0.88
  nvidia-cuda-runtime==13.0.96 nvidia-cuda-cccl==13.0.85 nvidia-cublas==13.1.0.3
)
PIP_ROOT="$CACHE/cuda-pip-13.0"
TOOLKIT="$PIP_ROOT/nvidia/cu13"
PYTHON="$CACHE/venv-py1/bin/python"
TARGET="$CACHE/target-cuda-sm${CUDA_ARCHS//;/-}-fa${GGML_CUDA_FA:-OFF}"
log() { echo "build-cuda-server: $*" >&2; }

install_toolkit() {
  [ -x "$TOOLKIT/bin/nvcc" ] && return
  [ -x "$PYTHON" ] || { log "no Python venv at $PYTHON: run scripts/install-deps.sh"; exit 1; }
  log "installing the CUDA 13.0 toolkit wheels into $PIP_ROOT"
  rm -rf "$PIP_ROOT.partial"
  "$PYTHON" -m pip install --quiet --no-deps --target "$PIP_ROOT.partial" "${WHEELS[@]}"
  rm -rf "$PIP_ROOT"
  mv "$PIP_ROOT.partial" "$PIP_ROOT"
}

# What a system install has and the wheels lack: unversioned .so names for the linker, a lib64
# folder (nvcc links its runtime from there: without it CMake's CUDA compiler check fails to find
# -lcudadevrt), an (empty) libculibos.a that whisper-rs-sys names, and libcuda.so, which comes
# with the driver, not the toolkit.
complete_toolkit() {
  local lib="$TOOLKIT/lib"
  for versioned in "$lib"/lib*.so.*; do
    ln -sfn "$(basename "$versioned")" "${versioned%%.so.*}.so"
  done
  ln -sfn lib "$TOOLKIT/lib64"
  [ -f "$lib/libculibos.a" ] || ar rc "$lib/libculibos.a"
  [ -f "$lib/stubs/libcuda.so" ] || make_driver_stub "$lib/stubs"
}

# A library with every driver function cuda.h declares (after its _v2/_v3 renames), each
# returning an error: the linker resolves against it; at run time the driver's libcuda.so.1 loads.
make_driver_stub() {
  local dir="$1" work
  work="$(mktemp -d)"
  printf '#include <cuda.h>\n' >"$work/header.c"
  gcc -E -P -I"$TOOLKIT/include" "$work/header.c" | tr '\n' ' ' |
    grep -oE 'CUresult +cu[A-Za-z0-9_]+ *\(' | sed -E 's/CUresult +//; s/ *\($//' | sort -u |
    awk '{ printf "int %s(void) { return 999; }\n", $1 }' >"$work/stub.c"
  mkdir -p "$dir"
  gcc -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$dir/libcuda.so" "$work/stub.c"
  log "driver stub: $(wc -l <"$work/stub.c") functions"
  rm -rf "$work"
}

install_toolkit
complete_toolkit

log "building whisper-server --features cuda for sm_$CUDA_ARCHS in $TARGET"
cd "$ROOT"
# GGML_NATIVE=OFF: the GPU machine's CPU is not this one; x86-64-v3 as in the Dockerfile.
env PATH="$TOOLKIT/bin:$PATH" CUDA_PATH="$TOOLKIT" CUDAToolkit_ROOT="$TOOLKIT" \
  CUDACXX="$TOOLKIT/bin/nvcc" CMAKE_CUDA_ARCHITECTURES="$CUDA_ARCHS" \
  GGML_CUDA_FA="${GGML_CUDA_FA:-OFF}" GGML_NATIVE=OFF GGML_AVX2=ON GGML_FMA=ON GGML_F16C=ON \
  RUSTFLAGS="-L native=$TOOLKIT/lib -L native=$TOOLKIT/lib/stubs" \
  CARGO_TARGET_DIR="$TARGET" \
  cargo build --release --locked -p whisper-server --features cuda --bin whisper-server
log "built $TARGET/release/whisper-server"
log "run it with LD_LIBRARY_PATH=$TOOLKIT/lib (or copy libcudart.so.13, libcublas.so.13 and libcublasLt.so.13 beside it)"
echo "$TARGET/release/whisper-server"
