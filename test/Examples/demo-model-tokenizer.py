# RUN: env PYTHONDONTWRITEBYTECODE=1 %PYTHON %s %llmc_src_root llmc | FileCheck %s
#
# The demo model's tokenizer, two ways: the training script's Python encoder
# (tools/demo-model/spm.py) over the vocabulary stored in
# models/demo-llama.gguf gives the same ids as `llmc tokenize`, on training
# stories, cut-up pieces of them and text outside the vocabulary (byte
# fallback); and the stored vocabulary is exactly what storygen.py + spm.py
# produce for the documented seed, so the model's data can be regenerated.
import json
import os
import random
import subprocess
import sys
import tempfile

src, llmc = sys.argv[1], sys.argv[2]
sys.path.insert(0, os.path.join(src, "test", "reference"))
sys.path.insert(0, os.path.join(src, "tools", "demo-model"))
from gguf_reader import GGUFReader  # noqa: E402
import spm  # noqa: E402
import storygen  # noqa: E402

model = os.path.join(src, "models", "demo-llama.gguf")
md = GGUFReader(model).metadata
tokens = list(md["tokenizer.ggml.tokens"])
scores = [float(s) for s in md["tokenizer.ggml.scores"]]
types = [int(t) for t in md["tokenizer.ggml.token_type"]]
tok = spm.Tokenizer(tokens, scores, types)

# CHECK: vocabulary 768 pieces, regenerated from seed 1: True
stories = storygen.generate(1, 8000)
learned = spm.learn(stories, len(tokens))
print("vocabulary %d pieces, regenerated from seed 1:" % len(tokens),
      learned == (tokens, scores, types))

texts = ["Once upon a time", "", " ", "Hello  world", "Tom's dog runs fast!!",
         "na\u00efve caf\u00e9 \u2603 \u65e5\u672c", "x\ny\tz", "  leading", "trailing  "]
texts += storygen.generate(77, 20)
rng = random.Random(0)
for _ in range(40):
    s = rng.choice(stories)
    i = rng.randrange(len(s))
    texts.append(s[i:i + rng.randrange(1, 80)])

mismatches = 0
with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "text.txt")
    for text in texts:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        out = subprocess.run([llmc, "tokenize", "--json", model, "--file", path],
                             check=True, capture_output=True, text=True).stdout
        if json.loads(out) != tok.encode(text):
            mismatches += 1
            print("mismatch on %r: llmc %s, spm.py %s" % (text, out.strip(), tok.encode(text)))
# CHECK: 69 texts, 0 mismatches
print("%d texts, %d mismatches" % (len(texts), mismatches))
# CHECK: Once upon a time -> [1, 408, 411, 314, 403]
print("Once upon a time ->", tok.encode("Once upon a time"))
