#!/usr/bin/env bash
# CPU benchmarks of docs/performance.md: generates the tinyllama-1.1b-shaped
# models (F16, Q8_0, Q4_0) with `llmc gen-model` if missing, then runs
# `llmc bench --json` on each (and on stories260K), writing one JSON file
# per run into bench/results/<date>/ and a summary table to stdout.
#
#   bench/cpu.sh [MODELS_DIR]     (default /tmp/llmc-bench-models)
#
# Environment: LLMC_BENCH_THREADS (default 2), LLMC_BENCH_PROMPT (256),
# LLMC_BENCH_GEN (64), LLMC_BENCH_REPS (3). A benchmark, not a test: the
# machine should be otherwise idle.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
llmc=${LLMC:-$root/build/bin/llmc}
models=${1:-/tmp/llmc-bench-models}
threads=${LLMC_BENCH_THREADS:-2}
prompt=${LLMC_BENCH_PROMPT:-256}
gen=${LLMC_BENCH_GEN:-64}
reps=${LLMC_BENCH_REPS:-3}
vocab=$root/../shared/models/vocab-llama-spm.gguf
out=$root/bench/results/$(date +%Y-%m-%d)
mkdir -p "$models" "$out"

vocab_args=()
[ -f "$vocab" ] && vocab_args=(--vocab "$vocab")
for fmt in Q4_0 Q8_0 F16; do
  file=$models/tinyllama-$fmt.gguf
  [ -f "$file" ] || "$llmc" gen-model --shape tinyllama-1.1b --format "$fmt" \
      "${vocab_args[@]}" -o "$file" >&2
  echo "== tinyllama-1.1b $fmt, $threads threads" >&2
  "$llmc" bench "$file" --threads "$threads" --prompt-tokens "$prompt" \
      --gen-tokens "$gen" --repetitions "$reps" --context 1024 --json \
      > "$out/tinyllama-$fmt.json"
done
stories=$root/../shared/models/stories260K.gguf
if [ -f "$stories" ]; then
  echo "== stories260K, 1 thread (tg128 and pp256 as the reference engine)" >&2
  "$llmc" bench "$stories" --threads 1 --prompt-tokens 1 --gen-tokens 128 \
      --repetitions 5 --json > "$out/stories260K-tg128.json"
  "$llmc" bench "$stories" --threads 1 --prompt-tokens 256 --gen-tokens 1 \
      --repetitions 5 --json > "$out/stories260K-pp256.json"
fi
/usr/bin/python3 "$root/bench/summarize.py" "$out"
