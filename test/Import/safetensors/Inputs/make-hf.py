"""Writes Hugging Face LlamaForCausalLM directories for the llmc import tests.

Usage:
  make-hf.py from-gguf MODEL.gguf OUT [--dtype f32|f16|bf16] [--shards N]
      The GGUF llama model as a Hugging Face directory: config.json and
      model.safetensors (or N shards and model.safetensors.index.json).
      q/k rows are permuted from GGUF's adjacent-pair RoPE layout to Hugging
      Face's rotate-half layout, so the directory is the same model.
  make-hf.py tiny OUT [--dtype ...] [--shards N] [--untied] [--linear F]
      A tiny random llama (2 layers, dim 16, 4 heads, 2 KV heads, vocab 32);
      tied output head unless --untied; --linear: linear RoPE scaling by F.
  make-hf.py bad KIND OUT
      The tiny model with one defect (see BAD below).
  make-hf.py check-offsets OUT < module.mlir
      Checks that every llm.weight of an imported module (llmc-translate
      output) points at the bytes of that tensor in OUT's files.

The safetensors writer here is written from the format description
(8-byte little-endian header length, JSON header, data) and shares no code
with llmc.
"""

import json
import os
import re
import struct
import sys

import numpy as np

# GGUF name suffix -> Hugging Face name suffix, per layer.
LAYER_NAMES = {
    "attn_norm.weight": "input_layernorm.weight",
    "attn_q.weight": "self_attn.q_proj.weight",
    "attn_k.weight": "self_attn.k_proj.weight",
    "attn_v.weight": "self_attn.v_proj.weight",
    "attn_output.weight": "self_attn.o_proj.weight",
    "ffn_norm.weight": "post_attention_layernorm.weight",
    "ffn_gate.weight": "mlp.gate_proj.weight",
    "ffn_up.weight": "mlp.up_proj.weight",
    "ffn_down.weight": "mlp.down_proj.weight",
}
GLOBAL_NAMES = {
    "token_embd.weight": "model.embed_tokens.weight",
    "output_norm.weight": "model.norm.weight",
    "output.weight": "lm_head.weight",
}


def hf_name(gguf_name):
    if gguf_name in GLOBAL_NAMES:
        return GLOBAL_NAMES[gguf_name]
    _, layer, rest = gguf_name.split(".", 2)
    return "model.layers.%s.%s" % (layer, LAYER_NAMES[rest])


def to_half_split(w, heads):
    """Rows of each head reordered from adjacent RoPE pairs (2i, 2i+1) to
    rotate-half pairs (i, i + head_dim/2): the inverse of the permutation
    HF -> GGUF converters apply."""
    rows, cols = w.shape
    head_dim = rows // heads
    order = list(range(0, head_dim, 2)) + list(range(1, head_dim, 2))
    return w.reshape(heads, head_dim, cols)[:, order, :].reshape(rows, cols)


# ---------------------------------------------------------------------------
# safetensors
# ---------------------------------------------------------------------------

def bf16_bits(a):
    """float32 -> bfloat16 bit patterns (round to nearest even)."""
    u = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32).astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)


def encode(a, dtype):
    """(dtype name, bytes) of float32 array `a` stored as `dtype`."""
    if dtype == "F32":
        return np.ascontiguousarray(a, dtype="<f4").tobytes()
    if dtype == "F16":
        return np.ascontiguousarray(a, dtype="<f2").tobytes()
    if dtype == "BF16":
        return bf16_bits(a).astype("<u2").tobytes()
    if dtype == "I8":
        return np.clip(np.round(a * 64), -128, 127).astype(np.int8).tobytes()
    raise ValueError(dtype)


def write_safetensors(path, tensors, metadata=None, edit_header=None):
    """tensors: list of (name, float32 array, dtype name). `edit_header`
    may rewrite the header dict before it is written."""
    header, blobs, offset = {}, [], 0
    for name, array, dtype in tensors:
        data = encode(array, dtype)
        header[name] = {"dtype": dtype, "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    if metadata is not None:
        header["__metadata__"] = metadata
    if edit_header:
        edit_header(header)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)  # data 8-byte aligned, like the writers
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for data in blobs:
            f.write(data)


