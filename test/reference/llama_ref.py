"""An independent, straightforward Llama forward pass in numpy (float32).

Used by llmc's tests to check the compiler's numerics.  Written from the model
equations; shares no code with the compiler.  Only numpy is required.

    m = Model("stories260K.gguf")
    logits = m.forward([1, 403, 407], start_pos=0)   # (3, vocab) float32
    ids = greedy(m, [1, 403, 407, 261, 378], 64)
    print(m.detokenize(ids))

Per layer (x is the residual stream, one row per token):
    h = rmsnorm(x) * attn_norm               rmsnorm(x) = x / sqrt(mean(x^2) + eps)
    q, k, v = h @ Wq.T, h @ Wk.T, h @ Wv.T   (W has shape (out, in))
    RoPE on q and k: in each head, pairs (x[2i], x[2i+1]) for 2i < rope_dims
        rotate by angle p * theta^(-2i/rope_dims), p the absolute position
    k, v appended to the KV cache at positions start_pos..start_pos+T-1
    query head h attends over kv head h // (n_heads / n_kv_heads),
        causal softmax(q.k / sqrt(head_dim)) over positions <= its own
    x += attn @ Wo.T
    h = rmsnorm(x) * ffn_norm
    x += (silu(h @ W1.T) * (h @ W3.T)) @ W2.T     W1=ffn_gate, W3=ffn_up, W2=ffn_down
Then logits = (rmsnorm(x) * output_norm) @ Wout.T, Wout = output.weight or
token_embd.weight when output.weight is absent (tied embeddings).
"""

import json
import os
import re
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gguf_reader import GGMLType, GGUFReader  # noqa: E402

__all__ = ["Model", "greedy", "Detokenizer"]

F32 = np.float32


def rmsnorm(x, w, eps):
    x = x.astype(F32, copy=False)
    ms = np.mean(x * x, axis=-1, keepdims=True, dtype=F32)
    return (x / np.sqrt(ms + F32(eps))) * w


