"""Compare `llmc run --json` greedy output with test/reference/llama_ref.py --json.

    compare_greedy.py LLMC.json REFERENCE.json

Prints the number of tokens and whether the prompt, the generated ids and
the text agree; exits 1 when they do not."""

import json
import sys

with open(sys.argv[1], encoding="utf-8") as f:
    llmc = json.loads(f.read().strip().splitlines()[-1])
with open(sys.argv[2], encoding="utf-8") as f:
    ref = json.load(f)

same_prompt = llmc["prompt_tokens"] == ref["prompt"]
same_ids = llmc["tokens"] == ref["generated"]
same_text = llmc["text"] == ref["text"]
print("prompt %d tokens, llmc %d tokens, reference %d tokens"
      % (len(ref["prompt"]), len(llmc["tokens"]), len(ref["generated"])))
print("prompt agrees:", same_prompt)
print("tokens agree:", same_ids)
print("text agrees:", same_text)
if not same_ids:
    n = next((i for i, (a, b) in enumerate(zip(llmc["tokens"], ref["generated"])) if a != b),
             min(len(llmc["tokens"]), len(ref["generated"])))
    print("first difference at generated token %d" % n)
sys.exit(0 if same_prompt and same_ids and same_text else 1)
