#!/usr/bin/env bash
# Configures (once) and builds llmc into ./build with Ninja, clang-22 and lld.
# Usage: scripts/build.sh [extra ninja targets...]
# Environment: LLMC_BUILD_DIR (default ./build), LLMC_BUILD_TYPE (Release),
# LLMC_SANITIZE (e.g. address,undefined; see docs/testing.md) and
# LLMC_BUILD_FUZZERS (ON builds fuzz/); the last two also update an existing
# build directory when set.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${LLMC_BUILD_DIR:-$root/build}
options=()
[ -n "${LLMC_SANITIZE+set}" ] && options+=("-DLLMC_SANITIZE=$LLMC_SANITIZE")
[ -n "${LLMC_BUILD_FUZZERS+set}" ] &&
  options+=("-DLLMC_BUILD_FUZZERS=$LLMC_BUILD_FUZZERS")
if [ ! -f "$build/build.ninja" ]; then
  cmake -G Ninja -S "$root" -B "$build" \
    -DCMAKE_BUILD_TYPE="${LLMC_BUILD_TYPE:-Release}" \
    -DCMAKE_C_COMPILER=clang-22 -DCMAKE_CXX_COMPILER=clang++-22 \
    -DMLIR_DIR=/usr/lib/llvm-22/lib/cmake/mlir \
    -DLLVM_EXTERNAL_LIT=/usr/lib/llvm-22/bin/lit \
    -DPython3_EXECUTABLE=/usr/bin/python3 \
    -DLLVM_USE_LINKER=lld \
    -DCMAKE_INTERPROCEDURAL_OPTIMIZATION=OFF "${options[@]}"
elif [ ${#options[@]} -gt 0 ]; then
  cmake -B "$build" "${options[@]}" >/dev/null
fi
cmake --build "$build" -- "$@"
