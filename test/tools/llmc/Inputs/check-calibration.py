"""Checks the activation statistics `llmc calibrate` wrote for stories260K.

Usage: check-calibration.py STATS.json ROWS

Every projection of the 5 layers and the lm head has a list of K means
(K = 64, the model's dim, but 172, the FFN width, for ffn_down), all finite
and positive; q/k/v read the same normed input, as do gate/up, so their
lists are identical.
"""

import json
import math
import sys


def main():
    stats = json.load(open(sys.argv[1]))
    rows = int(sys.argv[2])
    assert stats["rows"] == rows, stats["rows"]
    assert stats["model"].endswith("stories260K.gguf"), stats["model"]
    tensors = stats["tensors"]
    widths = {"attn_q": 64, "attn_k": 64, "attn_v": 64, "attn_output": 64,
              "ffn_gate": 64, "ffn_up": 64, "ffn_down": 172}
    expected = {"output.weight": 64}
    for layer in range(5):
        for proj, k in widths.items():
            expected["blk.%d.%s.weight" % (layer, proj)] = k
    assert set(tensors) == set(expected), sorted(set(tensors) ^ set(expected))
    for name, k in expected.items():
        means = tensors[name]
        assert len(means) == k, (name, len(means))
        assert all(math.isfinite(m) and m > 0 for m in means), name
    for layer in range(5):
        blk = lambda p: tensors["blk.%d.%s.weight" % (layer, p)]
        assert blk("attn_q") == blk("attn_k") == blk("attn_v"), layer
        assert blk("ffn_gate") == blk("ffn_up"), layer
        assert blk("attn_q") != blk("ffn_gate"), layer
    print("calibration ok: %d tensors" % len(tensors))
    return 0


if __name__ == "__main__":
    sys.exit(main())
