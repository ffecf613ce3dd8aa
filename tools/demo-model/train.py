#!/usr/bin/python3
"""Train the llmc demo model and write it as a GGUF file.

Generates simple English stories (storygen.py), learns a SentencePiece-style
BPE vocabulary on them (spm.py), trains a small Llama on the tokenized
stories with PyTorch on the CPU, and writes models/demo-llama.gguf (GGUF v3,
F32 tensors, Llama metadata and tokenizer).  Everything is deterministic given
--seed (same machine and PyTorch build): the data, the vocabulary, the
initialization, the batches and the optimizer steps.

    /usr/bin/python3 tools/demo-model/train.py --seed 1 -o models/demo-llama.gguf

The model follows the Llama equations used by GGUF/llama.cpp: RMSNorm,
attention with rotary position embeddings that rotate adjacent pairs
(x[2i], x[2i+1]) by p * theta^(-2i/head_dim), grouped-query attention, a
SwiGLU feed-forward block, and an untied output projection.
"""

import argparse
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gguf_write  # noqa: E402
import spm  # noqa: E402
import storygen  # noqa: E402


class Config:
    def __init__(self, a, vocab):
        self.vocab = vocab
        self.dim = a.dim
        self.layers = a.layers
        self.heads = a.heads
        self.kv_heads = a.kv_heads
        self.ffn = a.ffn
        self.context = a.context
        self.theta = 10000.0
        self.eps = 1e-5
        self.head_dim = a.dim // a.heads


def rmsnorm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rope(x, cos, sin):
    """x: (B, T, H, hd); rotates the adjacent pairs (x[2i], x[2i+1])."""
    x0 = x[..., 0::2]
    x1 = x[..., 1::2]
    return torch.stack((x0 * cos - x1 * sin, x0 * sin + x1 * cos), dim=-1).flatten(-2)


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.attn_norm = nn.Parameter(torch.ones(c.dim))
        self.wq = nn.Linear(c.dim, c.heads * c.head_dim, bias=False)
        self.wk = nn.Linear(c.dim, c.kv_heads * c.head_dim, bias=False)
        self.wv = nn.Linear(c.dim, c.kv_heads * c.head_dim, bias=False)
        self.wo = nn.Linear(c.heads * c.head_dim, c.dim, bias=False)
        self.ffn_norm = nn.Parameter(torch.ones(c.dim))
        self.w1 = nn.Linear(c.dim, c.ffn, bias=False)   # ffn_gate
        self.w3 = nn.Linear(c.dim, c.ffn, bias=False)   # ffn_up
        self.w2 = nn.Linear(c.ffn, c.dim, bias=False)   # ffn_down

    def forward(self, x, cos, sin, mask):
        c = self.c
        B, T, _ = x.shape
        h = rmsnorm(x, self.attn_norm, c.eps)
        q = rope(self.wq(h).view(B, T, c.heads, c.head_dim), cos, sin)
        k = rope(self.wk(h).view(B, T, c.kv_heads, c.head_dim), cos, sin)
        v = self.wv(h).view(B, T, c.kv_heads, c.head_dim)
        group = c.heads // c.kv_heads
        # Query head h reads kv head h // group.
        k = k.repeat_interleave(group, dim=2)
        v = v.repeat_interleave(group, dim=2)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))          # (B, H, T, hd)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(c.head_dim))
        att = att.masked_fill(mask[:T, :T], float("-inf")).softmax(-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, c.heads * c.head_dim)
        x = x + self.wo(y)
        h = rmsnorm(x, self.ffn_norm, c.eps)
        return x + self.w2(F.silu(self.w1(h)) * self.w3(h))


