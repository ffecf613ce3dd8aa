# REQUIRES: shared-models
# RUN: %PYTHON %s %shared_models/stories260K.gguf %llmc_src_root/test/reference | FileCheck %s
#
# Greedy generation with `llmc run` equals the independent reference's greedy
# ids for several prompts of our own (64 tokens or up to end of story).
import json
import subprocess
import sys

model, reference_dir = sys.argv[1], sys.argv[2]
sys.path.insert(0, reference_dir)
import llama_ref  # noqa: E402

PROMPTS = ["Once upon a time", "The little dog", "Lily and Tom went to the park",
           "One day, a big bird", "Mom said", "Tim was sad because"]
ref = llama_ref.Model(model)
matches = 0
for prompt in PROMPTS:
    out = subprocess.run(["llmc", "run", model, "--prompt", prompt,
                          "--max-tokens", "64", "--temperature", "0", "--json"],
                         check=True, capture_output=True, text=True)
    result = json.loads(out.stdout)
    ref.reset()
    want = list(llama_ref.greedy(ref, result["prompt_tokens"], 64))
    got = result["tokens"]
    ok = got == want[:len(got)] and (len(got) == 64 or
                                     want[len(got):len(got) + 1] == [2])
    matches += ok
    print(f"{prompt!r}: {'match' if ok else 'MISMATCH'} ({len(got)} tokens)")
# CHECK: 6/6 prompts match the reference
print(f"{matches}/{len(PROMPTS)} prompts match the reference")
