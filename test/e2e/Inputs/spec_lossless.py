"""Greedy speculative decoding must reproduce plain greedy decoding exactly.

Usage: spec_lossless.py LLMC MODEL TOKENS [--kv KV] SPEC [SPEC ...] < prompts

Runs `LLMC run MODEL --temperature 0 -n TOKENS --json` on every prompt (one
per stdin line), then the same with `--spec SPEC` for every SPEC, and
compares the token ids. With `--kv KV` both runs use that KV-cache
compression (KIVI, eviction or both), whose rollback must be exact too.
A SPEC may carry options after it, e.g. "model-k4 --draft-model D.gguf". Prints one summary line per SPEC (prompts, tokens,
draft acceptance) and "lossless" when every sequence matched; otherwise
names the first prompt and position that differ and exits 1.
"""

import json
import subprocess
import sys


def run(llmc, model, tokens, prompt, spec, kv=None):
    cmd = [llmc, "run", model, "--prompt", prompt, "--temperature", "0",
           "-n", str(tokens), "--json"]
    if kv:
        cmd += ["--kv", kv]
    if spec:
        # "SPEC --flag value ...": the spec and options that go with it.
        cmd += ["--spec"] + spec.split()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def main():
    llmc, model, tokens, specs = (sys.argv[1], sys.argv[2], int(sys.argv[3]),
                                  sys.argv[4:])
    kv = None
    if specs[:1] == ["--kv"]:
        kv, specs = specs[1], specs[2:]
    prompts = [line.strip() for line in sys.stdin if line.strip()]
    plain = [run(llmc, model, tokens, p, None, kv)["tokens"] for p in prompts]
    ok = True
    for spec in specs:
        drafted = accepted = steps = total = 0
        for prompt, want in zip(prompts, plain):
            got = run(llmc, model, tokens, prompt, spec, kv)
            if got["tokens"] != want:
                at = next((i for i, (a, b) in enumerate(zip(got["tokens"], want))
                           if a != b), min(len(want), len(got["tokens"])))
                print(f"{spec}: prompt {prompt!r} differs at token {at}")
                ok = False
                break
            stats = got["speculative"]
            drafted += stats["drafted"]
            accepted += stats["accepted"]
            steps += stats["steps"]
            total += len(got["tokens"])
        else:
            print(f"{spec}: {len(prompts)} prompts, {total} tokens, {steps} "
                  f"steps, {accepted}/{drafted} drafts accepted")
    if not ok:
        sys.exit(1)
    print("lossless")


if __name__ == "__main__":
    main()