class Llama(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.embed = nn.Embedding(c.vocab, c.dim)
        self.blocks = nn.ModuleList(Block(c) for _ in range(c.layers))
        self.norm = nn.Parameter(torch.ones(c.dim))
        self.output = nn.Linear(c.dim, c.vocab, bias=False)
        i = torch.arange(c.head_dim // 2, dtype=torch.float64)
        inv_freq = c.theta ** (-2.0 * i / c.head_dim)
        ang = torch.outer(torch.arange(c.context, dtype=torch.float64), inv_freq)
        self.register_buffer("cos", ang.cos().float()[:, None, :], persistent=False)
        self.register_buffer("sin", ang.sin().float()[:, None, :], persistent=False)
        self.register_buffer("mask", torch.triu(torch.ones(c.context, c.context, dtype=torch.bool), 1),
                             persistent=False)
        for name, p in self.named_parameters():
            if p.dim() == 2:
                std = 0.02
                if name.endswith("wo.weight") or name.endswith("w2.weight"):
                    std = 0.02 / math.sqrt(2 * c.layers)
                nn.init.normal_(p, 0.0, std)

    def forward(self, ids):
        T = ids.shape[1]
        x = self.embed(ids)
        for b in self.blocks:
            x = b(x, self.cos[:T], self.sin[:T], self.mask)
        return self.output(rmsnorm(x, self.norm, self.c.eps))


def tokenize_stories(tok, stories):
    """One stream: <s> story </s> <s> story </s> ...; and each story's start."""
    stream, starts = [], []
    for s in stories:
        starts.append(len(stream))
        stream.extend(tok.encode(s, bos=True))
        stream.append(spm.EOS)
    return np.array(stream, dtype=np.int64), np.array(starts, dtype=np.int64)


def windows(stream, starts, idx, length):
    """Training rows of length+1 tokens, each starting at a story's <s>."""
    rows = [stream[starts[i]:starts[i] + length + 1] for i in idx]
    return torch.from_numpy(np.stack(rows))


@torch.no_grad()
def evaluate(model, stream, starts, length, n=64):
    model.eval()
    usable = starts[starts + length + 1 <= len(stream)]
    batch = windows(stream, usable, range(min(n, len(usable))), length)
    logits = model(batch[:, :-1])
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1))
    model.train()
    return loss.item()


@torch.no_grad()
def greedy(model, ids, n):
    model.eval()
    ids = list(ids)
    out = []
    for _ in range(n):
        logits = model(torch.tensor([ids[-model.c.context:]]))[0, -1]
        nxt = int(logits.argmax())
        if nxt == spm.EOS:
            break
        ids.append(nxt)
        out.append(nxt)
    model.train()
    return out


def export(path, model, c, tok, name):
    t = lambda p: p.detach().cpu().numpy().astype(np.float32)  # noqa: E731
    U = gguf_write.UInt32
    metadata = {
        "general.architecture": "llama",
        "general.name": name,
        "general.description": "llmc demo model: a tiny Llama trained on generated stories",
        "llama.context_length": U(c.context),
        "llama.embedding_length": U(c.dim),
        "llama.block_count": U(c.layers),
        "llama.feed_forward_length": U(c.ffn),
        "llama.attention.head_count": U(c.heads),
        "llama.attention.head_count_kv": U(c.kv_heads),
        "llama.rope.dimension_count": U(c.head_dim),
        "llama.rope.freq_base": float(c.theta),
        "llama.attention.layer_norm_rms_epsilon": float(c.eps),
        "tokenizer.ggml.model": "llama",
        "tokenizer.ggml.tokens": list(tok.tokens),
        "tokenizer.ggml.scores": [float(s) for s in tok.scores],
        "tokenizer.ggml.token_type": [int(x) for x in tok.types],
        "tokenizer.ggml.bos_token_id": U(spm.BOS),
        "tokenizer.ggml.eos_token_id": U(spm.EOS),
        "tokenizer.ggml.unknown_token_id": U(spm.UNK),
        "tokenizer.ggml.add_bos_token": True,
        "tokenizer.ggml.add_eos_token": False,
    }
    tensors = [("token_embd.weight", t(model.embed.weight))]
    for i, b in enumerate(model.blocks):
        p = "blk.%d." % i
        tensors += [
            (p + "attn_norm.weight", t(b.attn_norm)),
            (p + "attn_q.weight", t(b.wq.weight)),
            (p + "attn_k.weight", t(b.wk.weight)),
            (p + "attn_v.weight", t(b.wv.weight)),
            (p + "attn_output.weight", t(b.wo.weight)),
            (p + "ffn_norm.weight", t(b.ffn_norm)),
            (p + "ffn_gate.weight", t(b.w1.weight)),
            (p + "ffn_up.weight", t(b.w3.weight)),
            (p + "ffn_down.weight", t(b.w2.weight)),
        ]
    tensors += [("output_norm.weight", t(model.norm)), ("output.weight", t(model.output.weight))]
    gguf_write.write(path, metadata, tensors)


