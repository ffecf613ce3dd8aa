"""A small, independent GGUF v3 writer (and quantize CLI) for llmc's reference tests.

Shares no code with the llmc compiler.  Only numpy is required.

    w = GGUFWriter("out.gguf")
    w.add_string("general.architecture", "llama")
    w.add_uint32("llama.block_count", 5)
    w.add_array("tokenizer.ggml.tokens", ["<unk>", "<s>"], GGUFValueType.STRING)
    w.add_tensor("blk.0.attn_q.weight", np.float32_array_of_shape_N_K, "Q8_0")
    w.write()

Quantizers follow ggml's reference (round-to-nearest) rules:
  Q8_0: per block of 32, d = max|x| / 127, q = roundf(x / d)  (half away from 0)
  Q4_0: per block of 32, m = the value of largest magnitude (sign kept),
        d = m / -8, id = 1/d, q = min(15, (int)(x*id + 8.5))
The scale d is stored as float16; q is computed with the float32 (unrounded)
1/d, as ggml does.

CLI:
    python3 gguf_writer.py quantize IN.gguf OUT.gguf --type Q8_0|Q4_0|F16
copies all metadata and converts every 2-D weight whose innermost dimension is
a multiple of 32 (for F16: every 2-D weight); all others stay as they are and
are listed.
"""

import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gguf_reader import (  # noqa: E402
    GGUF_MAGIC, GGUFValueType, GGMLType, BLOCK_INFO, GGUFReader,
)

__all__ = ["GGUFWriter", "quantize_q8_0", "quantize_q4_0", "encode_tensor", "quantize_file"]

# llama.cpp's general.file_type values for the "mostly X" files we write.
FILE_TYPE = {"F32": 0, "F16": 1, "Q4_0": 2, "Q8_0": 7}

_SCALAR_FMT = {
    GGUFValueType.UINT8: "B", GGUFValueType.INT8: "b",
    GGUFValueType.UINT16: "H", GGUFValueType.INT16: "h",
    GGUFValueType.UINT32: "I", GGUFValueType.INT32: "i",
    GGUFValueType.FLOAT32: "f", GGUFValueType.BOOL: "?",
    GGUFValueType.UINT64: "Q", GGUFValueType.INT64: "q",
    GGUFValueType.FLOAT64: "d",
}


# ---------------------------------------------------------------------------
# Quantizers: float32 array (..., K) with K % 32 == 0 -> uint8 bytes
# ---------------------------------------------------------------------------

def _roundf(v):
    """C roundf: round half away from zero, exactly (no floor(x + 0.5) double
    rounding: 0.49999997 must round to 0)."""
    a = np.abs(v)
    r = np.floor(a)
    r = r + (a - r >= 0.5)   # a - r is exact for |a| < 2**23
    return np.copysign(r, v)


def quantize_q8_0(x):
    x = np.ascontiguousarray(x, dtype=np.float32).reshape(-1, 32)
    amax = np.max(np.abs(x), axis=1)
    d = (amax / np.float32(127)).astype(np.float32)
    with np.errstate(divide="ignore"):
        idv = np.where(d != 0, np.float32(1) / np.where(d != 0, d, 1), 0).astype(np.float32)
    q = _roundf(x * idv[:, None]).astype(np.int8)
    out = np.empty((x.shape[0], 34), dtype=np.uint8)
    out[:, 0:2] = d.astype("<f2").view(np.uint8).reshape(-1, 2)
    out[:, 2:] = q.view(np.uint8)
    return out.reshape(-1)


def quantize_q4_0(x):
    x = np.ascontiguousarray(x, dtype=np.float32).reshape(-1, 32)
    # ggml: the first element with the (strictly) largest |x| wins.
    idx = np.argmax(np.abs(x), axis=1)
    m = x[np.arange(x.shape[0]), idx]
    d = (m / np.float32(-8)).astype(np.float32)
    with np.errstate(divide="ignore"):
        idv = np.where(d != 0, np.float32(1) / np.where(d != 0, d, 1), 0).astype(np.float32)
    v = x * idv[:, None] + np.float32(8.5)
    # (int8_t) cast truncates toward zero; then MIN(15, .)
    q = np.minimum(15, np.trunc(v).astype(np.int32)).astype(np.uint8)
    out = np.empty((x.shape[0], 18), dtype=np.uint8)
    out[:, 0:2] = d.astype("<f2").view(np.uint8).reshape(-1, 2)
    out[:, 2:] = q[:, :16] | (q[:, 16:] << 4)
    return out.reshape(-1)


