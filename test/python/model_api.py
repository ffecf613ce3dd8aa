# REQUIRES: shared-models
# RUN: env LLMC_CACHE_DIR=%llmc_obj_root/test-cache %PYTHON %s %shared_models | FileCheck %s
# The Python model API: load, tokenize, compile, generate, forward -> numpy.
import sys

import numpy as np

import llmc

models = sys.argv[1]
model = llmc.load(f"{models}/stories260K.gguf")
# CHECK: tokens [1, 403, 407, 261, 378]
print("tokens", model.tokenize("Once upon a time"))
# CHECK: llmc.tokenize [1, 403, 407, 261, 378]
print("llmc.tokenize", llmc.tokenize(f"{models}/stories260K.gguf", "Once upon a time"))

compiled = model.compile(target="cpu", context=128)
# CHECK: context 128
print("context", compiled.context)
text = compiled.generate("Once upon a time", max_tokens=30, temperature=0)
# CHECK: generate: ', there was a little girl named Lily. She loved to play outside in the park.
print("generate:", repr(text))

logits = compiled.forward(model.tokenize("Once upon a time"), reset=True)
# CHECK: forward (5, 512) float32 position 5 argmax 432
print("forward", logits.shape, logits.dtype, "position", compiled.position,
      "argmax", int(np.argmax(logits[-1])))
step = compiled.forward([432])
# CHECK: decode step (1, 512) position 6
print("decode step", step.shape, "position", compiled.position)

# Sampling is reproducible for a seed.
a = compiled.generate("Once upon a time", max_tokens=20, temperature=0.9, top_k=40, seed=3)
b = compiled.generate("Once upon a time", max_tokens=20, temperature=0.9, top_k=40, seed=3)
# CHECK: same seed same text True
print("same seed same text", a == b)

# Errors: exceptions, not crashes.
try:
    compiled.forward(list(range(200)), reset=True)
except llmc.MLIRError as e:
    # CHECK: too long: 200 tokens at position 0 exceed the context of 128 tokens
    print("too long:", e)
try:
    llmc.load(f"{models}/no-such-model.gguf")
except FileNotFoundError as e:
    # CHECK: missing: FileNotFoundError
    print("missing:", type(e).__name__)
try:
    model.compile(target="fpga")
except ValueError as e:
    # CHECK: target: target 'fpga' is not available yet (supported: cpu)
    print("target:", e)
try:
    llmc.load(f"{models}/vocab-llama-spm.gguf").compile()
except llmc.MLIRError as e:
    # CHECK: no weights: {{.*}}vocab-llama-spm.gguf: {{.*}}
    print("no weights:", e)
