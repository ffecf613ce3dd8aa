"""Adds a draft model's step functions to a target module, as `llmc compile
--draft-model` does: usage merge_draft.py TARGET.mlir DRAFT.mlir > OUT.mlir.

The draft module's @prefill / @decode become @draft_prefill /
@draft_decode and its other symbols (weights) take a "draft." prefix.
"""

import re
import sys


def body(text):
    """The ops inside `module attributes {...} {` ... `}`."""
    start = text.index("\n", text.index("module")) + 1
    return text[start:text.rindex("}")]


def main():
    target = open(sys.argv[1]).read()
    draft = body(open(sys.argv[2]).read())

    def rename(match):
        name = match.group(1)
        if name in ("prefill", "decode"):
            return "@draft_" + name
        return "@draft." + name

    draft = re.sub(r'@"?([A-Za-z_][\w.$-]*)"?', rename, draft)
    end = target.rindex("}")
    sys.stdout.write(target[:end] + draft + target[end:])


if __name__ == "__main__":
    main()
