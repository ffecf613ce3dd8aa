# REQUIRES: shared-models
# RUN: %PYTHON %s %shared_models | FileCheck %s
# RUN: %PYTHON %S/llama_ref.py %shared_models/stories260K.gguf --tokens 1,403,407,261,378 --n 57 --echo | FileCheck --check-prefix=CLI %s
# RUN: %PYTHON %S/llama_ref.py %shared_models/stories260K.gguf --tokens 1,403,407,261,378 --n 8 --json --logits-out %t.npy | FileCheck --check-prefix=JSON %s
# RUN: %PYTHON -c "import numpy as np; a = np.load('%t.npy'); print(a.shape, a.dtype, bool(np.isfinite(a).all()))" | FileCheck --check-prefix=NPY %s
#
# The numpy reference Llama reproduces the greedy continuation of
# stories260K.gguf from "Once upon a time" stated in ../shared/models/README.md
# (agreed on by three independent implementations), byte for byte; a whole
# sequence in one forward pass gives the same logits as token-by-token decoding
# through the KV cache.
import os
import re
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from llama_ref import Model, greedy  # noqa: E402

models = sys.argv[1]
PROMPT = [1, 403, 407, 261, 378]

m = Model(os.path.join(models, "stories260K.gguf"))
# CHECK: dim 64 layers 5 heads 8 kv_heads 4 head_dim 8 rope_dims 8 vocab 512 tied False
print("dim", m.n_embd, "layers", m.n_layers, "heads", m.n_heads, "kv_heads", m.n_kv_heads,
      "head_dim", m.head_dim, "rope_dims", m.rope_dims, "vocab", m.vocab, "tied", m.tied)
# CHECK-NEXT: prompt text: 'Once upon a time'
print("prompt text:", repr(m.detokenize(PROMPT)))

gen = greedy(m, PROMPT, 64)
text = m.detokenize(gen)
# CHECK-NEXT: generated 64 tokens
print("generated", len(gen), "tokens")
# CHECK-NEXT: ids 432,383,286,261,376,298,315,421,395,317,426,338,401,396,267,337,410,408,419,292,411,322,265,282,295,433,426,385,328,432,358,394,261,370,432,352,266,268,388,426,338,391,266,267,337,335,312,432,398,312,286,267,414,270,333,415,426,13,438,310,439,419,357,336
print("ids", ",".join(map(str, gen)))
# CHECK-NEXT: text: ", there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball. She wanted to play with it, but it was too high.\nLily's mom said"
print("text:", repr(text))

# The expected continuation, read from the README itself.
readme = open(os.path.join(models, "README.md"), encoding="utf-8").read()
expected = re.search(r"continues:\s*`([^`]*)`", readme).group(1)
# CHECK-NEXT: matches README: True
print("matches README:", text.startswith(expected) and text[len(expected):].startswith("\n"))

# One batched forward over prompt + generation == token-by-token decoding.
seq = PROMPT + gen
m.reset()
full = m.forward(seq, 0)
m.reset()
steps = [m.forward(seq[:5], 0)] + [m.forward([t], 5 + i) for i, t in enumerate(seq[5:])]
inc = np.concatenate(steps)
diff = float(np.abs(full - inc).max())
# CHECK-NEXT: batched vs incremental: argmax equal True max |diff| < 1e-4 True
print("batched vs incremental: argmax equal", bool((full.argmax(1) == inc.argmax(1)).all()),
      "max |diff| < 1e-4", diff < 1e-4)
print("batched vs incremental max |diff| = %.3g" % diff, file=sys.stderr)
# Every next-token prediction of the batched pass agrees with greedy.
# CHECK-NEXT: teacher-forced argmax == greedy: True
print("teacher-forced argmax == greedy:", full.argmax(1)[4:-1].tolist() == gen)

# Rewinding the cache (start_pos < n_past) recomputes the same logits.
m.reset()
m.forward(seq[:20], 0)
again = m.forward(seq[10:20], 10)
# CHECK-NEXT: rewind: max |diff| < 1e-4 True
print("rewind: max |diff| < 1e-4", float(np.abs(again - full[10:20]).max()) < 1e-4)

# CLI: Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball. She wanted to play with it, but it was too high.{{$}}
# JSON: {"prompt": [1, 403, 407, 261, 378], "generated": [432, 383, 286, 261, 376, 298, 315, 421], "text": ", there was a little girl"}
# NPY: (5, 512) float32 True
