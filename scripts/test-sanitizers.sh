#!/usr/bin/env bash
# Builds llmc with AddressSanitizer and UndefinedBehaviorSanitizer
# (LLMC_SANITIZE=address,undefined) into ./build-asan and runs every test
# there with lit: FileCheck tests, GoogleTest, Python and the end-to-end
# tests on the real models. A sanitizer report fails the test that hit it.
# Extra arguments go to lit. See docs/testing.md.
# Environment: LLMC_BUILD_DIR (default ./build-asan); LLMC_BUILD_LOCK, a
# file to hold with flock(1) while building.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${LLMC_BUILD_DIR:-$root/build-asan}

"$root/scripts/setup.sh" sanitizers
lock=()
[ -n "${LLMC_BUILD_LOCK:-}" ] && lock=(flock "$LLMC_BUILD_LOCK")
"${lock[@]}" env LLMC_BUILD_DIR="$build" LLMC_SANITIZE=address,undefined \
  "$root/scripts/build.sh"
exec /usr/lib/llvm-22/bin/lit -v --no-progress-bar "$@" "$build/test" \
  "$build/test/Unit"
