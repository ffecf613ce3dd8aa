"""A minimal GGUF v3 writer: metadata and F32 tensors.

Only what the demo model needs: scalar and array metadata (strings, 32-bit
integers and floats, booleans) and float32 tensors.  Layout (all little
endian):

    "GGUF", version u32 = 3, tensor count u64, metadata count u64
    metadata: key (u64 length + UTF-8), value type u32, value
    tensor infos: name, n_dims u32, dims u64 (innermost first), type u32,
                  offset u64 (from the start of the data section)
    padding to the alignment, then each tensor's data, each aligned
"""

import struct

import numpy as np

ALIGNMENT = 32

UINT32, INT32, FLOAT32, BOOL, STRING, ARRAY = 4, 5, 6, 7, 8, 9
GGML_TYPE_F32 = 0


class UInt32(int):
    """Marks an int to be written as uint32 (plain ints are written int32)."""


def _string(s):
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def _scalar(value):
    """(type, bytes) of one metadata value."""
    if isinstance(value, bool):
        return BOOL, struct.pack("<B", int(value))
    if isinstance(value, UInt32):
        return UINT32, struct.pack("<I", value)
    if isinstance(value, int):
        return INT32, struct.pack("<i", value)
    if isinstance(value, float):
        return FLOAT32, struct.pack("<f", value)
    if isinstance(value, str):
        return STRING, _string(value)
    raise TypeError("unsupported metadata value %r" % (value,))


def _value(value):
    if isinstance(value, (list, tuple)):
        if not value:
            raise ValueError("empty metadata arrays are not supported")
        types = {_scalar(v)[0] for v in value}
        if len(types) != 1:
            raise TypeError("metadata array of mixed types")
        etype = types.pop()
        body = b"".join(_scalar(v)[1] for v in value)
        return ARRAY, struct.pack("<IQ", etype, len(value)) + body
    return _scalar(value)


def write(path, metadata, tensors):
    """Write `metadata` (dict, in order) and `tensors` (list of (name,
    float32 numpy array in row-major order)) to a GGUF v3 file.  A numpy
    array of shape (a, b) is stored with GGUF dims [b, a]."""
    header = bytearray(b"GGUF")
    header += struct.pack("<IQQ", 3, len(tensors), len(metadata))
    for key, value in metadata.items():
        vtype, body = _value(value)
        header += _string(key) + struct.pack("<I", vtype) + body
    offset = 0
    blobs = []
    for name, array in tensors:
        data = np.ascontiguousarray(array, dtype="<f4")
        dims = list(reversed(data.shape))
        header += _string(name) + struct.pack("<I", len(dims))
        header += b"".join(struct.pack("<Q", d) for d in dims)
        header += struct.pack("<IQ", GGML_TYPE_F32, offset)
        blob = data.tobytes()
        pad = (-len(blob)) % ALIGNMENT
        blobs.append(blob + b"\0" * pad)
        offset += len(blob) + pad
    header += b"\0" * ((-len(header)) % ALIGNMENT)
    with open(path, "wb") as f:
        f.write(header)
        for blob in blobs:
            f.write(blob)
