# REQUIRES: shared-models
# RUN: %PYTHON %s %shared_models/stories260K.gguf | FileCheck %s
#
# The decode loop allocates nothing: after the prompt and one decode step,
# 100 more decode steps take no buffer from the system (the step
# functions' buffers are recycled by libllmc_kernels' allocator; the
# kernels' own scratch is sized on first use).
import sys

import numpy as np

import llmc
from llmc import _llmc

model = llmc.load(sys.argv[1])
compiled = model.compile(context=256)
logits = compiled.forward(model.tokenize("Once upon a time"), reset=True)
token = int(np.argmax(logits[-1]))
logits = compiled.forward([token])
before = _llmc.runtime.system_allocations()
for _ in range(100):
    token = int(np.argmax(logits[-1]))
    logits = compiled.forward([token])
after = _llmc.runtime.system_allocations()
# CHECK: first steps allocated True
print("first steps allocated", before > 0)
# CHECK: allocations in 100 decode steps: 0
print("allocations in 100 decode steps:", after - before)
