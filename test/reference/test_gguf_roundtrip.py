# RUN: %PYTHON %s %t | FileCheck %s
# The reference GGUF reader and writer: the block layouts against hand-built
# bytes, the quantizers against line-by-line transliterations of ggml's scalar
# reference code, metadata of every value type, alignment, dims order, and the
# Q8_0/Q4_0 write->read round-trip error bounds.  Needs no model files.
import math
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gguf_reader import GGUFReader, GGUFValueType as VT, GGMLType, dequantize  # noqa: E402
from gguf_writer import GGUFWriter, quantize_q8_0, quantize_q4_0  # noqa: E402

tmp = sys.argv[1] if len(sys.argv) > 1 else "/tmp/gguf_roundtrip"
os.makedirs(tmp, exist_ok=True)
rng = np.random.default_rng(1234)


def f16_bytes(v):
    return np.float16(v).tobytes()


# --- 1. A GGUF v2 file built by hand with struct (independent of the writer).
def s(x):
    b = x.encode()
    return struct.pack("<Q", len(b)) + b


q4 = f16_bytes(1.0) + bytes((j | ((15 - j) << 4)) for j in range(16))
q8 = f16_bytes(0.5) + struct.pack("<32b", *range(-16, 16))
f32 = struct.pack("<6f", *[float(i) for i in range(6)])
kv = (s("general.architecture") + struct.pack("<I", VT.STRING) + s("llama")
      + s("test.u8") + struct.pack("<IB", VT.UINT8, 200)
      + s("test.arr") + struct.pack("<IIQ", VT.ARRAY, VT.INT16, 3) + struct.pack("<3h", -1, 2, -3))
tensors = [("a.q4", [32, 1], GGMLType.Q4_0, q4), ("b.q8", [32, 1], GGMLType.Q8_0, q8),
           ("c.f32", [3, 2], GGMLType.F32, f32)]
infos, data, off = b"", b"", 0
for name, dims, t, raw in tensors:
    infos += s(name) + struct.pack("<I", len(dims)) + struct.pack("<%dQ" % len(dims), *dims)
    infos += struct.pack("<IQ", t, off)
    pad = (-len(raw)) % 32
    data += raw + b"\0" * pad
    off += len(raw) + pad
head = b"GGUF" + struct.pack("<IQQ", 2, len(tensors), 3) + kv + infos
blob = head + b"\0" * ((-len(head)) % 32) + data
path = os.path.join(tmp, "handmade_v2.gguf")
with open(path, "wb") as f:
    f.write(blob)
r = GGUFReader(path)
# CHECK: handmade v2 llama 200 [-1, 2, -3]
print("handmade v%d" % r.version, r.metadata["general.architecture"], r.metadata["test.u8"],
      r.metadata["test.arr"])
a = r.tensor("a.q4")
exp = np.array([j - 8 for j in range(16)] + [7 - j for j in range(16)], np.float32).reshape(1, 32)
# CHECK-NEXT: q4_0 nibbles ok (1, 32)
print("q4_0 nibbles", "ok" if np.array_equal(a, exp) else "BAD %s" % a, a.shape)
b = r.tensor("b.q8")
# CHECK-NEXT: q8_0 ok
print("q8_0", "ok" if np.array_equal(b, 0.5 * np.arange(-16, 16, dtype=np.float32)[None]) else "BAD")
c = r.tensor("c.f32")
# CHECK-NEXT: f32 dims [3, 2] -> shape (2, 3) rows [0.0, 1.0, 2.0] [3.0, 4.0, 5.0]
print("f32 dims", list(r.tensors["c.f32"].dims), "-> shape", c.shape, "rows", *c.tolist())


# --- 2. The quantizers equal transliterations of ggml's scalar reference code.
def ref_q8_0(x):
    out = bytearray()
    for blk in x.reshape(-1, 32):
        amax = 0.0
        for v in blk:
            amax = max(amax, abs(float(v)))
        d = np.float32(np.float32(amax) / np.float32(127))
        idv = np.float32(1.0) / d if d else np.float32(0)
        out += f16_bytes(d)
        for v in blk:
            p = float(np.float32(v) * idv)
            out += struct.pack("<b", int(math.copysign(math.floor(abs(p) + 0.5), p)))
    return bytes(out)