def encode_tensor(x, ggml_type):
    """Encode a float32 numpy array as the bytes of `ggml_type` (an int or name)."""
    if isinstance(ggml_type, str):
        ggml_type = GGMLType.from_name(ggml_type)
    x = np.ascontiguousarray(x)
    if ggml_type == GGMLType.F32:
        return x.astype("<f4").view(np.uint8).reshape(-1)
    if ggml_type == GGMLType.F16:
        return x.astype(np.float32).astype("<f2").view(np.uint8).reshape(-1)
    if ggml_type == GGMLType.BF16:
        u = x.astype(np.float32).view(np.uint32)
        # round to nearest even on the dropped 16 bits
        u = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
        return u.astype("<u2").view(np.uint8).reshape(-1)
    if ggml_type in (GGMLType.Q8_0, GGMLType.Q4_0):
        if x.ndim == 0 or x.shape[-1] % 32:
            raise ValueError("innermost dimension %s is not a multiple of 32"
                             % (x.shape[-1] if x.ndim else None))
        return quantize_q8_0(x) if ggml_type == GGMLType.Q8_0 else quantize_q4_0(x)
    raise NotImplementedError("writing %s is not supported"
                              % GGMLType.NAMES.get(ggml_type, ggml_type))


# ---------------------------------------------------------------------------
# Writer
# ---------------------------------------------------------------------------

class GGUFWriter:
    def __init__(self, path, alignment=32):
        self.path = path
        self.alignment = alignment
        self._kv = []        # (key, vtype, etype, value)
        self._tensors = []   # (name, dims (GGUF order), ggml_type, bytes)
        self._keys = set()

    # -- metadata -----------------------------------------------------------
    def add(self, key, value, vtype, etype=None):
        if key in self._keys:
            raise KeyError("duplicate metadata key %r" % key)
        if key == "general.alignment":
            self.alignment = int(value)
        self._keys.add(key)
        self._kv.append((key, vtype, etype, value))

    def add_string(self, key, v):
        self.add(key, v, GGUFValueType.STRING)

    def add_uint32(self, key, v):
        self.add(key, int(v), GGUFValueType.UINT32)

    def add_int32(self, key, v):
        self.add(key, int(v), GGUFValueType.INT32)

    def add_uint64(self, key, v):
        self.add(key, int(v), GGUFValueType.UINT64)

    def add_float32(self, key, v):
        self.add(key, float(v), GGUFValueType.FLOAT32)

    def add_bool(self, key, v):
        self.add(key, bool(v), GGUFValueType.BOOL)

    def add_array(self, key, values, etype):
        self.add(key, list(values), GGUFValueType.ARRAY, etype)

    def add_value(self, key, value):
        """Add with an inferred type: str, bool, int (INT32 if it fits, else
        INT64), float (FLOAT32), or a list of one of those."""
        def infer(v):
            if isinstance(v, str):
                return GGUFValueType.STRING
            if isinstance(v, (bool, np.bool_)):
                return GGUFValueType.BOOL
            if isinstance(v, (int, np.integer)):
                return GGUFValueType.INT32 if -2**31 <= v < 2**31 else GGUFValueType.INT64
            if isinstance(v, (float, np.floating)):
                return GGUFValueType.FLOAT32
            raise TypeError("cannot infer a GGUF type for %r" % (v,))
        if isinstance(value, (list, tuple, np.ndarray)):
            value = list(value)
            if not value:
                raise ValueError("cannot infer the element type of an empty array")
            types = {infer(v) for v in value}
            if types == {GGUFValueType.INT32, GGUFValueType.INT64}:
                types = {GGUFValueType.INT64}
            if len(types) != 1:
                raise TypeError("mixed element types in %r" % key)
            self.add_array(key, value, types.pop())
        else:
            self.add(key, value, infer(value))

    # -- tensors ------------------------------------------------------------
    def add_tensor(self, name, array, ggml_type="F32"):
        """Add a float numpy array (numpy shape (..., K)), encoded as ggml_type."""
        if isinstance(ggml_type, str):
            ggml_type = GGMLType.from_name(ggml_type)
        array = np.asarray(array)
        data = encode_tensor(array, ggml_type)
        self.add_raw_tensor(name, tuple(reversed(array.shape)), ggml_type, data)

    def add_raw_tensor(self, name, dims, ggml_type, data):
        """Add already encoded bytes; dims in GGUF order (dims[0] innermost)."""
        n = 1
        for d in dims:
            n *= int(d)
        blk, size = BLOCK_INFO[ggml_type]
        if n % blk or len(data) != n // blk * size:
            raise ValueError("tensor %s: %d bytes do not match dims %s of type %s"
                             % (name, len(data), list(dims), GGMLType.NAMES[ggml_type]))
        self._tensors.append((name, tuple(int(d) for d in dims), ggml_type,
                              np.ascontiguousarray(data, dtype=np.uint8)))

    # -- serialization ------------------------------------------------------
    @staticmethod
    def _str(s):
        b = s.encode("utf-8", errors="surrogateescape")
        return struct.pack("<Q", len(b)) + b

    def _val(self, vtype, value, etype=None):
        if vtype in _SCALAR_FMT:
            return struct.pack("<" + _SCALAR_FMT[vtype], value)
        if vtype == GGUFValueType.STRING:
            return self._str(value)
        if vtype == GGUFValueType.ARRAY:
            out = [struct.pack("<IQ", etype, len(value))]
            if etype in _SCALAR_FMT:
                out.append(struct.pack("<%d%s" % (len(value), _SCALAR_FMT[etype]), *value))
            else:
                out.extend(self._val(etype, v) for v in value)
            return b"".join(out)
        raise ValueError("unknown GGUF value type %d" % vtype)

    def write(self):
        a = self.alignment
        head = [GGUF_MAGIC, struct.pack("<IQQ", 3, len(self._tensors), len(self._kv))]
        for key, vtype, etype, value in self._kv:
            head.append(self._str(key))
            head.append(struct.pack("<I", vtype))
            head.append(self._val(vtype, value, etype))
        offset = 0
        offsets = []
        for name, dims, ttype, data in self._tensors:
            offsets.append(offset)
            head.append(self._str(name))
            head.append(struct.pack("<I", len(dims)))
            head.append(struct.pack("<%dQ" % len(dims), *dims))
            head.append(struct.pack("<IQ", ttype, offset))
            offset += (len(data) + a - 1) // a * a
        header = b"".join(head)
        with open(self.path, "wb") as f:
            f.write(header)
            f.write(b"\0" * ((-len(header)) % a))
            for (name, dims, ttype, data), off in zip(self._tensors, offsets):
                f.write(data.tobytes())
                f.write(b"\0" * ((-len(data)) % a))