def main(argv=None):
    p = argparse.ArgumentParser(description="Train the llmc demo model.")
    p.add_argument("-o", "--output", default="models/demo-llama.gguf")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--stories", type=int, default=8000, help="training stories to generate")
    p.add_argument("--vocab", type=int, default=768)
    p.add_argument("--dim", type=int, default=64)
    p.add_argument("--layers", type=int, default=6)
    p.add_argument("--heads", type=int, default=2)
    p.add_argument("--kv-heads", type=int, default=1)
    p.add_argument("--ffn", type=int, default=176)
    p.add_argument("--context", type=int, default=256)
    p.add_argument("--steps", type=int, default=3200)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--threads", type=int, default=1,
                   help="PyTorch threads (results depend on it; 1 is fastest for this size)")
    p.add_argument("--name", default="llmc-demo-llama")
    p.add_argument("--text-out", help="also write the generated training text here")
    a = p.parse_args(argv)

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    torch.use_deterministic_algorithms(True)
    t0 = time.time()

    stories = storygen.generate(a.seed, a.stories)
    held_out = storygen.generate(a.seed + 1000, 200)
    if a.text_out:
        with open(a.text_out, "w", encoding="utf-8") as f:
            f.write("\n".join(stories) + "\n")
    tokens, scores, types = spm.learn(stories, a.vocab)
    tok = spm.Tokenizer(tokens, scores, types)
    stream, starts = tokenize_stories(tok, stories)
    val_stream, val_starts = tokenize_stories(tok, held_out)
    usable = starts[starts + a.context + 1 <= len(stream)]
    print("data: %d stories, %d characters, %d tokens, vocabulary %d (%.1fs)"
          % (len(stories), sum(map(len, stories)), len(stream), len(tokens), time.time() - t0),
          flush=True)

    c = Config(a, len(tokens))
    model = Llama(c)
    n_params = sum(p.numel() for p in model.parameters())
    print("model: dim %d, %d layers, %d heads (%d kv), ffn %d, context %d: %d parameters"
          % (c.dim, c.layers, c.heads, c.kv_heads, c.ffn, c.context, n_params), flush=True)

    decay = [p for p in model.parameters() if p.dim() == 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=a.lr, betas=(0.9, 0.95))
    gen = np.random.default_rng(a.seed)
    warmup = max(1, a.steps // 20)
    t_train = time.time()
    loss_avg = None
    for step in range(a.steps):
        lr = a.lr * min(1.0, (step + 1) / warmup)
        lr *= 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / a.steps))
        for g in opt.param_groups:
            g["lr"] = lr
        batch = windows(stream, usable, gen.integers(0, len(usable), a.batch), a.context)
        logits = model(batch[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, c.vocab), batch[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        loss_avg = loss.item() if loss_avg is None else 0.95 * loss_avg + 0.05 * loss.item()
        if step % 100 == 0 or step == a.steps - 1:
            print("step %5d  loss %.4f  lr %.2e  %.0fs" % (step, loss_avg, lr, time.time() - t_train),
                  flush=True)
    train_seconds = time.time() - t_train
    train_loss = evaluate(model, stream, starts, a.context)
    val_loss = evaluate(model, val_stream, val_starts, a.context)
    print("trained %d steps in %.0fs: loss %.4f (train windows), %.4f (held-out stories)"
          % (a.steps, train_seconds, train_loss, val_loss), flush=True)

    prompt = tok.encode("Once upon a time")
    out = greedy(model, prompt, 120)
    print("prompt ids:", ",".join(map(str, prompt)))
    print("greedy ids:", ",".join(map(str, out)))
    print("greedy text:", tok.decode(prompt[1:] + out))

    os.makedirs(os.path.dirname(os.path.abspath(a.output)), exist_ok=True)
    export(a.output, model, c, tok, a.name)
    print("wrote %s (%d bytes); total %.0fs" % (a.output, os.path.getsize(a.output), time.time() - t0))


if __name__ == "__main__":
    main()