def q8_round(x):
    """Rows of x rounded to ggml Q8_0 values per 32-element block (the last
    block zero-padded), in float32 as the kernels compute them."""
    x = np.asarray(x, dtype=F32)
    T, K = x.shape
    blocks = -(-K // 32)
    padded = np.zeros((T, blocks * 32), dtype=F32)
    padded[:, :K] = x
    b = padded.reshape(T, blocks, 32)
    amax = np.abs(b).max(axis=2, keepdims=True)
    with np.errstate(divide="ignore"):
        inv = np.where(amax > 0, F32(127.0) / amax, F32(0.0)).astype(F32)
    q = np.rint((b * inv).astype(F32))
    d = (amax / F32(127.0)).astype(F32)
    return (q * d).reshape(T, blocks * 32)[:, :K].astype(F32)


def silu(x):
    with np.errstate(over="ignore"):
        return x / (F32(1) + np.exp(-x))


def softmax(x, axis=-1):
    m = np.max(x, axis=axis, keepdims=True)
    e = np.exp(x - m)
    return e / np.sum(e, axis=axis, keepdims=True)


class Detokenizer:
    """Minimal SentencePiece-style detokenizer over tokenizer.ggml.tokens.

    "\u2581" becomes a space, <0xNN> byte tokens become raw bytes, control
    tokens (BOS/EOS, ...) and unknown tokens produce nothing, and the leading
    space of the first piece after BOS is dropped."""

    _BYTE = re.compile(r"^<0x([0-9A-Fa-f]{2})>$")

    def __init__(self, metadata):
        self.tokens = metadata.get("tokenizer.ggml.tokens") or []
        types = metadata.get("tokenizer.ggml.token_type")
        self.types = list(types) if types is not None else [1] * len(self.tokens)
        self.bos = metadata.get("tokenizer.ggml.bos_token_id", 1)
        self.eos = metadata.get("tokenizer.ggml.eos_token_id", 2)

    def decode(self, ids):
        out = bytearray()
        after_bos = False
        for tid in ids:
            tid = int(tid)
            if tid < 0 or tid >= len(self.tokens):
                after_bos = False
                continue
            piece = self.tokens[tid]
            ttype = self.types[tid]
            if tid == self.bos:
                after_bos = True
                continue
            if ttype in (2, 3, 5):  # unknown, control, unused
                continue
            m = self._BYTE.match(piece)
            if ttype == 6 or (m and ttype != 1):
                out.append(int(m.group(1), 16))
            else:
                s = piece.replace("\u2581", " ")
                if after_bos and s.startswith(" "):
                    s = s[1:]
                out += s.encode("utf-8", errors="surrogateescape")
            after_bos = False
        return out.decode("utf-8", errors="replace")


class Model:
    def __init__(self, path, max_ctx=None):
        r = GGUFReader(path)
        self.path = path
        self.metadata = r.metadata
        md = r.metadata
        arch = md.get("general.architecture", "llama")
        if arch != "llama":
            raise ValueError("%s: architecture %r is not llama" % (path, arch))

        def hp(key, default=None):
            v = md.get("llama." + key, default)
            if v is None:
                raise KeyError("%s: missing llama.%s" % (path, key))
            return v

        self.n_embd = int(hp("embedding_length"))
        self.n_layers = int(hp("block_count"))
        self.n_heads = int(hp("attention.head_count"))
        self.n_kv_heads = int(hp("attention.head_count_kv", self.n_heads))
        self.head_dim = self.n_embd // self.n_heads
        self.rope_dims = int(hp("rope.dimension_count", self.head_dim))
        self.rope_theta = float(hp("rope.freq_base", 10000.0))
        self.eps = float(hp("attention.layer_norm_rms_epsilon", 1e-5))
        self.context_length = int(hp("context_length", 2048))
        self.max_ctx = int(max_ctx) if max_ctx else self.context_length
        if self.n_heads % self.n_kv_heads:
            raise ValueError("head_count %d is not a multiple of head_count_kv %d"
                             % (self.n_heads, self.n_kv_heads))
        if self.rope_dims % 2 or self.rope_dims > self.head_dim:
            raise ValueError("bad rope dimension count %d" % self.rope_dims)

        def t(name):
            return np.ascontiguousarray(r.tensor(name), dtype=F32)

        # Weights stored as Q8_0/Q4_0: engines (llmc's decode kernels, ggml)
        # multiply them with the activation row quantized to 8 bits; see
        # forward(q8_rows=...).
        self.q8_weights = {n for n, ti in r.tensors.items()
                           if ti.type in (GGMLType.Q8_0, GGMLType.Q4_0)}

        self.tok_embd = t("token_embd.weight")               # (vocab, n_embd)
        self.vocab = self.tok_embd.shape[0]
        self.layers = []
        for i in range(self.n_layers):
            p = "blk.%d." % i
            self.layers.append({
                "attn_norm": t(p + "attn_norm.weight"),
                "wq": t(p + "attn_q.weight"),
                "wk": t(p + "attn_k.weight"),
                "wv": t(p + "attn_v.weight"),
                "wo": t(p + "attn_output.weight"),
                "ffn_norm": t(p + "ffn_norm.weight"),
                "w1": t(p + "ffn_gate.weight"),
                "w3": t(p + "ffn_up.weight"),
                "w2": t(p + "ffn_down.weight"),
            })
        self.output_norm = t("output_norm.weight")
        self.output = t("output.weight") if "output.weight" in r.tensors else self.tok_embd
        self.tied = "output.weight" not in r.tensors
        self.detok = Detokenizer(md)

        # RoPE frequencies for pair i: theta^(-2i/rope_dims)
        i = np.arange(self.rope_dims // 2, dtype=np.float64)
        self._inv_freq = self.rope_theta ** (-2.0 * i / self.rope_dims)
        self.reset()

    def reset(self):
        shape = (self.n_layers, self.max_ctx, self.n_kv_heads, self.head_dim)
        self.k_cache = np.zeros(shape, dtype=F32)
        self.v_cache = np.zeros(shape, dtype=F32)
        self.n_past = 0

    def _rope(self, x, positions):
        """x: (T, heads, head_dim); rotates pairs (2i, 2i+1), 2i < rope_dims."""
        ang = np.outer(positions.astype(np.float64), self._inv_freq)   # (T, rd/2)
        cos = np.cos(ang).astype(F32)[:, None, :]
        sin = np.sin(ang).astype(F32)[:, None, :]
        rd = self.rope_dims
        x0 = x[:, :, 0:rd:2].copy()
        x1 = x[:, :, 1:rd:2].copy()
        out = x.copy()
        out[:, :, 0:rd:2] = x0 * cos - x1 * sin
        out[:, :, 1:rd:2] = x0 * sin + x1 * cos
        return out

    def forward(self, tokens, start_pos, q8_rows=None):
        """Run tokens at positions start_pos.. and return logits (T, vocab).

        Writes K/V into the cache at those positions; attention sees cached
        positions [0, start_pos) plus the causal part of this chunk.

        q8_rows: optional boolean mask over the T rows; those rows' inputs
        to products with Q8_0/Q4_0 weights are first rounded to 8 bits per
        32-element block as ggml's Q8_0 does (d = max|x| / 127, q =
        round-half-even(x / d) in float32), which is what a decode step of
        llmc's kernels computes."""
        tokens = np.asarray(tokens, dtype=np.int64).reshape(-1)
        T = tokens.shape[0]
        start_pos = int(start_pos)
        end = start_pos + T
        if start_pos < 0 or end > self.max_ctx:
            raise ValueError("positions [%d, %d) exceed the context %d" % (start_pos, end, self.max_ctx))
        if start_pos > self.n_past:
            raise ValueError("start_pos %d leaves a gap after %d cached positions"
                             % (start_pos, self.n_past))
        H, KVH, hd = self.n_heads, self.n_kv_heads, self.head_dim
        group = H // KVH
        scale = F32(1.0 / np.sqrt(hd))
        positions = np.arange(start_pos, end)
        # causal mask: query at position start_pos+t sees keys s <= start_pos+t
        mask = np.arange(end)[None, :] > positions[:, None]            # (T, S)

        def mm(a, name, w):
            if q8_rows is not None and name in self.q8_weights:
                a = a.copy()
                a[q8_rows] = q8_round(a[q8_rows])
            return a @ w.T

        x = self.tok_embd[tokens].astype(F32)                           # (T, D)
        for li, L in enumerate(self.layers):
            p_ = "blk.%d." % li
            h = rmsnorm(x, L["attn_norm"], self.eps)
            q = mm(h, p_ + "attn_q.weight", L["wq"]).reshape(T, H, hd)
            k = mm(h, p_ + "attn_k.weight", L["wk"]).reshape(T, KVH, hd)
            v = mm(h, p_ + "attn_v.weight", L["wv"]).reshape(T, KVH, hd)
            q = self._rope(q, positions)
            k = self._rope(k, positions)
            self.k_cache[li, start_pos:end] = k
            self.v_cache[li, start_pos:end] = v
            K = self.k_cache[li, :end]                                  # (S, KVH, hd)
            V = self.v_cache[li, :end]
            Kh = np.repeat(K, group, axis=1)                            # head h -> kv h//group
            Vh = np.repeat(V, group, axis=1)
            scores = np.einsum("thd,shd->hts", q, Kh).astype(F32) * scale
            scores = np.where(mask[None], F32(-np.inf), scores)
            p = softmax(scores, axis=-1).astype(F32)
            attn = np.einsum("hts,shd->thd", p, Vh).astype(F32).reshape(T, H * hd)
            x = x + mm(attn, p_ + "attn_output.weight", L["wo"])
            h = rmsnorm(x, L["ffn_norm"], self.eps)
            ff = silu(mm(h, p_ + "ffn_gate.weight", L["w1"])) * \
                mm(h, p_ + "ffn_up.weight", L["w3"])
            x = x + mm(ff, p_ + "ffn_down.weight", L["w2"])
        x = rmsnorm(x, self.output_norm, self.eps)
        self.n_past = end
        out_name = "token_embd.weight" if self.tied else "output.weight"
        return mm(x, out_name, self.output).astype(F32)

    def detokenize(self, ids):
        return self.detok.decode(ids)


def greedy(model, token_ids, n, stop_at_eos=True, return_logits=False):
    """Greedy (argmax) generation of up to n tokens after the prompt.

    Returns the generated ids (and, with return_logits, the prompt's logits)."""
    model.reset()
    token_ids = [int(t) for t in token_ids]
    logits = model.forward(token_ids, 0)
    prompt_logits = logits
    pos = len(token_ids)
    out = []
    eos = model.detok.eos
    for _ in range(n):
        nxt = int(np.argmax(logits[-1]))
        if stop_at_eos and nxt == eos:
            break
        out.append(nxt)
        if len(out) == n or pos >= model.max_ctx:
            break
        logits = model.forward([nxt], pos)
        pos += 1
    return (out, prompt_logits) if return_logits else out


def _main(argv=None):
    import argparse
    p = argparse.ArgumentParser(description="Reference Llama greedy generation (numpy, float32)")
    p.add_argument("model")
    p.add_argument("--tokens", default="1", help="comma-separated prompt token ids (include BOS)")
    p.add_argument("--n", type=int, default=64, help="tokens to generate")
    p.add_argument("--logits-out", help="save the prompt positions' logits (T, vocab) to this .npy")
    p.add_argument("--json", action="store_true", help="print the ids (and text) as JSON")
    p.add_argument("--echo", action="store_true", help="print the prompt's text before the continuation")
    p.add_argument("--no-stop", action="store_true", help="do not stop at EOS")
    args = p.parse_args(argv)

    prompt = [int(t) for t in args.tokens.split(",") if t.strip()]
    m = Model(args.model)
    gen, plog = greedy(m, prompt, args.n, stop_at_eos=not args.no_stop, return_logits=True)
    if args.logits_out:
        np.save(args.logits_out, plog)
    text = m.detokenize(gen)
    if args.json:
        print(json.dumps({"prompt": prompt, "generated": gen, "text": text}, ensure_ascii=False))
    else:
        if args.echo:
            text = m.detokenize(prompt) + text
        sys.stdout.write(text + "\n")


if __name__ == "__main__":
    _main()
