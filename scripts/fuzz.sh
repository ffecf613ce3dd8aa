#!/usr/bin/env bash
# Builds the libFuzzer targets (into ./build-fuzz) and runs one of them.
# Usage: scripts/fuzz.sh TARGET SECONDS [libFuzzer flags...]
#   TARGET: gguf or safetensors (llmc-fuzz-TARGET); SECONDS: -max_total_time.
# The corpus grows in build-fuzz/fuzz/corpus/TARGET, starting from the seeds
# the build writes (fuzz/make-seeds.py); crashing inputs land in
# build-fuzz/fuzz/artifacts/TARGET/. Replay one with
#   build-fuzz/bin/llmc-fuzz-TARGET FILE
# Environment: LLMC_BUILD_DIR (default ./build-fuzz); LLMC_BUILD_LOCK, a
# file to hold with flock(1) while building.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
if [ $# -lt 2 ]; then
  sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
target=${1#llmc-fuzz-}
seconds=$2
shift 2
case "$target" in
  gguf|safetensors) ;;
  *) echo "fuzz.sh: unknown target '$target' (gguf, safetensors)" >&2; exit 2 ;;
esac
build=${LLMC_BUILD_DIR:-$root/build-fuzz}

# libFuzzer's runtime comes with compiler-rt, which clang-22 only recommends.
"$root/scripts/setup.sh" sanitizers

lock=()
[ -n "${LLMC_BUILD_LOCK:-}" ] && lock=(flock "$LLMC_BUILD_LOCK")
"${lock[@]}" env LLMC_BUILD_DIR="$build" LLMC_BUILD_FUZZERS=ON \
  LLMC_SANITIZE=address,undefined "$root/scripts/build.sh" \
  "llmc-fuzz-$target" >/dev/null

corpus=$build/fuzz/corpus/$target
artifacts=$build/fuzz/artifacts/$target
mkdir -p "$corpus" "$artifacts"
# -timeout: an input that takes 20 s is a hang; -rss_limit_mb: 2 GiB.
exec "$build/bin/llmc-fuzz-$target" "$corpus" "$build/fuzz/seeds/$target" \
  -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 \
  -dict="$root/fuzz/$target.dict" -artifact_prefix="$artifacts/" \
  -print_final_stats=1 "$@"
