#!/usr/bin/env python3
"""Writes the seed corpora of llmc's fuzz targets.

Usage: make-seeds.py OUT_DIR [SHARED_MODELS_DIR]

OUT_DIR/gguf/ gets small valid GGUF files (every metadata value type, every
tensor type the reference writer knows, Llama vocabularies) written with
test/reference/gguf_writer.py, a few hand-made edge cases, and, when
SHARED_MODELS_DIR holds *.gguf files, the first 8 KB of each plus the
vocabulary of stories260K.gguf without its weights. OUT_DIR/safetensors/ gets
small valid safetensors files. The build writes them for the seed replay
unit test; scripts/fuzz.sh starts the fuzzers from them.
"""

import json
import os
import struct
import sys

import numpy as np

_here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(_here, "..", "test", "reference"))
from gguf_reader import GGUFReader, GGUFValueType as V, GGMLType  # noqa: E402
from gguf_writer import GGUFWriter  # noqa: E402

SPACE = "\u2581"


def write_bytes(path, data):
    with open(path, "wb") as f:
        f.write(data)


# ---------------------------------------------------------------------------
# GGUF
# ---------------------------------------------------------------------------

def all_metadata_types(path):
    w = GGUFWriter(path)
    w.add_string("general.architecture", "llama")
    scalars = [(V.UINT8, 255), (V.INT8, -128), (V.UINT16, 65535),
               (V.INT16, -32768), (V.UINT32, 2**32 - 1), (V.INT32, -2**31),
               (V.FLOAT32, 1.5), (V.BOOL, True), (V.UINT64, 2**64 - 1),
               (V.INT64, -2**63), (V.FLOAT64, -0.25)]
    for vtype, value in scalars:
        name = V.NAMES[vtype].lower()
        w.add("test.%s" % name, value, vtype)
        w.add("test.%s_array" % name, [value, value], V.ARRAY, vtype)
    w.add_string("test.string", "caf\u00e9 \U0001F642")
    w.add_string("test.empty_string", "")
    w.add_array("test.string_array", ["a", "", SPACE + "b"], V.STRING)
    w.add_array("test.empty_array", [], V.UINT32)
    w.add_tensor("x", np.arange(8, dtype=np.float32))
    w.write()


def all_tensor_types(path, alignment=32):
    w = GGUFWriter(path, alignment=alignment)
    if alignment != 32:
        w.add_uint32("general.alignment", alignment)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 64)).astype(np.float32)
    for name in ("F32", "F16", "BF16", "Q8_0", "Q4_0"):
        w.add_tensor("w.%s" % name.lower(), x, name)
    for ggml_type in (GGMLType.Q4_K, GGMLType.Q6_K):
        size = {GGMLType.Q4_K: 144, GGMLType.Q6_K: 210}[ggml_type]
        w.add_raw_tensor("w.type%d" % ggml_type, (256,), ggml_type,
                         rng.integers(0, 256, size, dtype=np.uint8))
    w.add_tensor("scalar", np.float32(3.0))
    w.add_raw_tensor("empty", (0, 4), GGMLType.F32, np.zeros(0, np.uint8))
    w.write()


def llama_vocab(path, byte_tokens=True, scores=True, types=True):
    tokens = ["<unk>", "<s>", "</s>"]
    kinds = [2, 3, 3]
    if byte_tokens:
        tokens += ["<0x%02X>" % b for b in range(256)]
        kinds += [6] * 256
    words = [SPACE, SPACE + "O", "nce", SPACE + "Once", SPACE + "up", "on",
             SPACE + "upon", SPACE + "a", SPACE + "t", "ime", SPACE + "time",
             ",", "caf", "\u00e9", "e", "n", "d", "<user>"]
    tokens += words + list("abcdefghijklmnopqrstuvwxyz")
    kinds += [1] * (len(words) - 1) + [4] + [1] * 26
    w = GGUFWriter(path)
    w.add_string("general.architecture", "llama")
    w.add_string("tokenizer.ggml.model", "llama")
    w.add_array("tokenizer.ggml.tokens", tokens, V.STRING)
    if scores:
        w.add_array("tokenizer.ggml.scores",
                    [-float(i) for i in range(len(tokens))], V.FLOAT32)
    if types:
        w.add_array("tokenizer.ggml.token_type", kinds, V.INT32)
    w.add_uint32("tokenizer.ggml.bos_token_id", 1)
    w.add_uint32("tokenizer.ggml.eos_token_id", 2)
    w.add_uint32("tokenizer.ggml.unknown_token_id", 0)
    w.add_bool("tokenizer.ggml.add_bos_token", True)
    w.add_bool("tokenizer.ggml.add_space_prefix", byte_tokens)
    w.write()


