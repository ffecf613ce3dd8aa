"""Writes small GGUF files, valid and malformed, for the reader's lit tests.

Usage: make-gguf.py VARIANT OUT.gguf   (make-gguf.py --list names them)

Every variant is a one-tensor llama-ish file with one thing changed.
"""

import struct
import sys

U8, I8, U16, I16, U32, I32, F32, BOOL, STRING, ARRAY, U64, I64, F64 = range(13)


def string(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("<Q", len(b)) + b


def kv(key, tag, payload):
    return string(key) + struct.pack("<I", tag) + payload


def tensor_info(name, dims, ggml_type, offset):
    out = string(name) + struct.pack("<I", len(dims))
    out += b"".join(struct.pack("<Q", d) for d in dims)
    return out + struct.pack("<IQ", ggml_type, offset)


def gguf(version=3, kvs=(), tensors=(), data=b"", alignment=32, magic=b"GGUF",
         version_bytes=None):
    head = magic + (version_bytes or struct.pack("<I", version))
    head += struct.pack("<QQ", len(tensors), len(kvs))
    body = head + b"".join(kvs) + b"".join(tensors)
    body += b"\0" * (-len(body) % alignment)
    return body + data


def base_kvs():
    return [kv("general.architecture", STRING, string("llama")),
            kv("llama.embedding_length", U32, struct.pack("<I", 8)),
            kv("llama.block_count", U32, struct.pack("<I", 1))]


def one_tensor(dims=(8, 2), ggml_type=0, offset=0, nbytes=64, **kw):
    return gguf(kvs=kw.pop("kvs", base_kvs()),
                tensors=[tensor_info("tok.weight", list(dims), ggml_type, offset)],
                data=bytes(nbytes), **kw)


def tokenizer_kvs(model):
    tokens = ["<unk>", "<s>", "</s>", "\u2581hi"]
    arr = struct.pack("<IQ", STRING, len(tokens)) + b"".join(string(t) for t in tokens)
    return base_kvs() + [kv("tokenizer.ggml.model", STRING, string(model)),
                         kv("tokenizer.ggml.tokens", ARRAY, arr)]


VARIANTS = {
    "valid-v3": lambda: one_tensor(),
    "valid-v2": lambda: one_tensor(version=2),
    "v1": lambda: one_tensor(version=1),
    "v4": lambda: one_tensor(version=4),
    "big-endian": lambda: one_tensor(version_bytes=struct.pack(">I", 3)),
    "bad-magic": lambda: one_tensor(magic=b"GGML"),
    "unknown-type": lambda: one_tensor(ggml_type=17),
    "too-many-dims": lambda: one_tensor(dims=(1, 1, 1, 1, 1)),
    "misaligned": lambda: one_tensor(offset=8, nbytes=128),
    "offset-past-end": lambda: one_tensor(offset=4096),
    "ragged-q8_0": lambda: one_tensor(dims=(172, 64), ggml_type=8, nbytes=8192),
    "dims-overflow": lambda: one_tensor(dims=(1 << 32, 1 << 32)),
    "bad-alignment": lambda: one_tensor(
        kvs=base_kvs() + [kv("general.alignment", U32, struct.pack("<I", 3))]),
    "huge-string": lambda: gguf(kvs=[kv("general.name", STRING,
                                        struct.pack("<Q", 1 << 62) + b"x" * 16)]),
    "huge-array": lambda: gguf(kvs=[kv("a", ARRAY,
                                       struct.pack("<IQ", U32, 1 << 60) + bytes(64))]),
    "unknown-value-type": lambda: gguf(kvs=[kv("a", 42, bytes(8))]),
    "gpt2-tokenizer": lambda: one_tensor(kvs=tokenizer_kvs("gpt2")),
    "llama-tokenizer": lambda: one_tensor(kvs=tokenizer_kvs("llama")),
}


def main():
    if sys.argv[1:] == ["--list"]:
        print("\n".join(VARIANTS))
        return 0
    variant, out = sys.argv[1:3]
    with open(out, "wb") as f:
        f.write(VARIANTS[variant]())
    return 0


if __name__ == "__main__":
    sys.exit(main())