def read_safetensors_header(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        return 8 + n, json.loads(f.read(n))


# ---------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------

def from_gguf(path):
    """(config dict, {gguf name: float32 array in HF layout})."""
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, os.path.join(here, "..", "..", "..", "reference"))
    import gguf_reader

    reader = gguf_reader.GGUFReader(path)
    meta = reader.metadata
    dim = meta["llama.embedding_length"]
    heads = meta["llama.attention.head_count"]
    kv_heads = meta.get("llama.attention.head_count_kv", heads)
    rope_dims = meta.get("llama.rope.dimension_count", dim // heads)
    if rope_dims != dim // heads:
        raise SystemExit("partial rotary embeddings have no LlamaForCausalLM form")
    tensors = {name: reader.tensor(name) for name in reader.tensors}
    for name in tensors:
        if name.endswith("attn_q.weight"):
            tensors[name] = to_half_split(tensors[name], heads)
        elif name.endswith("attn_k.weight"):
            tensors[name] = to_half_split(tensors[name], kv_heads)
    config = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": dim,
        "intermediate_size": meta["llama.feed_forward_length"],
        "num_hidden_layers": meta["llama.block_count"],
        "num_attention_heads": heads,
        "num_key_value_heads": kv_heads,
        "max_position_embeddings": meta["llama.context_length"],
        "rms_norm_eps": meta.get("llama.attention.layer_norm_rms_epsilon", 1e-5),
        "rope_theta": meta.get("llama.rope.freq_base", 10000.0),
        "vocab_size": tensors["token_embd.weight"].shape[0],
        "tie_word_embeddings": "output.weight" not in tensors,
        "hidden_act": "silu",
        "rope_scaling": None,
        "torch_dtype": "float32",
    }
    return config, tensors


TINY = dict(dim=16, layers=2, heads=4, kv_heads=2, ffn=24, vocab=32)


def tiny(untied=False):
    t = TINY
    rng = np.random.default_rng(1234)
    head_dim = t["dim"] // t["heads"]
    shapes = {"token_embd.weight": (t["vocab"], t["dim"]),
              "output_norm.weight": (t["dim"],)}
    if untied:
        shapes["output.weight"] = (t["vocab"], t["dim"])
    for layer in range(t["layers"]):
        p = "blk.%d." % layer
        shapes.update({
            p + "attn_norm.weight": (t["dim"],),
            p + "attn_q.weight": (t["heads"] * head_dim, t["dim"]),
            p + "attn_k.weight": (t["kv_heads"] * head_dim, t["dim"]),
            p + "attn_v.weight": (t["kv_heads"] * head_dim, t["dim"]),
            p + "attn_output.weight": (t["dim"], t["heads"] * head_dim),
            p + "ffn_norm.weight": (t["dim"],),
            p + "ffn_gate.weight": (t["ffn"], t["dim"]),
            p + "ffn_up.weight": (t["ffn"], t["dim"]),
            p + "ffn_down.weight": (t["dim"], t["ffn"]),
        })
    tensors = {name: rng.standard_normal(shape).astype(np.float32) * 0.25
               for name, shape in shapes.items()}
    config = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": t["dim"],
        "intermediate_size": t["ffn"],
        "num_hidden_layers": t["layers"],
        "num_attention_heads": t["heads"],
        "num_key_value_heads": t["kv_heads"],
        "max_position_embeddings": 128,
        "rms_norm_eps": 1e-6,
        "rope_theta": 500000.0,
        "vocab_size": t["vocab"],
        "tie_word_embeddings": not untied,
        "hidden_act": "silu",
    }
    return config, tensors


def write_model(out, config, tensors, dtype="F32", shards=1, edits=None):
    """Writes config.json and the weights. `edits` (dict) may hold:
    dtypes {hf name: dtype}, drop [hf names], shapes {hf name: shape},
    extra {hf name: array} (more tensors), edit_header (function on the
    first file's header dict), edit_index (function on the index dict)."""
    edits = edits or {}
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    entries = []
    for name, array in tensors.items():
        hf = hf_name(name)
        if hf in edits.get("drop", ()):
            continue
        if hf in edits.get("shapes", {}):
            array = np.zeros(edits["shapes"][hf], np.float32)
        entries.append((hf, array, edits.get("dtypes", {}).get(hf, dtype)))
    for hf, array in edits.get("extra", {}).items():
        entries.append((hf, array, dtype))
    if shards == 1:
        write_safetensors(os.path.join(out, "model.safetensors"), entries,
                          {"format": "pt"}, edits.get("edit_header"))
        return
    weight_map, total = {}, 0
    for k in range(shards):
        file = "model-%05d-of-%05d.safetensors" % (k + 1, shards)
        part = entries[k::shards]
        write_safetensors(os.path.join(out, file), part, {"format": "pt"},
                          edits.get("edit_header") if k == 0 else None)
        for name, array, dtype in part:
            weight_map[name] = file
            total += len(encode(array, dtype))
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    if "edit_index" in edits:
        edits["edit_index"](index)
    with open(os.path.join(out, "model.safetensors.index.json"), "w") as f:
        json.dump(index, f, indent=2)


