# Writes activation statistics for llmc-quantize-weights-awq.mlir: the mean
# |x| of each input channel of the three projections, with a few outlier
# channels (AWQ's premise: a small set of channels carries large
# activations). gate/up read the normed input (64 channels), down reads the
# SwiGLU output (40 channels).
import json
import sys

import numpy as np

rng = np.random.default_rng(11)
normed = rng.uniform(0.2, 1.0, 64)
normed[[3, 17, 42]] = [30.0, 12.0, 20.0]
hidden = rng.uniform(0.05, 0.5, 40)
hidden[[5, 33]] = [8.0, 15.0]
stats = {"model": "llmc-quantize-weights-awq.mlir", "rows": 100, "tensors": {
    "blk.0.ffn_gate.weight": normed.tolist(),
    "blk.0.ffn_up.weight": normed.tolist(),
    "blk.0.ffn_down.weight": hidden.tolist()}}
json.dump(stats, open(sys.argv[1], "w"))