# ---------------------------------------------------------------------------
# quantize CLI
# ---------------------------------------------------------------------------

def quantize_file(src, dst, qtype, log=print):
    """Copy src to dst converting every eligible 2-D weight to qtype.

    Returns (converted names, kept names)."""
    qtype = qtype.upper()
    qt = GGMLType.from_name(qtype)
    if qt not in (GGMLType.F16, GGMLType.Q8_0, GGMLType.Q4_0, GGMLType.F32):
        raise ValueError("unsupported target type %s" % qtype)
    r = GGUFReader(src)
    w = GGUFWriter(dst, alignment=r.alignment)
    for key, value in r.metadata.items():
        vtype, etype = r.metadata_types[key]
        if key == "general.file_type":
            value = FILE_TYPE[qtype]
        w.add(key, value, vtype, etype)
    if "general.file_type" not in r.metadata:
        w.add_uint32("general.file_type", FILE_TYPE[qtype])
    block = BLOCK_INFO[qt][0]
    converted, kept = [], []
    for name, t in r.tensors.items():
        # F16/F32 can hold any 2-D weight; block formats need K % 32 == 0.
        eligible = len(t.dims) == 2 and t.dims[0] % block == 0
        if eligible and t.type != qt:
            w.add_tensor(name, r.tensor(name), qt)
            converted.append(name)
            log("convert %-28s %-5s -> %-5s dims=%s" % (name, t.type_name, qtype, list(t.dims)))
        else:
            w.add_raw_tensor(name, t.dims, t.type, r.raw(name))
            kept.append(name)
            if t.type == qt:
                why = "already %s" % qtype
            elif len(t.dims) != 2:
                why = "%d-D" % len(t.dims)
            else:
                why = "innermost dim %d is not a multiple of %d" % (t.dims[0], block)
            log("keep    %-28s %-5s (%s) dims=%s" % (name, t.type_name, why, list(t.dims)))
    w.write()
    return converted, kept


def _main(argv=None):
    import argparse
    p = argparse.ArgumentParser(description="GGUF writer utilities")
    sub = p.add_subparsers(dest="cmd", required=True)
    q = sub.add_parser("quantize", help="convert the 2-D weights of a GGUF file")
    q.add_argument("src")
    q.add_argument("dst")
    q.add_argument("--type", default="Q8_0", choices=["Q8_0", "Q4_0", "F16", "F32"])
    q.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    if args.cmd == "quantize":
        log = (lambda *a: None) if args.quiet else print
        conv, kept = quantize_file(args.src, args.dst, args.type, log=log)
        print("%s: %d tensors converted to %s, %d kept" % (args.dst, len(conv), args.type, len(kept)))


if __name__ == "__main__":
    _main()