# ---------------------------------------------------------------------------
# Defects
# ---------------------------------------------------------------------------

def _set(d, key, value):
    d[key] = value


def _truncate(out, size):
    path = os.path.join(out, "model.safetensors")
    with open(path, "r+b") as f:
        f.truncate(size)


def _raw(out, data):
    with open(os.path.join(out, "model.safetensors"), "wb") as f:
        f.write(data)


def _config(out, edit):
    path = os.path.join(out, "config.json")
    with open(path) as f:
        config = json.load(f)
    edit(config)
    with open(path, "w") as f:
        json.dump(config, f)


UP0 = "model.layers.0.mlp.up_proj.weight"
K1 = "model.layers.1.self_attn.k_proj.weight"

# kind -> (edits for write_model, shards, function run on OUT afterwards)
BAD = {
    # The file ends inside the tensor data.
    "truncated": ({}, 1, lambda out: _truncate(
        out, os.path.getsize(os.path.join(out, "model.safetensors")) - 100)),
    "tiny-file": ({}, 1, lambda out: _raw(out, b"\x10\x00\x00\x00")),
    "header-past-end": ({}, 1, lambda out: _raw(
        out, struct.pack("<Q", 1 << 40) + b"{}")),
    # A sparse file as long as its header claims.
    "header-too-long": ({}, 1, lambda out: (
        _raw(out, struct.pack("<Q", 200_000_000) + b"{"),
        _truncate(out, 8 + 200_000_000))),
    "invalid-json": ({}, 1, lambda out: _raw(
        out, struct.pack("<Q", 16) + b'{"a": {"dtype":' + b"\x00" * 8)),
    "deep-json": ({}, 1, lambda out: _raw(
        out, struct.pack("<Q", 200000) + b"[" * 100000 + b"]" * 100000)),
    "not-object": ({}, 1, lambda out: _raw(out, struct.pack("<Q", 2) + b"[]")),
    "i8": ({"dtypes": {UP0: "I8"}}, 1, None),
    "unknown-dtype": ({"edit_header": lambda h: _set(
        h[UP0], "dtype", "Q9")}, 1, None),
    "missing-tensor": ({"drop": [K1]}, 1, None),
    "wrong-shape": ({"shapes": {UP0: (24, 15)}}, 1, None),
    "offsets-mismatch": ({"edit_header": lambda h: _set(
        h[UP0], "shape", [24, 8])}, 1, None),
    "offsets-past-end": ({"edit_header": lambda h: _set(
        h[UP0], "data_offsets", [0, 1 << 50])}, 1, None),
    "shape-overflow": ({"edit_header": lambda h: _set(
        h[UP0], "shape", [1 << 40, 1 << 40])}, 1, None),
    "negative-dim": ({"edit_header": lambda h: _set(
        h[UP0], "shape", [-24, 16])}, 1, None),
    "bad-metadata": ({"edit_header": lambda h: _set(
        h, "__metadata__", {"format": 1})}, 1, None),
    # A second name for the bytes of another tensor.
    "overlap": ({"edit_header": lambda h: _set(
        h, "model.layers.0.self_attn.q_proj.bias", h[UP0])}, 1, None),
    "unexpected-tensor": ({"extra": {
        "model.layers.0.self_attn.q_proj.bias": np.zeros(16, np.float32)}},
        1, None),
    "layer-out-of-range": ({"extra": {
        "model.layers.7.mlp.up_proj.weight": np.zeros((24, 16), np.float32)}},
        1, None),
    "architecture": ({}, 1, lambda out: _config(
        out, lambda c: _set(c, "architectures", ["MistralForCausalLM"]))),
    "no-architectures": ({}, 1, lambda out: _config(
        out, lambda c: c.pop("architectures"))),
    "config-json": ({}, 1, lambda out: open(
        os.path.join(out, "config.json"), "w").write('{"hidden_size": 16,')),
    "config-missing-key": ({}, 1, lambda out: _config(
        out, lambda c: c.pop("intermediate_size"))),
    "config-bad-int": ({}, 1, lambda out: _config(
        out, lambda c: _set(c, "num_attention_heads", -4))),
    "rope-scaling": ({}, 1, lambda out: _config(
        out, lambda c: _set(c, "rope_scaling", {"rope_type": "yarn",
                                                "factor": 4.0}))),
    "head-dim": ({}, 1, lambda out: _config(
        out, lambda c: _set(c, "head_dim", 8))),
    "no-weights": ({}, 1, lambda out: os.remove(
        os.path.join(out, "model.safetensors"))),
    "shard-escapes": ({"edit_index": lambda i: _set(
        i["weight_map"], UP0, "../model-00001-of-00002.safetensors")}, 2, None),
    "shard-missing": ({"edit_index": lambda i: _set(
        i["weight_map"], UP0, "model-00009-of-00009.safetensors")}, 2, None),
    # model.norm.weight is the second tensor: in the second shard.
    "shard-lacks-tensor": ({"edit_index": lambda i: _set(
        i["weight_map"], "model.norm.weight",
        "model-00001-of-00002.safetensors")}, 2, None),
}


