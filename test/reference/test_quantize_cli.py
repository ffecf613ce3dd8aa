# REQUIRES: shared-models
# RUN: %PYTHON %S/gguf_writer.py quantize %shared_models/stories260K.gguf %t.q8_0.gguf --type Q8_0 | FileCheck --check-prefix=Q8 %s
# RUN: %PYTHON %S/gguf_writer.py quantize %shared_models/stories260K.gguf %t.q4_0.gguf --type Q4_0 | FileCheck --check-prefix=Q4 %s
# RUN: %PYTHON %S/gguf_writer.py quantize %shared_models/stories260K.gguf %t.f16.gguf --type F16 --quiet | FileCheck --check-prefix=F16 %s
# RUN: %PYTHON %S/llama_ref.py %t.q8_0.gguf --tokens 1,403,407,261,378 --n 57 | FileCheck --check-prefix=GEN-Q8 %s
# RUN: %PYTHON %S/llama_ref.py %t.q4_0.gguf --tokens 1,403,407,261,378 --n 26 | FileCheck --check-prefix=GEN-Q4 %s
# RUN: %PYTHON %s %shared_models %t | FileCheck %s
#
# The quantize CLI converts stories260K's 2-D weights whose K is a multiple of
# 32 (all but ffn_down, K=172) to Q8_0/Q4_0, keeps 1-D norms and ffn_down F32,
# copies the metadata; the reader loads the result and the reference model
# still runs it.  Q8_0 keeps the whole README continuation; Q4_0 drifts after
# "outside in the".
#
# Q8: convert token_embd.weight F32 -> Q8_0 dims=[64, 512]
# Q8: keep output_norm.weight F32 (1-D) dims=[64]
# Q8: convert output.weight F32 -> Q8_0 dims=[64, 512]
# Q8: convert blk.0.attn_q.weight F32 -> Q8_0 dims=[64, 64]
# Q8: convert blk.0.ffn_gate.weight F32 -> Q8_0 dims=[64, 172]
# Q8: keep blk.0.ffn_down.weight F32 (innermost dim 172 is not a multiple of 32) dims=[172, 64]
# Q8: 32 tensors converted to Q8_0, 16 kept
# Q4: keep blk.4.ffn_down.weight F32 (innermost dim 172 is not a multiple of 32) dims=[172, 64]
# Q4: 32 tensors converted to Q4_0, 16 kept
# F16: 37 tensors converted to F16, 11 kept
#
# GEN-Q8: , there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball. She wanted to play with it, but it was too high.{{$}}
# GEN-Q4: , there was a little girl named Lily. She loved to play outside in the sun.{{$}}
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gguf_reader import GGUFReader  # noqa: E402
from llama_ref import Model, greedy  # noqa: E402

models, tmp = sys.argv[1], sys.argv[2]
PROMPT = [1, 403, 407, 261, 378]
src = GGUFReader(os.path.join(models, "stories260K.gguf"))
ref = Model(os.path.join(models, "stories260K.gguf"))
ref_logits = ref.forward(PROMPT, 0)

for qt, suffix, bound in (("Q8_0", "q8_0", 0.5), ("Q4_0", "q4_0", 8.0), ("F16", "f16", 0.05)):
    path = "%s.%s.gguf" % (tmp, suffix)
    r = GGUFReader(path)
    types = {}
    for t in r.tensors.values():
        types.setdefault(t.type_name, []).append(t.name)
    same_md = all(r.metadata[k] == v for k, v in src.metadata.items() if k != "general.file_type")
    print(qt, "types", {k: len(v) for k, v in sorted(types.items())},
          "ffn_down", r.tensors["blk.0.ffn_down.weight"].type_name,
          "norm", r.tensors["blk.0.attn_norm.weight"].type_name,
          "metadata copied", same_md and len(r.metadata) == len(src.metadata) + 1,
          "file_type", r.metadata["general.file_type"])
    m = Model(path)
    lg = m.forward(PROMPT, 0)
    diff = float(np.abs(lg - ref_logits).max())
    top1 = (lg.argmax(1) == ref_logits.argmax(1)).tolist()
    print(qt, "max |logit - F32| < %g:" % bound, diff < bound, "top-1 agrees", top1)
    print("%s: max |logit - F32| over the prompt = %.4g" % (qt, diff), file=sys.stderr)
    gen = greedy(m, PROMPT, 57)
    print("%s: text %r" % (qt, m.detokenize(gen)), file=sys.stderr)

# CHECK: Q8_0 types {'F32': 16, 'Q8_0': 32} ffn_down F32 norm F32 metadata copied True file_type 7
# CHECK-NEXT: Q8_0 max |logit - F32| < 0.5: True top-1 agrees [True, True, True, True, True]
# CHECK-NEXT: Q4_0 types {'F32': 16, 'Q4_0': 32} ffn_down F32 norm F32 metadata copied True file_type 2
# CHECK-NEXT: Q4_0 max |logit - F32| < 8: True top-1 agrees [True, True, True, True, True]
# CHECK-NEXT: F16 types {'F16': 37, 'F32': 11} ffn_down F16 norm F32 metadata copied True file_type 1
# CHECK-NEXT: F16 max |logit - F32| < 0.05: True top-1 agrees [True, True, True, True, True]
