# REQUIRES: shared-models
# RUN: rm -rf %t
# RUN: %PYTHON %llmc_src_root/test/Import/safetensors/Inputs/make-hf.py from-gguf %shared_models/stories260K.gguf %t
# RUN: %PYTHON %s %t %shared_models/stories260K.gguf %llmc_src_root/test/reference | FileCheck %s
#
# stories260K as a Hugging Face directory (q/k rows in rotate-half order,
# rotated by llm.rope's half_split) against the independent NumPy reference
# run on the GGUF file (adjacent-pair order): the same logits, for a 64-token
# prefill and for a 5-token prefill followed by single-token decode steps.
# Tolerance as in stories_logits.py: 1e-4 of the row's max |logit|.
import sys

import numpy as np

import llmc

hf_dir, gguf_path, reference_dir = sys.argv[1], sys.argv[2], sys.argv[3]
sys.path.insert(0, reference_dir)
import llama_ref  # noqa: E402

TOL = 1e-4
ref = llama_ref.Model(gguf_path)
model = llmc.load(hf_dir, tokenizer=gguf_path)
compiled = model.compile(context=128)

prompt = model.tokenize("Once upon a time")
seq = (prompt + list(llama_ref.greedy(ref, prompt, 64 - len(prompt))))[:64]
ref.reset()
expected = ref.forward(seq, 0)


def worst_rel_err(got, want):
    return max(float(np.max(np.abs(g - w)) / np.max(np.abs(w)))
               for g, w in zip(got, want))


prefill = compiled.forward(seq, reset=True)
worst = worst_rel_err(prefill, expected)
# CHECK: prefill of 64 tokens: worst relative error below 1e-4: True
print(f"prefill of {len(seq)} tokens: worst relative error below 1e-4:",
      worst <= TOL)
print(f"  ({worst:.2e})", file=sys.stderr)

compiled.reset()
rows = [compiled.forward(seq[:5])]
for t in seq[5:]:
    rows.append(compiled.forward([t]))
got = np.concatenate(rows)
worst = worst_rel_err(got, expected)
# CHECK: decode steps 6..64: worst relative error below 1e-4: True
print(f"decode steps 6..{len(seq)}: worst relative error below 1e-4:",
      worst <= TOL)
print(f"  ({worst:.2e})", file=sys.stderr)
# CHECK: argmax agrees: True
print("argmax agrees:", bool(np.all(got.argmax(1) == expected.argmax(1))))