# ---------------------------------------------------------------------------
# Offsets check
# ---------------------------------------------------------------------------

WEIGHT_RE = re.compile(
    r'llm\.weight @\S+ "([^"]+)" : tensor<([0-9x]+)x(f32|f16|bf16)> '
    r'from "([^"]+)" at (\d+)')
DTYPE_OF = {"f32": "F32", "f16": "F16", "bf16": "BF16"}


def check_offsets(out, mlir_text):
    """Each llm.weight's bytes are those of its Hugging Face tensor."""
    files = {}
    count = 0
    for gguf_name, shape, elt, file, offset in WEIGHT_RE.findall(mlir_text):
        if file not in files:
            start, header = read_safetensors_header(file)
            files[file] = (start, header, open(file, "rb").read())
        start, header, data = files[file]
        hf = hf_name(gguf_name)
        info = header[hf]
        begin, end = info["data_offsets"]
        shape = [int(d) for d in shape.split("x")]
        assert os.path.dirname(os.path.abspath(file)) == os.path.abspath(out), file
        assert int(offset) == start + begin, (gguf_name, offset, start + begin)
        assert shape == info["shape"], (gguf_name, shape, info["shape"])
        assert DTYPE_OF[elt] == info["dtype"], (gguf_name, elt, info["dtype"])
        assert end - begin > 0 and int(offset) + end - begin <= len(data)
        count += 1
    print("%d weights at their tensors' offsets" % count)


def main(argv):
    args = list(argv)
    dtype, shards, untied = "F32", 1, False
    if "--dtype" in args:
        i = args.index("--dtype")
        dtype = args[i + 1].upper()
        del args[i:i + 2]
    if "--shards" in args:
        i = args.index("--shards")
        shards = int(args[i + 1])
        del args[i:i + 2]
    if "--untied" in args:
        args.remove("--untied")
        untied = True
    linear = None
    if "--linear" in args:
        i = args.index("--linear")
        linear = float(args[i + 1])
        del args[i:i + 2]
    mode = args[0]
    if mode == "from-gguf":
        config, tensors = from_gguf(args[1])
        config["torch_dtype"] = {"F32": "float32", "F16": "float16",
                                 "BF16": "bfloat16"}[dtype]
        write_model(args[2], config, tensors, dtype, shards)
    elif mode == "tiny":
        config, tensors = tiny(untied)
        if linear:
            config["rope_scaling"] = {"type": "linear", "factor": linear}
        write_model(args[1], config, tensors, dtype, shards)
    elif mode == "bad":
        edits, bad_shards, after = BAD[args[1]]
        config, tensors = tiny()
        write_model(args[2], config, tensors, "F32", bad_shards, edits)
        if after:
            after(args[2])
    elif mode == "check-offsets":
        check_offsets(args[1], sys.stdin.read())
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