def gguf_string(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("<Q", len(b)) + b


def hand_made(out):
    """Shapes the writer does not produce."""
    head = b"GGUF" + struct.pack("<IQQ", 3, 0, 0)
    write_bytes(os.path.join(out, "empty.gguf"), head)
    # An array of arrays of strings.
    inner = struct.pack("<IQ", V.STRING, 2) + gguf_string("x") + gguf_string("")
    nested = struct.pack("<IQ", V.ARRAY, 2) + inner + inner
    write_bytes(os.path.join(out, "nested-array.gguf"),
                b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + gguf_string("a.b") +
                struct.pack("<I", V.ARRAY) + nested)


def from_shared_models(out, models):
    if not models or not os.path.isdir(models):
        return
    for name in sorted(os.listdir(models)):
        if not name.endswith(".gguf"):
            continue
        with open(os.path.join(models, name), "rb") as f:
            write_bytes(os.path.join(out, name[:-5] + "-head8k.gguf"), f.read(8192))
    stories = os.path.join(models, "stories260K.gguf")
    if os.path.exists(stories):
        # The real 512-token vocabulary and hyperparameters, no weights.
        reader = GGUFReader(stories)
        w = GGUFWriter(os.path.join(out, "stories260K-metadata.gguf"))
        for key, value in reader.metadata.items():
            vtype, etype = reader.metadata_types[key]
            w.add(key, value, vtype, etype)
        w.write()
        reader.close()


def gguf_seeds(out, models):
    os.makedirs(out, exist_ok=True)
    all_metadata_types(os.path.join(out, "metadata-all-types.gguf"))
    all_tensor_types(os.path.join(out, "tensors-all-types.gguf"))
    all_tensor_types(os.path.join(out, "alignment-64.gguf"), alignment=64)
    llama_vocab(os.path.join(out, "vocab-llama.gguf"))
    llama_vocab(os.path.join(out, "vocab-no-bytes.gguf"), byte_tokens=False,
                scores=False, types=False)
    # The same file as GGUF v2 (identical layout, 64-bit counts).
    v3 = os.path.join(out, "tensors-all-types.gguf")
    with open(v3, "rb") as f:
        data = bytearray(f.read())
    data[4:8] = struct.pack("<I", 2)
    write_bytes(os.path.join(out, "v2.gguf"), bytes(data))
    hand_made(out)
    from_shared_models(out, models)


# ---------------------------------------------------------------------------
# safetensors
# ---------------------------------------------------------------------------

# dtype -> numpy type of the same size (the bytes are what matter).
DTYPES = {"BOOL": "u1", "U8": "u1", "I8": "i1", "F8_E5M2": "u1",
          "F8_E4M3": "u1", "I16": "<i2", "U16": "<u2", "F16": "<f2",
          "BF16": "<u2", "I32": "<i4", "U32": "<u4", "F32": "<f4",
          "F64": "<f8", "I64": "<i8", "U64": "<u8"}


def safetensors(path, tensors, metadata=None, pad=True):
    """tensors: [(name, dtype, shape, bytes)] stored in this order."""
    header, data = {}, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": list(shape),
                        "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header, separators=(",", ":")).encode()
    if pad:  # the reference writer pads the header to 8 bytes with spaces
        text += b" " * (-len(text) % 8)
    write_bytes(path, struct.pack("<Q", len(text)) + text + data)


def safetensors_seeds(out):
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(0)
    shapes = [(2, 3), (4,), (), (0, 3), (1, 2, 2)]
    tensors = []
    for i, (dtype, np_type) in enumerate(sorted(DTYPES.items())):
        shape = shapes[i % len(shapes)]
        n = int(np.prod(shape)) if shape else 1
        raw = rng.integers(0, 256, n * np.dtype(np_type).itemsize,
                           dtype=np.uint8).tobytes()
        tensors.append(("t.%s" % dtype.lower(), dtype, shape, raw))
    safetensors(os.path.join(out, "all-dtypes.safetensors"), tensors,
                {"format": "pt", "note": "caf\u00e9"})
    # Data stored out of name order, unpadded header.
    safetensors(os.path.join(out, "unsorted.safetensors"),
                list(reversed(tensors[:4])), pad=False)
    # The tensors of a tiny Hugging Face llama (dim 8, 1 layer, vocab 16).
    llama = []
    for name, shape in [("model.embed_tokens.weight", (16, 8)),
                        ("model.layers.0.input_layernorm.weight", (8,)),
                        ("model.layers.0.self_attn.q_proj.weight", (8, 8)),
                        ("model.layers.0.mlp.down_proj.weight", (8, 12)),
                        ("model.norm.weight", (8,)),
                        ("lm_head.weight", (16, 8))]:
        x = rng.standard_normal(shape).astype(np.float32)
        llama.append((name, "BF16", shape,
                      (x.view(np.uint32) >> 16).astype("<u2").tobytes()))
    safetensors(os.path.join(out, "tiny-llama-bf16.safetensors"), llama,
                {"format": "pt"})
    safetensors(os.path.join(out, "empty.safetensors"), [])
    safetensors(os.path.join(out, "metadata-only.safetensors"), [],
                {"a": "", "b": "x" * 40})
    # config.json-like text: the same target also feeds parseJSON.
    config = {"architectures": ["LlamaForCausalLM"], "hidden_size": 8,
              "num_hidden_layers": 1, "rms_norm_eps": 1e-5,
              "rope_scaling": None, "tie_word_embeddings": True,
              "nested": [[[{"a": [1, 2.5, -3e10, "s\"\\"]}]]]}
    write_bytes(os.path.join(out, "config.json"), json.dumps(config).encode())


def main(argv):
    if len(argv) not in (2, 3):
        sys.stderr.write(__doc__)
        return 2
    out = argv[1]
    models = argv[2] if len(argv) == 3 else None
    gguf_seeds(os.path.join(out, "gguf"), models)
    safetensors_seeds(os.path.join(out, "safetensors"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
