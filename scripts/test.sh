#!/usr/bin/env bash
# Installs dependencies, builds llmc and runs every test (lit + FileCheck,
# GoogleTest, Python) with lit. Exit status is non-zero if anything fails.
# Extra arguments go to lit (e.g. --filter kv).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${LLMC_BUILD_DIR:-$root/build}

"$root/scripts/setup.sh"
"$root/scripts/build.sh"
exec /usr/lib/llvm-22/bin/lit -v --no-progress-bar "$@" "$build/test" "$build/test/Unit"
