"""A small, independent GGUF (v2/v3) reader for the llmc reference tests.

Written from the GGUF file-format description and the ggml block layouts; it
shares no code with the llmc compiler.  Only numpy is required.

File layout (all little endian):
    magic      "GGUF" (4 bytes)
    version    uint32 (2 or 3; 1 is accepted with 32-bit counts/lengths)
    n_tensors  uint64
    n_kv       uint64
    n_kv x     { key: string, type: uint32, value }
    n_tensors x{ name: string, n_dims: uint32, dims: uint64[n_dims],
                 type: uint32, offset: uint64 }
    padding to `general.alignment` (default 32)
    tensor data; each tensor starts at data_start + offset.

A string is a uint64 length followed by that many UTF-8 bytes (no NUL).
An array value is { elem_type: uint32, count: uint64, count x elem }.

dims[0] is the innermost (fastest varying) dimension, so a tensor with dims
[K, N] is returned as a numpy array of shape (N, K).
"""

import mmap
import struct

import numpy as np

__all__ = [
    "GGUFReader", "TensorInfo", "read_gguf", "dequantize",
    "GGUF_MAGIC", "GGUFValueType", "GGMLType", "BLOCK_INFO",
]

GGUF_MAGIC = b"GGUF"
DEFAULT_ALIGNMENT = 32


class GGUFValueType:
    UINT8 = 0
    INT8 = 1
    UINT16 = 2
    INT16 = 3
    UINT32 = 4
    INT32 = 5
    FLOAT32 = 6
    BOOL = 7
    STRING = 8
    ARRAY = 9
    UINT64 = 10
    INT64 = 11
    FLOAT64 = 12

    NAMES = {0: "UINT8", 1: "INT8", 2: "UINT16", 3: "INT16", 4: "UINT32",
             5: "INT32", 6: "FLOAT32", 7: "BOOL", 8: "STRING", 9: "ARRAY",
             10: "UINT64", 11: "INT64", 12: "FLOAT64"}


# Fixed-size scalar value types: struct format character.
_SCALAR_FMT = {
    GGUFValueType.UINT8: "B", GGUFValueType.INT8: "b",
    GGUFValueType.UINT16: "H", GGUFValueType.INT16: "h",
    GGUFValueType.UINT32: "I", GGUFValueType.INT32: "i",
    GGUFValueType.FLOAT32: "f", GGUFValueType.BOOL: "?",
    GGUFValueType.UINT64: "Q", GGUFValueType.INT64: "q",
    GGUFValueType.FLOAT64: "d",
}
# ... and the matching numpy dtype (for fast array decoding).
_SCALAR_NP = {
    GGUFValueType.UINT8: "<u1", GGUFValueType.INT8: "<i1",
    GGUFValueType.UINT16: "<u2", GGUFValueType.INT16: "<i2",
    GGUFValueType.UINT32: "<u4", GGUFValueType.INT32: "<i4",
    GGUFValueType.FLOAT32: "<f4", GGUFValueType.BOOL: "<u1",
    GGUFValueType.UINT64: "<u8", GGUFValueType.INT64: "<i8",
    GGUFValueType.FLOAT64: "<f8",
}


class GGMLType:
    F32 = 0
    F16 = 1
    Q4_0 = 2
    Q4_1 = 3
    Q5_0 = 6
    Q5_1 = 7
    Q8_0 = 8
    Q8_1 = 9
    Q2_K = 10
    Q3_K = 11
    Q4_K = 12
    Q5_K = 13
    Q6_K = 14
    Q8_K = 15
    BF16 = 30

    NAMES = {0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 6: "Q5_0", 7: "Q5_1",
             8: "Q8_0", 9: "Q8_1", 10: "Q2_K", 11: "Q3_K", 12: "Q4_K",
             13: "Q5_K", 14: "Q6_K", 15: "Q8_K", 30: "BF16"}

    @classmethod
    def from_name(cls, name):
        for k, v in cls.NAMES.items():
            if v == name.upper():
                return k
        raise ValueError("unknown ggml type %r" % name)


