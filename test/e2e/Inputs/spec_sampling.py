"""Speculative sampling must draw each token from the target's distribution.

Usage: spec_sampling.py MODEL TRIALS SPEC:TEMPERATURE:TOP_K:TOP_P ...

(`model-kK` specs draft with MODEL itself as the separate draft model.)

For each setting, compiles MODEL with --spec SPEC (Python API) and runs
TRIALS speculative steps from the same state (a fixed prompt, the last token
not run yet), seed = trial number. The reference is independent of the
sampling code: a NumPy softmax of the model's own logits at the
temperature, cut to top-k and top-p. Checks with Pearson's chi-square
(p = 1e-6, cells pooled to an expected count >= 5) that

  - the first emitted token follows p0 (the target after the prompt), and
  - when the first token is a draft token (it was accepted; a token tree
    offers several), the second emitted token follows p1 (the target after
    prompt + that token), for each such token seen at least 50 times;

and that drafts were both accepted and rejected (the rule was exercised).
Prints one line per setting and "distributions match", or exits 1.
"""

import math
import sys

import numpy as np

import llmc

PROMPT = ("Once upon a time, there was a little girl named Lily. She loved "
          "to play outside. One day, Lily saw a little girl who was sad. "
          "Once upon a time, there was a little girl")


def target(logits, temperature, top_k, top_p):
    """The distribution plain sampling draws from, in float64."""
    z = logits.astype(np.float64) / temperature
    order = sorted(range(len(z)), key=lambda i: (-logits[i], i))
    keep = order[:top_k] if top_k > 0 else order
    w = np.exp(z[keep] - z[keep[0]])
    mass = np.cumsum(w / w.sum())
    cut = next((i + 1 for i, m in enumerate(mass) if m >= top_p), len(keep))
    p = np.zeros(len(z))
    p[keep[:cut]] = w[:cut] / w[:cut].sum()
    return p


def critical(df):
    """Chi-square critical value at p = 1e-6 (Wilson-Hilferty)."""
    z = 4.753
    c = 1 - 2 / (9 * df) + z * math.sqrt(2 / (9 * df))
    return df * c ** 3


def chi_square(counts, p):
    """(statistic, df, tokens drawn outside the support)."""
    n = sum(counts.values())
    outside = sum(c for t, c in counts.items() if p[t] == 0)
    cells, pooled_e, pooled_o = [], 0.0, 0
    for t in np.argsort(-p):
        if p[t] == 0:
            break
        e = p[t] * n
        if e >= 5:
            cells.append((counts.get(int(t), 0), e))
        else:
            pooled_e += e
            pooled_o += counts.get(int(t), 0)
    if pooled_e > 0:
        cells.append((pooled_o, pooled_e))
    stat = sum((o - e) ** 2 / e for o, e in cells)
    return stat, max(len(cells) - 1, 1), outside


def logits_after(compiled, ids):
    compiled.reset()
    return compiled.forward(ids)[-1]


def main():
    path, trials = sys.argv[1], int(sys.argv[2])
    model = llmc.load(path)
    ids = model.tokenize(PROMPT)
    ok = True
    for setting in sys.argv[3:]:
        spec, temperature, top_k, top_p = setting.split(":")
        temperature, top_k, top_p = float(temperature), int(top_k), float(top_p)
        draft = path if spec.startswith("model") else None
        compiled = model.compile(context=256, spec=spec, draft_model=draft)
        first, second = {}, {}
        accepted = rejected = 0
        for seed in range(trials):
            compiled.reset()
            compiled.forward(ids[:-1])
            tokens, drafted = compiled.speculate(ids, temperature=temperature,
                                                 top_k=top_k, top_p=top_p,
                                                 seed=seed)
            first[tokens[0]] = first.get(tokens[0], 0) + 1
            if len(tokens) > 1:
                # tokens[0] was a draft token (a token tree may offer
                # several): the next one follows the target after it.
                after = second.setdefault(tokens[0], {})
                after[tokens[1]] = after.get(tokens[1], 0) + 1
                accepted += 1
            elif drafted > 0:
                rejected += 1
        p0 = target(logits_after(compiled, ids), temperature, top_k, top_p)
        stat0, df0, out0 = chi_square(first, p0)
        line = (f"{spec} T={temperature} top-k={top_k} top-p={top_p}: "
                f"{trials} steps, first draft token accepted {accepted}, "
                f"rejected {rejected}; first token chi2 {stat0:.1f} "
                f"(df {df0}, limit {critical(df0):.1f})")
        good = out0 == 0 and stat0 < critical(df0)
        tested = 0
        for draft, counts in sorted(second.items()):
            if sum(counts.values()) < 50:
                continue
            p1 = target(logits_after(compiled, ids + [draft]), temperature,
                        top_k, top_p)
            stat1, df1, out1 = chi_square(counts, p1)
            line += (f"; second token after {draft} chi2 {stat1:.1f} (df "
                     f"{df1}, limit {critical(df1):.1f})")
            good = good and out1 == 0 and stat1 < critical(df1)
            tested += 1
        if not tested:
            line += "; the draft was not exercised"
            good = False
        if accepted < 50 or rejected < 50:
            line += "; too few acceptances or rejections to test the rule"
            good = False
        print(line + ("" if good else "  MISMATCH"))
        ok = ok and good
    if not ok:
        sys.exit(1)
    print("distributions match")


if __name__ == "__main__":
    main()
