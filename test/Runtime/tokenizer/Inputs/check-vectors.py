"""Runs every tokenizer test vector through `llmc tokenize --json --no-bos`.

Usage: check-vectors.py LLMC MODEL VECTORS.inp VECTORS.out

The .inp file holds the inputs separated by lines `__ggml_vocab_test__`; the
.out file the expected ids (without BOS), one line per input. Prints one line
per mismatch and a final `N/M vectors match`; exits non-zero unless all match.
"""

import json
import subprocess
import sys

SEPARATOR = "\n__ggml_vocab_test__\n"


def main():
    llmc, model, inp, out = sys.argv[1:5]
    with open(inp, encoding="utf-8", newline="") as f:
        texts = f.read().split(SEPARATOR)
    # The file ends with a separator line: no input follows the last one.
    if texts and texts[-1] in ("", "\n"):
        texts.pop()
    with open(out, encoding="utf-8") as f:
        expected = [[int(t) for t in line.split()] for line in f.read().splitlines()]
    if len(texts) != len(expected):
        print("error: %d inputs but %d expected lines" % (len(texts), len(expected)))
        return 1

    matches = 0
    for i, (text, want) in enumerate(zip(texts, expected)):
        proc = subprocess.run([llmc, "tokenize", "--json", "--no-bos", model, "--", text],
                              capture_output=True)
        if proc.returncode != 0:
            print("vector %d: llmc failed (%d): %s" % (i, proc.returncode,
                                                       proc.stderr.decode(errors="replace").strip()))
            continue
        got = json.loads(proc.stdout)
        if got == want:
            matches += 1
        else:
            print("vector %d: %r\n  expected %s\n  got      %s" % (i, text, want, got))
    print("%d/%d vectors match" % (matches, len(texts)))
    return 0 if matches == len(texts) else 1


if __name__ == "__main__":
    sys.exit(main())
