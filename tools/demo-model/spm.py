"""A small SentencePiece-style BPE vocabulary: learning and encoding.

The vocabulary is laid out like a Llama SentencePiece model:

    0        <unk>        type 2 (unknown)
    1, 2     <s>, </s>    type 3 (control): begin and end of a story
    3..258   <0x00>..<0xFF> type 6 (byte fallback)
    then     every character of the training text (type 1), then the BPE
             merges in the order they were learned (type 1)

A merge learned at rank r (0 = first) has score -r, so that SentencePiece's
encoding -- repeatedly merge the adjacent pair whose concatenation is a piece
of highest score, the leftmost on ties -- prefers earlier merges.  `encode`
implements exactly that algorithm (the one llmc's tokenizer and llama.cpp's
"spm" tokenizer use), and the training data is tokenized with it, so the
model sees the same tokens at training time as at inference time.

Words are "\u2581" + the characters up to the next space; pieces never contain
"\u2581" after their first character, so merging never crosses words.
"""

import collections

SPACE = "\u2581"
UNK, BOS, EOS = 0, 1, 2
TYPE_NORMAL, TYPE_UNKNOWN, TYPE_CONTROL, TYPE_BYTE = 1, 2, 3, 6
N_SPECIAL = 3 + 256


def words_of(text):
    """The space-prefixed words of one line of text (SentencePiece's
    normalization: a dummy prefix space, spaces become U+2581)."""
    norm = SPACE + text.replace(" ", SPACE)
    out = []
    start = 0
    for i in range(1, len(norm)):
        if norm[i] == SPACE:
            out.append(norm[start:i])
            start = i
    out.append(norm[start:])
    return out


def _mergeable(piece):
    """Pieces keep letters and punctuation apart: after an optional leading
    U+2581, a piece is all letters (and apostrophes) or has no letter."""
    body = piece[1:] if piece.startswith(SPACE) else piece
    letters = [c.isalnum() or c == "'" for c in body]
    return all(letters) or not any(letters)


def learn(lines, vocab_size):
    """Learn a vocabulary of `vocab_size` pieces from lines of text.

    Returns (tokens, scores, types).  Deterministic: pair-count ties are
    broken by the pair's text (the smallest first)."""
    counts = collections.Counter()
    for line in lines:
        counts.update(words_of(line))
    chars = sorted({c for w in counts for c in w})
    n_merges = vocab_size - N_SPECIAL - len(chars)
    if n_merges < 0:
        raise ValueError("vocab_size %d is below the %d special and character pieces"
                         % (vocab_size, N_SPECIAL + len(chars)))
    # Each distinct word as a list of symbols, with its count.
    words = [(list(w), c) for w, c in sorted(counts.items())]
    merges = []
    known = set(chars)
    while len(merges) < n_merges:
        pairs = collections.Counter()
        for syms, c in words:
            for a, b in zip(syms, syms[1:]):
                if _mergeable(a + b):
                    pairs[a, b] += c
        if not pairs:
            break
        best_count = max(pairs.values())
        a, b = min(p for p, c in pairs.items() if c == best_count)
        # A pair whose text is already a piece (from another split) is merged
        # in the words but adds no piece.
        if a + b not in known:
            merges.append(a + b)
            known.add(a + b)
        for syms, _ in words:
            i = 0
            while i < len(syms) - 1:
                if syms[i] == a and syms[i + 1] == b:
                    syms[i:i + 2] = [a + b]
                i += 1

    tokens = ["<unk>", "<s>", "</s>"] + ["<0x%02X>" % b for b in range(256)]
    types = [TYPE_UNKNOWN, TYPE_CONTROL, TYPE_CONTROL] + [TYPE_BYTE] * 256
    scores = [0.0] * N_SPECIAL
    # Single characters never take part in a merge lookup (merges look up
    # pieces of two or more characters); score them below every merge.
    for i, c in enumerate(chars):
        tokens.append(c)
        types.append(TYPE_NORMAL)
        scores.append(float(-(len(merges) + i)))
    for r, m in enumerate(merges):
        tokens.append(m)
        types.append(TYPE_NORMAL)
        scores.append(float(-r))
    return tokens, scores, types


class Tokenizer:
    def __init__(self, tokens, scores, types):
        self.tokens = tokens
        self.scores = scores
        self.types = types
        self.ids = {}
        for i, t in enumerate(tokens):
            self.ids.setdefault(t, i)
        self.bytes = {}
        for i, t in enumerate(tokens):
            if types[i] == TYPE_BYTE:
                self.bytes[int(t[3:5], 16)] = i
        self._cache = {}

    def _piece(self, text):
        """The id of a normal piece, or None (as llmc's lookupPiece)."""
        i = self.ids.get(text)
        if i is None or self.types[i] != TYPE_NORMAL:
            return None
        return i

    def encode_word(self, word):
        """SentencePiece BPE encoding of one symbol sequence: merge the pair
        with the highest score (leftmost on ties) until none is a piece."""
        hit = self._cache.get(word)
        if hit is not None:
            return hit
        syms = list(word)
        while True:
            best = None
            for i in range(len(syms) - 1):
                pid = self._piece(syms[i] + syms[i + 1])
                if pid is not None and (best is None or self.scores[pid] > best[0]):
                    best = (self.scores[pid], i)
            if best is None:
                break
            i = best[1]
            syms[i:i + 2] = [syms[i] + syms[i + 1]]
        ids = []
        for s in syms:
            pid = self._piece(s)
            if pid is not None:
                ids.append(pid)
            else:
                ids.extend(self.bytes[b] for b in s.encode("utf-8"))
        self._cache[word] = ids
        return ids

    def encode(self, text, bos=True):
        ids = [BOS] if bos else []
        if not text:
            return ids
        for w in words_of(text):
            ids.extend(self.encode_word(w))
        return ids

    def decode(self, ids):
        out = bytearray()
        for i in ids:
            t = self.types[i]
            if t == TYPE_BYTE:
                out.append(int(self.tokens[i][3:5], 16))
            elif t == TYPE_NORMAL:
                out += self.tokens[i].replace(SPACE, " ").encode("utf-8")
        s = out.decode("utf-8", errors="replace")
        return s[1:] if s.startswith(" ") else s
