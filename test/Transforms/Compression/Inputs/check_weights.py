# Checks what llmc-quantize-weights wrote against numpy, independently of the
# compiler: q8.bin / q4.bin must hold ggml Q8_0 / Q4_0 blocks of gate, up,
# down (ragged K = 40 padded with zeros to 64) and the table at the offsets
# the pass printed, rounded as llmc rounds (docs/compression.md): the f16
# scale first, then each value to the nearest step of that stored scale
# (ties to even), which differs from ggml's reference quantizer (it
# multiplies by the reciprocal of the unrounded scale) in rare last-bit ties;
# perm.bin must hold the same MLP with its 40 intermediate channels permuted
# (gate/up rows, down columns) by descending max |down column|, and the table
# widened to f32.
import sys

import numpy as np



def blocks(x):
    return np.ascontiguousarray(x, dtype=np.float32).reshape(-1, 32)


def quantize_q8_0(x):
    x = blocks(x)
    d = (np.abs(x).max(axis=1) / np.float32(127)).astype(np.float16)
    df = d.astype(np.float32)[:, None]
    q = np.where(df > 0, np.round(x / np.where(df > 0, df, 1)), 0)
    out = np.empty((x.shape[0], 34), dtype=np.uint8)
    out[:, 0:2] = d.view(np.uint8).reshape(-1, 2)
    out[:, 2:] = np.clip(q, -127, 127).astype(np.int8).view(np.uint8)
    return out.tobytes()


def quantize_q4_0(x):
    x = blocks(x)
    extreme = x[np.arange(len(x)), np.abs(x).argmax(axis=1)]
    d = (extreme / np.float32(-8)).astype(np.float16)
    df = d.astype(np.float32)[:, None]
    q = np.where(df != 0, np.clip(np.round(x / np.where(df != 0, df, 1)),
                                  -8, 7) + 8, 8).astype(np.uint8)
    out = np.empty((x.shape[0], 18), dtype=np.uint8)
    out[:, 0:2] = d.view(np.uint8).reshape(-1, 2)
    out[:, 2:] = q[:, :16] | (q[:, 16:] << 4)
    return out.tobytes()


src, q8, q4, perm = (open(p, "rb").read() for p in sys.argv[1:5])
f32 = np.frombuffer(src[:30976], dtype=np.float32)
gate = f32[0:2560].reshape(40, 64)
up = f32[2560:5120].reshape(40, 64)
down = f32[5120:7680].reshape(64, 40)
table = np.frombuffer(src[30976:], dtype=np.float16).reshape(16, 64)


def padded(w, k):
    out = np.zeros((w.shape[0], k), dtype=np.float32)
    out[:, :w.shape[1]] = w
    return out


def check(name, got, want):
    if got != want:
        at = next(i for i in range(min(len(got), len(want)))
                  if got[i] != want[i]) if len(got) == len(want) else "size"
        sys.exit(f"{name}: bytes differ (first at {at})")


check("q8 gate", q8[0:2720], quantize_q8_0(gate))
check("q8 up", q8[2752:5472], quantize_q8_0(up))
check("q8 down", q8[5504:9856], quantize_q8_0(padded(down, 64)))
check("q8 table", q8[9856:], quantize_q8_0(table.astype(np.float32)))
check("q4 gate", q4[0:1440], quantize_q4_0(gate))
check("q4 up", q4[1472:2912], quantize_q4_0(up))
check("q4 down", q4[2944:5248], quantize_q4_0(padded(down, 64)))
check("q4 table", q4[5248:], quantize_q4_0(table.astype(np.float32)))

order = np.argsort(-np.abs(down).max(axis=0), kind="stable")
assert sorted(order.tolist()) == list(range(40))
assert order.tolist() != list(range(40)), "the test weights need a reordering"
p32 = np.frombuffer(perm, dtype=np.float32)
check("perm gate", p32[0:2560].tobytes(), gate[order].tobytes())
check("perm up", p32[2560:5120].tobytes(), up[order].tobytes())
check("perm down", p32[5120:7680].tobytes(),
      np.ascontiguousarray(down[:, order]).tobytes())
check("perm table", p32[7680:8704].tobytes(),
      table.astype(np.float32).tobytes())
# The permutation cancels: the MLP's output is unchanged.
x = np.random.default_rng(3).standard_normal((5, 64)).astype(np.float32)


def mlp(g, u, d):
    g, u, d = (w.astype(np.float64) for w in (g, u, d))
    a, b = x @ g.T, x @ u.T
    return (a / (1 + np.exp(-a)) * b) @ d.T


ref = mlp(gate, up, down)
got = mlp(p32[0:2560].reshape(40, 64), p32[2560:5120].reshape(40, 64),
          p32[5120:7680].reshape(64, 40))
assert np.allclose(ref, got, rtol=1e-12, atol=1e-12)
print("weights ok")
