# REQUIRES: shared-models
# RUN: env LLMC_CACHE_DIR=%llmc_obj_root/test-cache %PYTHON %s %shared_models | FileCheck %s
# A paged KV cache from Python: greedy tokens equal the contiguous cache's,
# and three sequences forked from one prompt continue exactly as
# independent runs while sharing the prompt's full blocks.
import sys

import numpy as np

import llmc

models = sys.argv[1]
model = llmc.load(f"{models}/stories260K.gguf")
contiguous = model.compile(context=128)
paged = model.compile(context=128, kv="paged-b8")
# CHECK: paged False True {'block_size': 8, 'blocks': 16, 'used': 0, 'copies': 0}
print("paged", contiguous.paged, paged.paged, paged.kv_blocks)


def greedy(compiled, tokens, steps, sequence=0):
    out = []
    for _ in range(steps):
        logits = compiled.forward(tokens, sequence=sequence)
        out.append(int(np.argmax(logits[-1])))
        tokens = [out[-1]]
    return out


prompt = model.tokenize("Once upon a time, there was a little girl named Lily. She")
# CHECK: prompt 17 tokens
print("prompt", len(prompt), "tokens")
expected = greedy(contiguous, prompt, 24)
# CHECK: greedy equal True
print("greedy equal", greedy(paged, prompt, 24) == expected)

paged.reset()
last = paged.forward(prompt)[-1]
firsts = [int(np.argmax(last)), 100, 200]
forks = [paged.fork(len(prompt)) for _ in firsts]
# CHECK: forks [1, 2, 3] blocks used 3
print("forks", forks, "blocks used", paged.kv_blocks["used"])
runs = [greedy(paged, [f], 12, sequence=s) for f, s in zip(firsts, forks)]
# 17 prompt positions: 2 full blocks shared by all, the partial third copied
# by each fork on its first write; each fork then holds positions 16..28.
# CHECK: after forks used 9 copies 3 positions [29, 29, 29]
print("after forks used", paged.kv_blocks["used"], "copies",
      paged.kv_blocks["copies"], "positions",
      [paged.position_of(s) for s in forks])
same = []
for f, run in zip(firsts, runs):
    paged.reset()
    paged.forward(prompt)
    same.append(greedy(paged, [f], 12) == run)
# CHECK: forks equal independent runs [True, True, True]
print("forks equal independent runs", same)
for s in forks:
    paged.release(s)
# CHECK: released used 4
print("released used", paged.kv_blocks["used"])
try:
    contiguous.fork(3)
except Exception as e:
    # CHECK: error: {{.*}}fork needs a paged KV cache (compile with --kv paged)
    print("error:", e)
