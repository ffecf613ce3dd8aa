#!/usr/bin/env python3
"""Decode time with the planned arena against per-buffer allocation.

Compiles MODEL twice, with the CPU pipeline as is (llmc-plan-memory: every
temporary is a view of one arena the runtime passes) and with
`llmc-cpu-pipeline{plan-memory=false}` (each temporary from the kernels'
caching allocator), and times greedy decode steps through the Python API,
the two builds interleaved so a busy machine slows them alike. Prints the
minimum and median microseconds per token over the repetitions.

    /usr/bin/python3 bench/arena_decode.py ../shared/models/stories260K.gguf \
        [--steps 300] [--reps 7] [--threads 1]

A benchmark, not a test. Includes the Python call per token.
"""
import argparse
import statistics
import time

import numpy as np

import llmc
from llmc import _llmc

parser = argparse.ArgumentParser()
parser.add_argument("model")
parser.add_argument("--steps", type=int, default=300)
parser.add_argument("--reps", type=int, default=7)
parser.add_argument("--threads", type=int, default=1)
args = parser.parse_args()

_llmc.runtime.set_threads(args.threads)
model = llmc.load(args.model)
prompt = model.tokenize("Once upon a time")
builds = {
    "arena": model.compile(context=args.steps + 64),
    "allocator": model.compile(context=args.steps + 64,
                               pipeline="llmc-cpu-pipeline{plan-memory=false}"),
}
times = {name: [] for name in builds}
for _ in range(args.reps):
    for name, compiled in builds.items():
        logits = compiled.forward(prompt, reset=True)
        token = int(np.argmax(logits[-1]))
        start = time.perf_counter()
        for _ in range(args.steps):
            logits = compiled.forward([token])
            token = int(np.argmax(logits[-1]))
        times[name].append((time.perf_counter() - start) / args.steps * 1e6)
for name, values in times.items():
    print(f"{name:10s} us/token min {min(values):7.2f} "
          f"median {statistics.median(values):7.2f}")
