# RUN: rm -rf %t && mkdir -p %t
# RUN: %PYTHON %s %llmc_src_root/test/reference %t | FileCheck %s
#
# `llmc gen-model` quantizes correctly: the Q8_0/Q4_0/F16 files of a seed,
# decoded by the independent NumPy reader (test/reference/gguf_reader.py),
# hold the values of the F32 file of that seed within the format's step,
# and their bytes are exactly what the reference quantizers
# (gguf_writer.encode_tensor, ggml's round-to-nearest rules) make of the
# F32 values. Also checks the weight statistics (uniform, std 0.02; norms 1).
import subprocess
import sys

import numpy as np

reference_dir, tmp = sys.argv[1], sys.argv[2]
sys.path.insert(0, reference_dir)
import gguf_reader  # noqa: E402
import gguf_writer  # noqa: E402

SHAPE = "dim=128,layers=2,heads=4,kv_heads=2,ffn=352,vocab=300,context=64"


def generate(fmt, seed=5):
    path = f"{tmp}/{fmt}.gguf"
    subprocess.run(["llmc", "gen-model", "--shape", SHAPE, "--format", fmt,
                    "--seed", str(seed), "-o", path], check=True,
                   stdout=subprocess.DEVNULL)
    return gguf_reader.GGUFReader(path)


def f16(raw):
    return np.ascontiguousarray(raw).view("<f2").astype(np.float32)


ref = generate("F32")
values = {name: ref.tensor(name) for name in ref.tensors}

# The weights: uniform in [-a, a) with a = 0.02*sqrt(3); norms exactly 1.
weights = np.concatenate([v.ravel() for n, v in values.items()
                          if not n.endswith("norm.weight")])
a = 0.02 * np.sqrt(3)
print(f"stats: std {weights.std():.4f} |mean| < 1e-3 {abs(weights.mean()) < 1e-3} "
      f"in range {bool(np.all(np.abs(weights) <= a))}")
# CHECK: stats: std 0.0200 |mean| < 1e-3 True in range True
print("norms are 1:", all(np.all(v == 1) for n, v in values.items()
                          if n.endswith("norm.weight")))
# CHECK: norms are 1: True

for fmt in ("F16", "Q8_0", "Q4_0"):
    q = generate(fmt)
    same_bytes, within = True, True
    worst = 0.0
    for name, x in values.items():
        info = q.tensors[name]
        assert info.dims == ref.tensors[name].dims, name
        y = q.tensor(name)
        err = np.abs(y - x)
        if name.endswith("norm.weight"):
            assert gguf_reader.GGMLType.NAMES[info.type] == "F32", name
            within &= bool(np.all(err == 0))
            continue
        assert gguf_reader.GGMLType.NAMES[info.type] == fmt, (name, info.type)
        same_bytes &= np.array_equal(gguf_writer.encode_tensor(x, info.type),
                                     q.raw(name))
        if fmt == "F16":
            # Round to nearest: half an f16 ulp (2^-11 relative).
            bound = np.abs(x) * 2.0 ** -11 + 2.0 ** -25
        else:
            raw = q.raw(name)
            size = 34 if fmt == "Q8_0" else 18
            d = np.abs(f16(raw.reshape(-1, size)[:, 0:2])).reshape(-1, 1)
            # Q8_0: half a step (d = amax/127) plus d's own f16 rounding on
            # up to 127 steps. Q4_0: one step (d = -max/8; the far end of
            # the range maps to 7 steps, at most d away).
            step = 0.5 * d * (1 + 2.0 ** -9 * 256) if fmt == "Q8_0" else \
                d * (1 + 2.0 ** -9 * 16)
            bound = np.broadcast_to(step, (d.shape[0], 32)).reshape(x.shape)
        within &= bool(np.all(err <= bound))
        worst = max(worst, float(err.max()))
    print(f"{fmt}: same bytes as the reference quantizer {same_bytes}, "
          f"within one step {within}")
    print(f"{fmt}: max abs error {worst:.2e}", file=sys.stderr)
# CHECK: F16: same bytes as the reference quantizer True, within one step True
# CHECK: Q8_0: same bytes as the reference quantizer True, within one step True
# CHECK: Q4_0: same bytes as the reference quantizer True, within one step True

# Another seed: other values, same statistics.
other = generate("F32", seed=6)
print("seed changes weights:",
      not np.array_equal(other.tensor("blk.0.attn_q.weight"),
                         values["blk.0.attn_q.weight"]))
# CHECK: seed changes weights: True
