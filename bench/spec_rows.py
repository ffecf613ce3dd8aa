#!/usr/bin/env python3
"""Cost of a T-row step against a one-row decode step.

Speculative decoding verifies k draft tokens in one call of k + 1 rows of
the model (@prefill); it pays off only when that call costs much less than
k + 1 decode steps. This times `forward` of T tokens at a fixed position
(the cache then holds `--position` earlier tokens; a call of the same size
runs just before), T in `--rows`, the sizes interleaved so a busy machine
slows them alike, and prints the lower quartile of each and its ratio to
the first size.

    /usr/bin/python3 bench/spec_rows.py ../shared/models/stories260K.gguf \
        [--position 100] [--rows 1,2,3,4,5,8,16] [--reps 200] [--threads 1]

A benchmark, not a test. Includes the Python call and the copy of the
T x vocab logits.
"""

import argparse
import os
import sys
import time

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "build", "python_packages"))

import llmc  # noqa: E402
from llmc import _llmc  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--position", type=int, default=100)
    parser.add_argument("--rows", default="1,2,3,4,5,8,16")
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    rows = [int(r) for r in args.rows.split(",")]

    compiled = llmc.load(args.model).compile()
    _llmc.runtime.set_threads(args.threads)
    prompt = [1 + i % 100 for i in range(args.position)]
    times = {t: [] for t in rows}
    for _ in range(args.reps):
        for t in rows:
            # A warm-up call of the same size first (the prompt's prefill
            # evicts the step's working set), then the timed one.
            compiled.reset()
            compiled.forward(prompt[:args.position - t])
            compiled.forward([5 + i for i in range(t)])
            start = time.perf_counter()
            compiled.forward([5 + i for i in range(t)])
            times[t].append(time.perf_counter() - start)
    quartile = {t: sorted(v)[len(v) // 4] for t, v in times.items()}
    base = quartile[rows[0]]
    print(f"{os.path.basename(args.model)} at position {args.position}, "
          f"{args.threads} thread(s), lower quartile of {args.reps}:")
    for t in rows:
        print(f"  {t:2d} rows  {quartile[t] * 1e6:8.1f} us  "
              f"{quartile[t] / base:5.2f}x {rows[0]} row(s)  "
              f"{quartile[t] / t * 1e6:7.1f} us/row")


if __name__ == "__main__":
    main()
