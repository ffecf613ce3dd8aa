#!/usr/bin/env bash
# Installs everything llmc needs to build and test on Debian 12 (bookworm)
# with apt-get: LLVM/MLIR 22, clang-22, lld, Ninja, pybind11, GoogleTest.
# Idempotent: when every package is present it returns at once.
# `setup.sh sanitizers` also installs compiler-rt (libclang-rt-22-dev: the
# ASan/UBSan and libFuzzer runtimes), for scripts/test-sanitizers.sh and
# scripts/fuzz.sh.
set -euo pipefail

packages=(cmake ninja-build llvm-22-dev llvm-22-tools libmlir-22-dev
          mlir-22-tools clang-22 lld pybind11-dev python3-dev python3-numpy
          libgtest-dev)
[ "${1:-}" = sanitizers ] && packages+=(libclang-rt-22-dev)

missing=()
for pkg in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null |
      grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || {
    echo "llmc setup: need root or sudo to install: ${missing[*]}" >&2
    exit 1
  }
  sudo=sudo
fi
echo "llmc setup: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
echo "llmc setup: done"