def ref_q4_0(x):
    out = bytearray()
    for blk in x.reshape(-1, 32):
        amax, mx = 0.0, 0.0
        for v in blk:
            if amax < abs(float(v)):
                amax, mx = abs(float(v)), float(v)
        d = np.float32(np.float32(mx) / np.float32(-8))
        idv = np.float32(1.0) / d if d else np.float32(0)
        out += f16_bytes(d)
        for j in range(16):
            x0 = np.float32(blk[j]) * idv
            x1 = np.float32(blk[16 + j]) * idv
            xi0 = min(15, int(np.float32(x0 + np.float32(8.5))))
            xi1 = min(15, int(np.float32(x1 + np.float32(8.5))))
            out.append(xi0 | (xi1 << 4))
    return bytes(out)


x = rng.standard_normal((6, 64)).astype(np.float32)
x[0, :32] = 0.0                            # an all-zero block
x[1, 5] = 3.0; x[1, 9] = -3.0              # tie on |max|: the first wins
x[2, :32] = np.float32(0.49999997) * 0.01  # rounding edge
# CHECK: q8_0 quantizer matches ggml reference: True
print("q8_0 quantizer matches ggml reference:", quantize_q8_0(x).tobytes() == ref_q8_0(x))
# CHECK: q4_0 quantizer matches ggml reference: True
print("q4_0 quantizer matches ggml reference:", quantize_q4_0(x).tobytes() == ref_q4_0(x))


# --- 3. Q4_K / Q6_K dequantization against transliterated ggml scalar loops.
def ref_deq_q4_k(raw):
    y = []
    for blk in raw.reshape(-1, 144):
        d = float(np.frombuffer(blk[0:2].tobytes(), "<f2")[0])
        dmin = float(np.frombuffer(blk[2:4].tobytes(), "<f2")[0])
        sc = [int(v) for v in blk[4:16]]
        qs = [int(v) for v in blk[16:144]]

        def scale_min(j):
            if j < 4:
                return sc[j] & 63, sc[j + 4] & 63
            return (sc[j + 4] & 0xF) | ((sc[j - 4] >> 6) << 4), (sc[j + 4] >> 4) | ((sc[j] >> 6) << 4)
        qi, is_ = 0, 0
        for _ in range(0, 256, 64):
            s1, m1 = scale_min(is_)
            s2, m2 = scale_min(is_ + 1)
            d1, mm1, d2, mm2 = d * s1, dmin * m1, d * s2, dmin * m2
            y += [d1 * (qs[qi + l] & 0xF) - mm1 for l in range(32)]
            y += [d2 * (qs[qi + l] >> 4) - mm2 for l in range(32)]
            qi += 32
            is_ += 2
    return np.array(y, np.float32)


def ref_deq_q6_k(raw):
    y = []
    for blk in raw.reshape(-1, 210):
        ql = [int(v) for v in blk[0:128]]
        qh = [int(v) for v in blk[128:192]]
        sc = [int(v) for v in blk[192:208].view(np.int8)]
        d = float(np.frombuffer(blk[208:210].tobytes(), "<f2")[0])
        out = [0.0] * 256
        for n in range(2):
            o, L, H, S = 128 * n, 64 * n, 32 * n, 8 * n
            for l in range(32):
                is_ = l // 16
                q1 = ((ql[L + l] & 0xF) | (((qh[H + l] >> 0) & 3) << 4)) - 32
                q2 = ((ql[L + l + 32] & 0xF) | (((qh[H + l] >> 2) & 3) << 4)) - 32
                q3 = ((ql[L + l] >> 4) | (((qh[H + l] >> 4) & 3) << 4)) - 32
                q4_ = ((ql[L + l + 32] >> 4) | (((qh[H + l] >> 6) & 3) << 4)) - 32
                out[o + l] = d * sc[S + is_ + 0] * q1
                out[o + l + 32] = d * sc[S + is_ + 2] * q2
                out[o + l + 64] = d * sc[S + is_ + 4] * q3
                out[o + l + 96] = d * sc[S + is_ + 6] * q4_
        y += out
    return np.array(y, np.float32)


