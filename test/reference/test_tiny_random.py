# REQUIRES: shared-models
# RUN: %PYTHON %s %shared_models | FileCheck %s
#
# llama2-tiny-random.gguf (F16 weights, F32 norms, 1 layer, dim 8, 2 heads,
# vocab 32000) loads through the F16 path and gives finite logits; its text is
# meaningless, so only shapes, finiteness and internal consistency are checked.
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gguf_reader import GGUFReader  # noqa: E402
from llama_ref import Model, greedy  # noqa: E402

path = os.path.join(sys.argv[1], "llama2-tiny-random.gguf")
r = GGUFReader(path)
# CHECK: types F16 F16 F32
print("types", r.tensors["token_embd.weight"].type_name, r.tensors["blk.0.attn_q.weight"].type_name,
      r.tensors["blk.0.attn_norm.weight"].type_name)
# The F16 path: dequantized values equal numpy's own float16 view of the bytes.
raw = r.raw("blk.0.ffn_down.weight").view("<f2").astype(np.float32).reshape(8, 32)
# CHECK-NEXT: f16 ffn_down shape (8, 32) equal True
print("f16 ffn_down shape", r.tensor("blk.0.ffn_down.weight").shape,
      "equal", np.array_equal(r.tensor("blk.0.ffn_down.weight"), raw))

m = Model(path)
# CHECK-NEXT: dim 8 layers 1 heads 2 kv_heads 2 head_dim 4 rope_dims 4 vocab 32000 ctx 4096
print("dim", m.n_embd, "layers", m.n_layers, "heads", m.n_heads, "kv_heads", m.n_kv_heads,
      "head_dim", m.head_dim, "rope_dims", m.rope_dims, "vocab", m.vocab, "ctx", m.context_length)
prompt = [1, 450, 4996, 17354, 1701, 29916]
logits = m.forward(prompt, 0)
# CHECK-NEXT: logits (6, 32000) float32 finite True
print("logits", logits.shape, logits.dtype, "finite", bool(np.isfinite(logits).all()))
print("logit range %.4g..%.4g" % (logits.min(), logits.max()), file=sys.stderr)

gen = greedy(m, prompt, 16, stop_at_eos=False)
# CHECK-NEXT: generated 16 in-vocab True
print("generated", len(gen), "in-vocab", all(0 <= t < 32000 for t in gen))
# The logits are small (random weights), so near-ties are likely: compare the
# batched pass with token-by-token decoding numerically, not by argmax.
seq = prompt + gen
m.reset()
full = m.forward(seq, 0)
m.reset()
inc = np.concatenate([m.forward(seq[:6], 0)] + [m.forward([t], 6 + i) for i, t in enumerate(seq[6:])])
# CHECK-NEXT: batched vs incremental max |diff| < 1e-5: True
print("batched vs incremental max |diff| < 1e-5:", float(np.abs(full - inc).max()) < 1e-5)
text = m.detokenize(gen)
# CHECK-NEXT: detokenized str True
print("detokenized", type(text).__name__, isinstance(text, str))
