# REQUIRES: shared-models
# RUN: %PYTHON %s %shared_models/stories260K.gguf %llmc_src_root/test/reference | FileCheck %s
# The portable (non-vector) kernels, and two threads, against the same reference:
# RUN: env LLMC_KERNELS=scalar %PYTHON %s %shared_models/stories260K.gguf %llmc_src_root/test/reference | FileCheck %s
# RUN: env LLMC_TEST_THREADS=2 %PYTHON %s %shared_models/stories260K.gguf %llmc_src_root/test/reference | FileCheck %s
#
# Logits of the compiled stories260K (F32) against the independent NumPy
# reference: every prompt length 1..64 as one prefill, and a 5-token prefill
# followed by 59 single-token decode steps. Tolerance: max |a - b| over a row
# at most 1e-4 of the row's max |b| (relative, F32).
import sys

import numpy as np

import llmc
import os

model_path, reference_dir = sys.argv[1], sys.argv[2]
sys.path.insert(0, reference_dir)
import llama_ref  # noqa: E402

TOL = 1e-4
ref = llama_ref.Model(model_path)
model = llmc.load(model_path)
llmc.set_threads(int(os.environ.get("LLMC_TEST_THREADS", "1")))
compiled = model.compile(context=128)

prompt = model.tokenize("Once upon a time")
seq = llama_ref.greedy(ref, prompt, 64 - len(prompt))
seq = (prompt + list(seq))[:64]
ref.reset()
expected = ref.forward(seq, 0)


def rel_err(got, want):
    return float(np.max(np.abs(got - want)) / np.max(np.abs(want)))


worst = 0.0
for length in range(1, len(seq) + 1):
    got = compiled.forward(seq[:length], reset=True)
    assert got.shape == (length, expected.shape[1])
    for row in range(length):
        worst = max(worst, rel_err(got[row], expected[row]))
# CHECK: prefill lengths 1..64: worst relative error below 1e-4: True
print(f"prefill lengths 1..{len(seq)}: worst relative error below 1e-4:",
      worst <= TOL, f"({worst:.2e})", file=sys.stderr)
print(f"prefill lengths 1..{len(seq)}: worst relative error below 1e-4:",
      worst <= TOL)

compiled.reset()
rows = [compiled.forward(seq[:5])]
for t in seq[5:]:
    rows.append(compiled.forward([t]))
got = np.concatenate(rows)
decode_worst = max(rel_err(got[i], expected[i]) for i in range(len(seq)))
# CHECK: decode steps 6..64: worst relative error below 1e-4: True
print(f"decode steps 6..{len(seq)}: worst relative error below 1e-4:",
      decode_worst <= TOL, f"({decode_worst:.2e})", file=sys.stderr)
print(f"decode steps 6..{len(seq)}: worst relative error below 1e-4:",
      decode_worst <= TOL)
# Greedy choices agree everywhere.
# CHECK: argmax agrees: True
print("argmax agrees:", bool(np.all(got.argmax(1) == expected.argmax(1))))