raw4k = rng.integers(0, 256, size=(3, 144), dtype=np.uint8)
raw4k[:, 0:2] = np.frombuffer(np.float16([0.01, 0.02, 0.03]).tobytes(), np.uint8).reshape(3, 2)
raw4k[:, 2:4] = np.frombuffer(np.float16([0.005, 0.001, 0.1]).tobytes(), np.uint8).reshape(3, 2)
raw6k = rng.integers(0, 256, size=(3, 210), dtype=np.uint8)
raw6k[:, 208:210] = np.frombuffer(np.float16([0.01, 0.5, 0.002]).tobytes(), np.uint8).reshape(3, 2)
d4 = dequantize(raw4k.reshape(-1), GGMLType.Q4_K, (3, 256))
d6 = dequantize(raw6k.reshape(-1), GGMLType.Q6_K, (3, 256))
# CHECK: q4_K dequant matches ggml loop: True
print("q4_K dequant matches ggml loop:", np.allclose(d4.reshape(-1), ref_deq_q4_k(raw4k), rtol=1e-6, atol=1e-7))
# CHECK: q6_K dequant matches ggml loop: True
print("q6_K dequant matches ggml loop:", np.allclose(d6.reshape(-1), ref_deq_q6_k(raw6k), rtol=1e-6, atol=1e-7))


# --- 4. Writer -> reader: metadata of every type, alignment, tensors.
path = os.path.join(tmp, "roundtrip.gguf")
w = GGUFWriter(path)
w.add_uint32("general.alignment", 64)
w.add_string("general.architecture", "llama")
w.add("t.u8", 255, VT.UINT8)
w.add("t.i8", -128, VT.INT8)
w.add("t.u16", 65535, VT.UINT16)
w.add("t.i16", -32768, VT.INT16)
w.add("t.u32", 2**32 - 1, VT.UINT32)
w.add_int32("t.i32", -2**31)
w.add_uint64("t.u64", 2**64 - 1)
w.add("t.i64", -2**63, VT.INT64)
w.add_float32("t.f32", 1e-5)
w.add("t.f64", math.pi, VT.FLOAT64)
w.add_bool("t.bool", True)
w.add_string("t.str", "h\u00e9llo \u2581world")
w.add_array("t.strs", ["<unk>", "\u2581a", ""], VT.STRING)
w.add_array("t.floats", [0.5, -1.25, 3.0], VT.FLOAT32)
w.add_array("t.ints", [1, -2, 3], VT.INT32)
w.add_array("t.bools", [True, False], VT.BOOL)
w.add_value("t.inferred", [1.5, 2.5])
x1 = rng.standard_normal((3, 5, 7)).astype(np.float32)            # 3-D F32, odd sizes
w.add_tensor("x.f32", x1, "F32")
w.add_tensor("x.f16", x1[0], "F16")
xq = (rng.standard_normal((48, 96)) * np.exp(rng.standard_normal((48, 1)))).astype(np.float32)
xq[0, :32] = 0.0
w.add_tensor("x.q8_0", xq, "Q8_0")
w.add_tensor("x.q4_0", xq, "Q4_0")
w.write()

r = GGUFReader(path)
md = r.metadata
# CHECK: v3 alignment 64 data_offset%64 0 offsets aligned True
print("v%d" % r.version, "alignment", r.alignment, "data_offset%64", r.data_offset % 64,
      "offsets aligned", all(t.offset % 64 == 0 for t in r.tensors.values()))