QK_K = 256
# type -> (elements per block, bytes per block)
BLOCK_INFO = {
    GGMLType.F32: (1, 4),
    GGMLType.F16: (1, 2),
    GGMLType.BF16: (1, 2),
    GGMLType.Q4_0: (32, 2 + 16),
    GGMLType.Q4_1: (32, 2 + 2 + 16),
    GGMLType.Q5_0: (32, 2 + 4 + 16),
    GGMLType.Q5_1: (32, 2 + 2 + 4 + 16),
    GGMLType.Q8_0: (32, 2 + 32),
    GGMLType.Q8_1: (32, 4 + 4 + 32),
    GGMLType.Q2_K: (QK_K, QK_K // 16 + QK_K // 4 + 2 + 2),
    GGMLType.Q3_K: (QK_K, QK_K // 8 + QK_K // 4 + 12 + 2),
    GGMLType.Q4_K: (QK_K, 2 + 2 + 12 + QK_K // 2),
    GGMLType.Q5_K: (QK_K, 2 + 2 + 12 + QK_K // 8 + QK_K // 2),
    GGMLType.Q6_K: (QK_K, QK_K // 2 + QK_K // 4 + QK_K // 16 + 2),
    GGMLType.Q8_K: (QK_K, 4 + QK_K + QK_K // 16 * 2),
}


# ---------------------------------------------------------------------------
# Dequantization.  Each function takes a uint8 array of whole blocks and
# returns a flat float32 array of the dequantized elements, in order.
# ---------------------------------------------------------------------------

def _f16(raw_u8):
    """Reinterpret pairs of bytes as little-endian float16 -> float32."""
    return np.ascontiguousarray(raw_u8).view("<f2").astype(np.float32)


def _deq_f32(raw):
    return raw.view("<f4").astype(np.float32, copy=True)


def _deq_f16(raw):
    return raw.view("<f2").astype(np.float32)


def _deq_bf16(raw):
    # bfloat16 is the upper half of a float32.
    u16 = raw.view("<u2").astype(np.uint32)
    return (u16 << 16).view(np.float32).copy()


def _deq_q8_0(raw):
    # block_q8_0 { ggml_half d; int8_t qs[32]; }   y = d * q
    b = raw.reshape(-1, 34)
    d = _f16(b[:, 0:2]).reshape(-1, 1)
    q = b[:, 2:34].view(np.int8).astype(np.float32)
    return (d * q).reshape(-1)


def _deq_q4_0(raw):
    # block_q4_0 { ggml_half d; uint8_t qs[16]; }
    # element j (< 16) is the low nibble of qs[j], element j+16 the high nibble
    # of qs[j]; y = (q - 8) * d
    b = raw.reshape(-1, 18)
    d = _f16(b[:, 0:2]).reshape(-1, 1)
    qs = b[:, 2:18]
    lo = (qs & 0x0F).astype(np.int8) - 8
    hi = (qs >> 4).astype(np.int8) - 8
    q = np.concatenate([lo, hi], axis=1).astype(np.float32)
    return (d * q).reshape(-1)


def _deq_q4_1(raw):
    # block_q4_1 { ggml_half d; ggml_half m; uint8_t qs[16]; }  y = q*d + m
    b = raw.reshape(-1, 20)
    d = _f16(b[:, 0:2]).reshape(-1, 1)
    m = _f16(b[:, 2:4]).reshape(-1, 1)
    qs = b[:, 4:20]
    q = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.float32)
    return (d * q + m).reshape(-1)


def _deq_q5_0(raw):
    # block_q5_0 { ggml_half d; uint8_t qh[4]; uint8_t qs[16]; }
    # bit j of qh is the 5th bit of element j; y = (q - 16) * d
    b = raw.reshape(-1, 22)
    d = _f16(b[:, 0:2]).reshape(-1, 1)
    qh = np.ascontiguousarray(b[:, 2:6]).view("<u4").reshape(-1, 1)
    qs = b[:, 6:22].astype(np.uint32)
    j = np.arange(16, dtype=np.uint32)
    lo = (qs & 0x0F) | (((qh >> j) & 1) << 4)
    hi = (qs >> 4) | (((qh >> (j + 16)) & 1) << 4)
    q = np.concatenate([lo, hi], axis=1).astype(np.float32) - 16.0
    return (d * q).reshape(-1)


def _deq_q5_1(raw):
    # block_q5_1 { ggml_half d; ggml_half m; uint8_t qh[4]; uint8_t qs[16]; }
    b = raw.reshape(-1, 24)
    d = _f16(b[:, 0:2]).reshape(-1, 1)
    m = _f16(b[:, 2:4]).reshape(-1, 1)
    qh = np.ascontiguousarray(b[:, 4:8]).view("<u4").reshape(-1, 1)
    qs = b[:, 8:24].astype(np.uint32)
    j = np.arange(16, dtype=np.uint32)
    lo = (qs & 0x0F) | (((qh >> j) & 1) << 4)
    hi = (qs >> 4) | (((qh >> (j + 16)) & 1) << 4)
    q = np.concatenate([lo, hi], axis=1).astype(np.float32)
    return (d * q + m).reshape(-1)


def _k4_scales_mins(scales):
    """Unpack the 12-byte 6-bit scales/mins of Q4_K/Q5_K (get_scale_min_k4).

    scales: (nb, 12) uint8.  Returns (sc, mn), each (nb, 8) float32.
    For j < 4:  sc = q[j] & 63,  mn = q[j+4] & 63
    else:       sc = (q[j+4] & 0xF) | ((q[j-4] >> 6) << 4)
                mn = (q[j+4] >> 4)  | ((q[j]   >> 6) << 4)
    """
    q = scales.astype(np.uint8)
    sc = np.empty((q.shape[0], 8), dtype=np.uint8)
    mn = np.empty((q.shape[0], 8), dtype=np.uint8)
    sc[:, 0:4] = q[:, 0:4] & 63
    mn[:, 0:4] = q[:, 4:8] & 63
    sc[:, 4:8] = (q[:, 8:12] & 0x0F) | ((q[:, 0:4] >> 6) << 4)
    mn[:, 4:8] = (q[:, 8:12] >> 4) | ((q[:, 4:8] >> 6) << 4)
    return sc.astype(np.float32), mn.astype(np.float32)


def _deq_q4_k(raw):
    # block_q4_K { ggml_half d; ggml_half dmin; uint8_t scales[12];
    #              uint8_t qs[128]; }                       (144 bytes)
    # 8 sub-blocks of 32; sub-block pair (2i, 2i+1) uses qs[32i:32i+32]:
    # sub-block 2i the low nibbles, 2i+1 the high nibbles.
    # y = d * sc[s] * q - dmin * mn[s]
    b = raw.reshape(-1, 144)
    nb = b.shape[0]
    d = _f16(b[:, 0:2]).reshape(nb, 1, 1)
    dmin = _f16(b[:, 2:4]).reshape(nb, 1, 1)
    sc, mn = _k4_scales_mins(b[:, 4:16])
    qs = b[:, 16:144].reshape(nb, 4, 32)
    q = np.stack([qs & 0x0F, qs >> 4], axis=2).reshape(nb, 8, 32)
    y = d * sc.reshape(nb, 8, 1) * q.astype(np.float32) - dmin * mn.reshape(nb, 8, 1)
    return y.astype(np.float32).reshape(-1)


def _deq_q5_k(raw):
    # block_q5_K { ggml_half d; ggml_half dmin; uint8_t scales[12];
    #              uint8_t qh[32]; uint8_t qs[128]; }       (176 bytes)
    # like Q4_K, with the 5th bit of element l of sub-block s in bit s of qh[l].
    b = raw.reshape(-1, 176)
    nb = b.shape[0]
    d = _f16(b[:, 0:2]).reshape(nb, 1, 1)
    dmin = _f16(b[:, 2:4]).reshape(nb, 1, 1)
    sc, mn = _k4_scales_mins(b[:, 4:16])
    qh = b[:, 16:48].reshape(nb, 1, 32)
    qs = b[:, 48:176].reshape(nb, 4, 32)
    q = np.stack([qs & 0x0F, qs >> 4], axis=2).reshape(nb, 8, 32).astype(np.int32)
    s = np.arange(8).reshape(1, 8, 1)
    q = q + (((qh.astype(np.int32) >> s) & 1) << 4)
    y = d * sc.reshape(nb, 8, 1) * q.astype(np.float32) - dmin * mn.reshape(nb, 8, 1)
    return y.astype(np.float32).reshape(-1)


def _deq_q6_k(raw):
    # block_q6_K { uint8_t ql[128]; uint8_t qh[64]; int8_t scales[16];
    #              ggml_half d; }                          (210 bytes)
    # Two halves of 128 elements; in half n (ql += 64n, qh += 32n, sc += 8n),
    # for l in 0..31:
    #   y[l]    = d*sc[l/16+0]*((ql[l]    & 0xF | ((qh[l]>>0)&3)<<4) - 32)
    #   y[l+32] = d*sc[l/16+2]*((ql[l+32] & 0xF | ((qh[l]>>2)&3)<<4) - 32)
    #   y[l+64] = d*sc[l/16+4]*((ql[l]    >> 4  | ((qh[l]>>4)&3)<<4) - 32)
    #   y[l+96] = d*sc[l/16+6]*((ql[l+32] >> 4  | ((qh[l]>>6)&3)<<4) - 32)
    b = raw.reshape(-1, 210)
    nb = b.shape[0]
    ql = b[:, 0:128].reshape(nb, 2, 2, 32).astype(np.int32)    # [half][lo/hi 32][l]
    qh = b[:, 128:192].reshape(nb, 2, 1, 32).astype(np.int32)  # [half][.][l]
    sc = b[:, 192:208].view(np.int8).astype(np.float32)        # (nb, 16)
    d = _f16(b[:, 208:210]).reshape(nb, 1)
    q = np.empty((nb, 2, 4, 32), dtype=np.int32)
    q[:, :, 0] = (ql[:, :, 0] & 0x0F) | (((qh[:, :, 0] >> 0) & 3) << 4)
    q[:, :, 1] = (ql[:, :, 1] & 0x0F) | (((qh[:, :, 0] >> 2) & 3) << 4)
    q[:, :, 2] = (ql[:, :, 0] >> 4) | (((qh[:, :, 0] >> 4) & 3) << 4)
    q[:, :, 3] = (ql[:, :, 1] >> 4) | (((qh[:, :, 0] >> 6) & 3) << 4)
    q -= 32
    # scale index for (half n, quarter k, l): 8n + 2k + l//16
    n = np.arange(2).reshape(2, 1, 1)
    k = np.arange(4).reshape(1, 4, 1)
    l = np.arange(32).reshape(1, 1, 32)
    sidx = (8 * n + 2 * k + l // 16)                            # (2, 4, 32)
    scale = sc[:, sidx] * d.reshape(nb, 1, 1, 1)                # (nb, 2, 4, 32)
    return (scale * q.astype(np.float32)).astype(np.float32).reshape(-1)


_DEQUANT = {
    GGMLType.F32: _deq_f32,
    GGMLType.F16: _deq_f16,
    GGMLType.BF16: _deq_bf16,
    GGMLType.Q8_0: _deq_q8_0,
    GGMLType.Q4_0: _deq_q4_0,
    GGMLType.Q4_1: _deq_q4_1,
    GGMLType.Q5_0: _deq_q5_0,
    GGMLType.Q5_1: _deq_q5_1,
    GGMLType.Q4_K: _deq_q4_k,
    GGMLType.Q5_K: _deq_q5_k,
    GGMLType.Q6_K: _deq_q6_k,
}


def tensor_nbytes(ggml_type, n_elements):
    if ggml_type not in BLOCK_INFO:
        raise ValueError("unsupported ggml type %d" % ggml_type)
    blk, size = BLOCK_INFO[ggml_type]
    if n_elements % blk:
        raise ValueError("%d elements is not a multiple of the %s block size %d"
                         % (n_elements, GGMLType.NAMES.get(ggml_type, ggml_type), blk))
    return n_elements // blk * size


def dequantize(raw, ggml_type, shape):
    """Dequantize raw bytes of `ggml_type` into a float32 array of `shape`
    (numpy order, i.e. reversed GGUF dims)."""
    if ggml_type not in _DEQUANT:
        raise NotImplementedError(
            "dequantization of %s is not implemented"
            % GGMLType.NAMES.get(ggml_type, str(ggml_type)))
    raw = np.frombuffer(raw, dtype=np.uint8) if not isinstance(raw, np.ndarray) else raw
    out = _DEQUANT[ggml_type](raw)
    return out.reshape(shape)


# ---------------------------------------------------------------------------
# The reader.
# ---------------------------------------------------------------------------

class TensorInfo:
    __slots__ = ("name", "dims", "type", "offset", "nbytes")

    def __init__(self, name, dims, ggml_type, offset):
        self.name = name
        self.dims = tuple(int(d) for d in dims)  # GGUF order, dims[0] innermost
        self.type = ggml_type
        self.offset = offset                      # relative to the data section
        n = 1
        for d in self.dims:
            n *= d
        self.nbytes = tensor_nbytes(ggml_type, n) if ggml_type in BLOCK_INFO else None

    @property
    def shape(self):
        """numpy shape (reversed dims)."""
        return tuple(reversed(self.dims))

    @property
    def n_elements(self):
        n = 1
        for d in self.dims:
            n *= d
        return n

    @property
    def type_name(self):
        return GGMLType.NAMES.get(self.type, str(self.type))

    def __repr__(self):
        return "TensorInfo(%s, dims=%s, %s, offset=%d)" % (
            self.name, list(self.dims), self.type_name, self.offset)


class GGUFReader:
    """Parse a GGUF file.

    Attributes:
      version        int
      metadata       dict key -> value (python scalars, str, or lists)
      metadata_types dict key -> (value_type, elem_type or None)
      tensors        dict name -> TensorInfo, in file order
      alignment      int
      data_offset    absolute offset of the tensor data section
    """

    def __init__(self, path):
        self.path = path
        with open(path, "rb") as f:
            self._buf = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        self._pos = 0
        self._parse()

    # -- low-level readers --------------------------------------------------
    def _read(self, n):
        if self._pos + n > len(self._buf):
            raise ValueError("%s: unexpected end of file at offset %d" % (self.path, self._pos))
        b = self._buf[self._pos:self._pos + n]
        self._pos += n
        return b

    def _scalar(self, fmt):
        size = struct.calcsize("<" + fmt)
        return struct.unpack("<" + fmt, self._read(size))[0]

    def _count(self):
        return self._scalar("Q" if self.version >= 2 else "I")

    def _string(self):
        n = self._count()
        return self._read(n).decode("utf-8", errors="surrogateescape")

    def _value(self, vtype):
        if vtype in _SCALAR_FMT:
            v = self._scalar(_SCALAR_FMT[vtype])
            return bool(v) if vtype == GGUFValueType.BOOL else v
        if vtype == GGUFValueType.STRING:
            return self._string()
        if vtype == GGUFValueType.ARRAY:
            etype = self._scalar("I")
            n = self._count()
            if etype in _SCALAR_NP:
                itemsize = np.dtype(_SCALAR_NP[etype]).itemsize
                arr = np.frombuffer(self._read(n * itemsize), dtype=_SCALAR_NP[etype])
                if etype == GGUFValueType.BOOL:
                    return [bool(x) for x in arr]
                return arr.tolist()
            return [self._value(etype) for _ in range(n)]
        raise ValueError("%s: unknown metadata value type %d at offset %d"
                         % (self.path, vtype, self._pos))

    # -- structure ------------------------------------------------------------
    def _parse(self):
        magic = self._read(4)
        if magic != GGUF_MAGIC:
            raise ValueError("%s: not a GGUF file (magic %r)" % (self.path, magic))
        self.version = struct.unpack("<I", self._read(4))[0]
        if self.version not in (1, 2, 3):
            raise ValueError("%s: unsupported GGUF version %d" % (self.path, self.version))
        n_tensors = self._count()
        n_kv = self._count()

        self.metadata = {}
        self.metadata_types = {}
        for _ in range(n_kv):
            key = self._string()
            vtype = self._scalar("I")
            if vtype == GGUFValueType.ARRAY:
                # peek the element type for metadata_types
                etype = struct.unpack("<I", self._buf[self._pos:self._pos + 4])[0]
            else:
                etype = None
            self.metadata[key] = self._value(vtype)
            self.metadata_types[key] = (vtype, etype)

        self.tensors = {}
        for _ in range(n_tensors):
            name = self._string()
            n_dims = self._scalar("I")
            dims = [self._count() for _ in range(n_dims)]
            ttype = self._scalar("I")
            offset = self._scalar("Q")
            self.tensors[name] = TensorInfo(name, dims, ttype, offset)

        self.alignment = int(self.metadata.get("general.alignment", DEFAULT_ALIGNMENT))
        if self.alignment <= 0 or self.alignment & (self.alignment - 1):
            raise ValueError("%s: bad alignment %d" % (self.path, self.alignment))
        a = self.alignment
        self.data_offset = (self._pos + a - 1) // a * a

        for t in self.tensors.values():
            if t.offset % a:
                raise ValueError("%s: tensor %s offset %d is not %d-aligned"
                                 % (self.path, t.name, t.offset, a))
            if t.nbytes is not None and self.data_offset + t.offset + t.nbytes > len(self._buf):
                raise ValueError("%s: tensor %s runs past the end of the file"
                                 % (self.path, t.name))

    # -- tensor access ------------------------------------------------------
    def raw(self, name):
        """The tensor's bytes as a read-only uint8 numpy array."""
        t = self.tensors[name]
        if t.nbytes is None:
            raise NotImplementedError("tensor %s has unsupported type %d" % (name, t.type))
        start = self.data_offset + t.offset
        return np.frombuffer(self._buf, dtype=np.uint8, count=t.nbytes, offset=start)

    def tensor(self, name):
        """The tensor dequantized to a float32 numpy array of shape reversed(dims)."""
        t = self.tensors[name]
        return dequantize(self.raw(name), t.type, t.shape)

    def get(self, key, default=None):
        return self.metadata.get(key, default)

    def close(self):
        # numpy views may still reference the buffer; let GC handle it then.
        try:
            self._buf.close()
        except BufferError:
            pass


def read_gguf(path):
    """Return (metadata dict, {name: float32 ndarray}) for a GGUF file."""
    r = GGUFReader(path)
    tensors = {name: r.tensor(name) for name in r.tensors}
    return r.metadata, tensors


def _main(argv=None):
    import argparse
    p = argparse.ArgumentParser(description="Dump a GGUF file's header, metadata and tensors.")
    p.add_argument("path")
    p.add_argument("--all-values", action="store_true",
                   help="print whole arrays instead of the first few entries")
    args = p.parse_args(argv)
    r = GGUFReader(args.path)
    print("GGUF v%d, %d metadata keys, %d tensors, alignment %d, data at %d"
          % (r.version, len(r.metadata), len(r.tensors), r.alignment, r.data_offset))
    for k, v in r.metadata.items():
        vt, et = r.metadata_types[k]
        tname = GGUFValueType.NAMES[vt]
        if vt == GGUFValueType.ARRAY:
            tname += "[%s x %d]" % (GGUFValueType.NAMES.get(et, et), len(v))
            if not args.all_values and len(v) > 8:
                v = repr(v[:8])[:-1] + ", ...]"
        print("  %s: %s = %s" % (k, tname, v))
    for t in r.tensors.values():
        print("  %-32s %-5s dims=%s offset=%d" % (t.name, t.type_name, list(t.dims), t.offset))


if __name__ == "__main__":
    _main()
