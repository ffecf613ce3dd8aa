# Writes the weights of llmc-quantize-weights.mlir: f32 gate/up (40x64),
# down (64x40), a norm (64) and an f16 table (16x64), back to back.
import sys

import numpy as np

rng = np.random.default_rng(7)
parts = [rng.standard_normal((40, 64)), rng.standard_normal((40, 64)),
         rng.standard_normal((64, 40)), np.ones(64)]
data = b"".join(p.astype(np.float32).tobytes() for p in parts)
data += rng.standard_normal((16, 64)).astype(np.float16).tobytes()
open(sys.argv[1], "wb").write(data)
