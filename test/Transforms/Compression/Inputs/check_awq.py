# Checks llmc-quantize-weights' AWQ scaling against numpy, independently of
# the compiler. awq.bin (q4_0 with activation-stats) and plain.bin (q4_0
# without) hold gate, up, down at the offsets the lit test checks, awq.bin
# also the scaled norm gain. The scales s are recovered from the gain
# (g' = g / s) and the down projection's must match the up rows' scaling;
# the quantized weights, divided back by s, must approximate the originals
# better in the activation-weighted error AWQ minimizes than plain q4_0.
import json
import sys

import numpy as np

src, awq, plain = (open(p, "rb").read() for p in sys.argv[1:4])
stats = json.load(open(sys.argv[4]))["tensors"]
f32 = np.frombuffer(src[:30976], dtype=np.float32)
gate = f32[0:2560].reshape(40, 64).astype(np.float64)
up = f32[2560:5120].reshape(40, 64).astype(np.float64)
down = f32[5120:7680].reshape(64, 40).astype(np.float64)
gain = f32[7680:7744].astype(np.float64)


def dequant_q4_0(data, rows, cols):
    blocks = (cols + 31) // 32
    b = np.frombuffer(data, dtype=np.uint8).reshape(rows, blocks, 18)
    d = b[:, :, 0:2].copy().view(np.float16).astype(np.float64)
    q = np.concatenate([b[:, :, 2:] & 15, b[:, :, 2:] >> 4], axis=2)
    return ((q.astype(np.float64) - 8) * d).reshape(rows, blocks * 32)[:, :cols]


def weighted_error(w_hat, w, m):
    return float((((w_hat - w) * m[None, :]) ** 2).sum())


m_in = np.array(stats["blk.0.ffn_gate.weight"])
m_hid = np.array(stats["blk.0.ffn_down.weight"])
# Offsets: gate 0, up 1472, down 2944 (5248 bytes with the table in
# plain.bin); awq.bin has the gain at 5248 (before the table).
new_gain = np.frombuffer(awq[5248:5248 + 256], dtype=np.float32)
s_in = gain / new_gain
assert np.all(np.isfinite(s_in)) and np.ptp(s_in) > 0.1, "no input scaling"
gate_awq = dequant_q4_0(awq[0:1440], 40, 64) / s_in[None, :]
up_awq = dequant_q4_0(awq[1472:2912], 40, 64)
down_awq = dequant_q4_0(awq[2944:5248], 64, 40)
# up was scaled twice: columns by s_in, rows by 1 / s_hid. Recover s_hid
# from the rows' magnitudes (up_awq * s_hid / s_in ~ up).
up_cols = up_awq / s_in[None, :]
s_hid = np.array([np.dot(up[r], up[r]) / np.dot(up_cols[r], up[r])
                  for r in range(40)])
assert np.ptp(s_hid) > 0.1, "no hidden scaling"
up_awq = up_cols * s_hid[:, None]
down_awq = down_awq / s_hid[None, :]
# The scales of the hidden channels follow their activations (AWQ scales
# channels with large activations up).
assert s_hid[33] > np.median(s_hid) and s_in[3] > np.median(s_in)

errors = {}
for name, w, m, awq_hat, off, shape in [
        ("gate", gate, m_in, gate_awq, 0, (40, 64)),
        ("up", up, m_in, up_awq, 1472, (40, 64)),
        ("down", down, m_hid, down_awq, 2944, (64, 40))]:
    size = shape[0] * ((shape[1] + 31) // 32) * 18
    plain_hat = dequant_q4_0(plain[off:off + size], *shape)
    errors[name] = (weighted_error(awq_hat, w, m), weighted_error(plain_hat, w, m))
# The group's error is what the search minimizes (gate + up share s_in).
assert errors["gate"][0] + errors["up"][0] < errors["gate"][1] + errors["up"][1], errors
assert errors["down"][0] < errors["down"][1], errors
print("awq ok")
