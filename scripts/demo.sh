#!/usr/bin/env bash
# The llmc demo: installs dependencies, builds, then compiles the project's own
# demo model (models/demo-llama.gguf, a tiny Llama trained by
# tools/demo-model/train.py) with `llmc run` and generates a short story,
# printing the text and the prefill/decode speed.
#
#   scripts/demo.sh                 the demo model
#   scripts/demo.sh MODEL.gguf      another GGUF Llama model
#   scripts/demo.sh --ir [FILE]     the llmc-opt demo: the model summary and the
#                                   IR after llmc-frontend-pipeline of
#                                   docs/examples/tiny-llama.mlir (or FILE)
#
# Environment: LLMC_DEMO_PROMPT (default "Once upon a time"),
# LLMC_DEMO_NO_BUILD=1 skips install and build (the demo's own test uses it),
# LLMC_BUILD_DIR (default ./build).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${LLMC_BUILD_DIR:-$root/build}

if [ "${1:-}" = "--ir" ]; then
  model=${2:-$root/docs/examples/tiny-llama.mlir}
  if [ -z "${LLMC_DEMO_NO_BUILD:-}" ]; then
    "$root/scripts/setup.sh"
    "$root/scripts/build.sh" llmc-opt >/dev/null
  fi
  echo "== llmc demo: $model"
  echo "== whole-model verification"
  "$build/bin/llmc-opt" "$model" --llmc-verify-model=summary=true -o /dev/null
  echo "== llmc-opt --llmc-frontend-pipeline (verify + refine shapes, canonicalize, cse)"
  "$build/bin/llmc-opt" "$model" --llmc-frontend-pipeline
  exit 0
fi

model=${1:-$root/models/demo-llama.gguf}
prompt=${LLMC_DEMO_PROMPT:-Once upon a time}
case "$model" in
  *.gguf) ;;
  *) echo "demo.sh: expected a .gguf model or --ir, got '$model'" >&2; exit 2 ;;
esac
if [ ! -f "$model" ]; then
  echo "demo.sh: $model: no such file" >&2
  exit 1
fi

if [ -z "${LLMC_DEMO_NO_BUILD:-}" ]; then
  "$root/scripts/setup.sh"
  "$root/scripts/build.sh" llmc >/dev/null
fi

echo "== llmc demo: $model"
info=$("$build/bin/llmc" inspect "$model")
printf '%s\n' "$info" | sed -n '1,/^tokenizer:/p'
echo "== llmc run --prompt \"$prompt\" --max-tokens 200 --temperature 0.8 --seed 1"
"$build/bin/llmc" run "$model" --prompt "$prompt" --max-tokens 200 \
  --temperature 0.8 --seed 1 --echo
