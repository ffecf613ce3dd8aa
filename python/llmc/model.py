"""Loading, compiling and running models from Python.

    import llmc
    model = llmc.load("stories260K.gguf")
    compiled = model.compile(target="cpu")
    print(compiled.generate("Once upon a time", max_tokens=32, temperature=0))
    logits = compiled.forward(model.tokenize("Once upon a time"))  # numpy (T, vocab)

Compiled artifacts are cached (see llmc compile / run), so compiling the same
model twice is cheap.
"""

import os

from ._llmc import runtime as _rt


class Model:
    """A model file (GGUF, or a Hugging Face directory) not yet compiled."""

    def __init__(self, path, tokenizer=None):
        if not os.path.exists(path):
            raise FileNotFoundError(path)
        self.path = os.path.abspath(path)
        self._tokenizer_path = tokenizer or (
            None if os.path.isdir(path) else self.path)
        self._tokenizer = None

    def tokenize(self, text, bos=True):
        """Token ids of `text` (with BOS by default)."""
        return self._require_tokenizer().encode(text, bos)

    def detokenize(self, ids):
        """Text of token ids."""
        return self._require_tokenizer().decode(list(ids)).decode(
            "utf-8", errors="replace")

    def compile(self, target="cpu", pipeline=None, context=None, output=None,
                spec=None, kv=None, draft_model=None):
        """Compile for `target` (cpu). With `output`, write the shared library
        there; else use the compile cache. `spec`, `kv` and `draft_model` are
        llmc compile's --spec (speculative decoding, e.g. "ngram-k4"), --kv
        (KV-cache compression) and --draft-model (the draft of
        spec="model-kK"). Returns a CompiledModel."""
        if target != "cpu":
            raise ValueError(f"target '{target}' is not available yet "
                             "(supported: cpu)")
        if output:
            _rt.compile(self.path, output, context or 0, pipeline or "",
                        spec=spec or "", kv=kv or "",
                        draft_model=draft_model or "")
            artifact = output
        else:
            artifact, _ = _rt.compile_cached(self.path, context or 0,
                                             pipeline or "", spec=spec or "",
                                             kv=kv or "",
                                             draft_model=draft_model or "")
        return CompiledModel(_rt.CompiledModel.load(artifact), self)

    def _require_tokenizer(self):
        if self._tokenizer is None:
            if self._tokenizer_path is None:
                raise ValueError("this model has no GGUF tokenizer; pass "
                                 "tokenizer=PATH.gguf to llmc.load")
            self._tokenizer = _rt.Tokenizer.open(self._tokenizer_path)
        return self._tokenizer


class CompiledModel:
    """A compiled model with its KV cache."""

    def __init__(self, native, model):
        self._native = native
        self.model = model

    @property
    def artifact(self):
        return self._native.artifact

    @property
    def context(self):
        return self._native.context

    @property
    def position(self):
        return self._native.position

    def reset(self):
        """Forget the sequence: the next forward starts at position 0."""
        self._native.reset()

    def forward(self, token_ids, reset=False, sequence=0):
        """Logits (len(token_ids) x vocab, float32 numpy) of `token_ids` run at
        the current position, which then advances (reset=True starts over).
        `sequence` selects a fork of a paged model (0: the main sequence)."""
        if reset:
            self._native.reset()
        return self._native.forward([int(t) for t in token_ids],
                                    sequence=int(sequence))

    @property
    def paged(self):
        """Whether the KV cache is paged (compiled with kv="paged[-bB]")."""
        return self._native.paged

    def fork(self, prefix, sequence=0):
        """A new sequence of a paged model that shares the first `prefix`
        positions of `sequence` (copy-on-write KV blocks); returns its id,
        for forward(..., sequence=id)."""
        return self._native.fork(int(prefix), int(sequence))

    def release(self, sequence):
        """Give back the KV blocks of a forked sequence."""
        self._native.release(int(sequence))

    def position_of(self, sequence):
        """Positions filled in `sequence` (-1: no such sequence)."""
        return self._native.position_of(int(sequence))

    @property
    def kv_blocks(self):
        """The KV block pool of a paged model: block_size, blocks, used and
        copies (copy-on-write copies so far); {} when contiguous."""
        return self._native.kv_blocks

    def speculate(self, history, draft_limit=-1, temperature=0.0, top_k=0,
                  top_p=1.0, seed=0):
        """One speculative step of a model compiled with `spec`: `history` is
        every token so far (position + 1 of them, the last not run yet).
        Returns (tokens, drafted): the emitted tokens and the number of draft
        tokens proposed. Greedy at temperature 0; above, each token is
        distributed exactly as sampling the model."""
        return self._native.speculate([int(t) for t in history],
                                      int(draft_limit), float(temperature),
                                      int(top_k), float(top_p), int(seed))

    def generate(self, prompt, max_tokens=64, temperature=0.8, top_k=0,
                 top_p=1.0, seed=0):
        """The continuation of `prompt` (a string, or a list of token ids)."""
        ids = (self.model.tokenize(prompt) if isinstance(prompt, str)
               else [int(t) for t in prompt])
        options = _rt.SamplingOptions()
        options.temperature = float(temperature)
        options.top_k = int(top_k)
        options.top_p = float(top_p)
        options.seed = int(seed)
        sampler = _rt.Sampler(options)
        self._native.reset()
        max_tokens = min(max_tokens, self.context - len(ids))
        eos = self.model._require_tokenizer().eos
        logits = self._native.forward(ids)
        out = []
        for i in range(max_tokens):
            token = sampler.sample(logits[-1])
            if token == eos:
                break
            out.append(token)
            if i + 1 < max_tokens:
                logits = self._native.forward([token])
        prompt_text = self.model.detokenize(ids)
        return self.model.detokenize(ids + out)[len(prompt_text):]


def load(path, tokenizer=None):
    """A model from a GGUF file or a Hugging Face directory."""
    return Model(path, tokenizer)


def tokenize(model, text, bos=True):
    """Token ids of `text` with the tokenizer of `model` (path or Model)."""
    if not isinstance(model, Model):
        model = Model(model)
    return model.tokenize(text, bos)
