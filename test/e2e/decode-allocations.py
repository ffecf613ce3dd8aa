# REQUIRES: shared-models
# RUN: %PYTHON %s %shared_models/stories260K.gguf | FileCheck %s
#
# The decode loop allocates nothing. With the CPU pipeline's arena
# (llmc-plan-memory), the step functions ask the allocator for no buffer at
# all: 100 decode steps after the prompt make 0 allocator calls. Without it
# (plan-memory=false) every step asks for its temporaries, which the
# allocator recycles (still no system allocation after the first steps).
# unittests/AllocationTest.cpp counts every malloc of the process.
import sys

import numpy as np

import llmc
from llmc import _llmc

model = llmc.load(sys.argv[1])
rt = _llmc.runtime


def decode(compiled):
    logits = compiled.forward(model.tokenize("Once upon a time"), reset=True)
    token = int(np.argmax(logits[-1]))
    logits = compiled.forward([token])
    calls, system = rt.allocator_calls(), rt.system_allocations()
    for _ in range(100):
        token = int(np.argmax(logits[-1]))
        logits = compiled.forward([token])
    return rt.allocator_calls() - calls, rt.system_allocations() - system


# CHECK: arena: allocator calls 0, system allocations 0
calls, system = decode(model.compile(context=256))
print(f"arena: allocator calls {calls}, system allocations {system}")
# CHECK: no arena: allocator calls per step > 0 True, system allocations 0
calls, system = decode(
    model.compile(context=256, pipeline="llmc-cpu-pipeline{plan-memory=false}"))
print(f"no arena: allocator calls per step > 0 {calls >= 100}, "
      f"system allocations {system}")
