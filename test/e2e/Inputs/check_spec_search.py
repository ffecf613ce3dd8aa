"""Checks `llmc spec-search --json` output, then that its best spec is lossless.

Usage: check_spec_search.py LLMC MODEL SEARCH.json TOKENS < prompts

Checks the shape of the search report (every candidate measured, in range,
identical to greedy decoding; the best is the fastest screened candidate,
re-measured in the confirmation build) and prints
one line per check; then runs `LLMC run MODEL --spec BEST` against plain
greedy decoding on every prompt (one per stdin line, TOKENS tokens each) and
prints "lossless" when every sequence matched (else exits 1).
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import spec_lossless  # noqa: E402


def main():
    llmc, model, path, tokens = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    report = json.load(open(path))
    candidates = report["candidates"]
    screened = [c for c in candidates if c["phase"] != "confirm"]
    fields_ok = all(
        0 <= c["acceptance"] <= 1
        and 1 <= c["tokens_per_step"] <= c["k"] + 1
        and c["speedup"] > 0
        and c["spec_tokens_per_second"] > 0
        and c["greedy_tokens_per_second"] > 0
        and c["identical"]
        and c["tokens"] == report["prompts"] * report["gen_tokens"]
        and 1 <= len(c["skip_layers"]) <= report["max_skip"]
        for c in candidates)
    print(f"layers {report['layers']}, strategy {report['strategy']}, "
          f"{len(screened)} screened, fields ok: {fields_ok}")
    fastest = max(screened, key=lambda c: c["speedup"])
    best = report["best"]
    print(f"best is the fastest screened: {best['spec'] == fastest['spec']}, "
          f"confirmed: {report['confirmed'] and best['phase'] == 'confirm'}")
    prompts = [line.strip() for line in sys.stdin if line.strip()]
    plain = [spec_lossless.run(llmc, model, tokens, p, None)["tokens"]
             for p in prompts]
    for prompt, want in zip(prompts, plain):
        got = spec_lossless.run(llmc, model, tokens, prompt, best["spec"])
        if got["tokens"] != want:
            print(f"{best['spec']}: prompt {prompt!r} differs from greedy")
            sys.exit(1)
    print(f"best spec {best['spec']}: {len(prompts)} prompts x {tokens} "
          f"tokens, lossless")


if __name__ == "__main__":
    main()