# CHECK-NEXT: ints 255 -128 65535 -32768 4294967295 -2147483648 18446744073709551615 -9223372036854775808
print("ints", md["t.u8"], md["t.i8"], md["t.u16"], md["t.i16"], md["t.u32"], md["t.i32"], md["t.u64"], md["t.i64"])
# CHECK-NEXT: floats 9.99999974738e-06 3.14159265359 True
print("floats %.12g %.12g" % (md["t.f32"], md["t.f64"]), md["t.bool"])
# CHECK-NEXT: strings 'héllo ▁world' ['<unk>', '▁a', ''] [0.5, -1.25, 3.0] [1, -2, 3] [True, False] [1.5, 2.5]
print("strings", repr(md["t.str"]), md["t.strs"], md["t.floats"], md["t.ints"], md["t.bools"], md["t.inferred"])
# CHECK-NEXT: types STRING FLOAT32 INT32 FLOAT32
print("types", *[VT.NAMES[r.metadata_types[k][1]] for k in ("t.strs", "t.floats", "t.ints", "t.inferred")])
# CHECK-NEXT: x.f32 dims [7, 5, 3] exact True
print("x.f32 dims", list(r.tensors["x.f32"].dims), "exact", np.array_equal(r.tensor("x.f32"), x1))
# CHECK-NEXT: x.f16 exact-to-f16 True
print("x.f16 exact-to-f16", np.array_equal(r.tensor("x.f16"), x1[0].astype(np.float16).astype(np.float32)))

# Q8_0: q = roundf(x/d) gives |x - q*d| <= d/2; the stored d is rounded to
# f16 (d16), adding at most |q|*|d - d16| <= 127*|d - d16|.
blocks = xq.reshape(-1, 32)
d = np.abs(blocks).max(1) / np.float32(127)
d16 = d.astype(np.float16).astype(np.float32)
err8 = np.abs(r.tensor("x.q8_0").reshape(-1, 32) - blocks).max(1)
bound8 = d16 / 2 + 127 * np.abs(d - d16) + 1e-6 * np.abs(blocks).max(1)
print("q8_0 max err / (d16/2) = %.4f" % (err8 / np.where(d16 > 0, d16 / 2, 1)).max(), file=sys.stderr)
# CHECK: q8_0 round-trip within bound: True zero block exact: True
print("q8_0 round-trip within bound:", bool(np.all(err8 <= bound8)),
      "zero block exact:", bool(err8[0] == 0))
# Q4_0: d = m/-8 with m the signed value of largest |x|; q in [0, 15] so
# values in [-8d, 7d]; the rounding error is <= |d|/2 except at the clamped
# end (q=15 where x/d + 8.5 >= 16) which can be off by up to |d|; plus f16 d.
mi = np.argmax(np.abs(blocks), axis=1)
m = blocks[np.arange(len(blocks)), mi]
dq = m / np.float32(-8)
dq16 = dq.astype(np.float16).astype(np.float32)
err4 = np.abs(r.tensor("x.q4_0").reshape(-1, 32) - blocks).max(1)
bound4 = np.abs(dq16) + 8 * np.abs(dq - dq16) + 1e-6 * np.abs(blocks).max(1)
print("q4_0 max err / |d16| = %.4f" % (err4 / np.where(dq16 != 0, np.abs(dq16), 1)).max(), file=sys.stderr)
# CHECK-NEXT: q4_0 round-trip within bound: True max element exact: True
print("q4_0 round-trip within bound:", bool(np.all(err4 <= bound4)),
      "max element exact:", bool(np.allclose(r.tensor("x.q4_0").reshape(-1, 32)[np.arange(len(blocks)), mi],
                                             -8 * dq16)))
# CHECK-NEXT: relative rms error q8_0 < 0.01: True q4_0 < 0.15: True
rel = lambda a: float(np.sqrt(np.mean((a - xq) ** 2) / np.mean(xq ** 2)))
e8, e4 = rel(r.tensor("x.q8_0")), rel(r.tensor("x.q4_0"))
print("relative rms error q8_0 < 0.01:", e8 < 0.01, "q4_0 < 0.15:", e4 < 0.15)
print("relative rms error q8_0 %.5f q4_0 %.5f" % (e8, e4), file=sys.stderr)

# A ragged innermost dimension is refused for the block formats.
try:
    GGUFWriter(os.path.join(tmp, "bad.gguf")).add_tensor("bad", np.zeros((2, 172), np.float32), "Q8_0")
    print("ragged accepted")
except ValueError as e:
    # CHECK: ragged refused: innermost dimension 172 is not a multiple of 32
    print("ragged refused:", e)
