#!/usr/bin/env bash
# The llmc demo: installs dependencies, builds, then compiles a sample
# llm-dialect decoder (docs/examples/tiny-llama.mlir, or the .mlir file given
# as the first argument) through llmc-frontend-pipeline with llmc-opt and
# prints the model summary and the resulting IR.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${LLMC_BUILD_DIR:-$root/build}
model=${1:-$root/docs/examples/tiny-llama.mlir}

# LLMC_DEMO_NO_BUILD=1 skips install and build (the demo's own test uses it).
if [ -z "${LLMC_DEMO_NO_BUILD:-}" ]; then
  "$root/scripts/setup.sh"
  "$root/scripts/build.sh" llmc-opt >/dev/null
fi

echo "== llmc demo: $model"
echo "== whole-model verification"
"$build/bin/llmc-opt" "$model" --llmc-verify-model=summary=true -o /dev/null
echo "== llmc-opt --llmc-frontend-pipeline (verify + refine shapes, canonicalize, cse)"
"$build/bin/llmc-opt" "$model" --llmc-frontend-pipeline
