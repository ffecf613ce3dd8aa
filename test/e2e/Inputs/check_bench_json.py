"""Checks the JSON object `llmc bench --json` prints (read from stdin).

Usage: check_bench_json.py [--bandwidth-only]

Only structure and signs are checked, never speeds: every figure is present,
positive and consistent with the others. Prints "ok" on success.
"""

import json
import math
import sys


def positive(obj, key):
    value = obj[key]
    assert isinstance(value, (int, float)) and value > 0 and math.isfinite(value), \
        "%s = %r is not a positive number" % (key, value)
    return value


def check_bandwidth(b, threads):
    assert b["threads"] == threads, b
    assert b["kernel"] in ("avx512", "avx2", "scalar"), b["kernel"]
    positive(b, "bytes")
    assert b["repetitions"] == len(b["samples"]) >= 1, b
    assert all(s > 0 for s in b["samples"]), b["samples"]
    assert positive(b, "best_bytes_per_second") == max(b["samples"])
    assert positive(b, "median_bytes_per_second") <= b["best_bytes_per_second"]


def check_rates(r, repetitions):
    assert len(r["samples"]) == repetitions, r
    assert all(s > 0 for s in r["samples"]), r
    assert positive(r, "min") <= positive(r, "median") <= positive(r, "max"), r
    assert r["min"] == min(r["samples"]) and r["max"] == max(r["samples"]), r


def main():
    doc = json.load(sys.stdin)
    threads = doc["threads"]
    assert isinstance(threads, int) and threads >= 1
    check_bandwidth(doc["bandwidth"], threads)
    if "--bandwidth-only" in sys.argv:
        assert set(doc) == {"threads", "bandwidth"}, sorted(doc)
        print("ok")
        return
    expected = {
        "model", "source", "artifact", "compiled", "compile_seconds", "format",
        "weight_bytes_by_type", "params", "weight_bytes", "tied_output",
        "threads", "prompt_tokens", "gen_tokens", "repetitions",
        "prefill_tokens_per_second", "decode_tokens_per_second", "bandwidth",
        "bandwidth_bytes_per_second", "weight_bytes_per_token",
        "kv_bytes_per_token", "kv_positions", "bytes_per_token",
        "roofline_fraction", "logits_finite", "speculative"}
    assert set(doc) == expected, sorted(set(doc) ^ expected)
    reps = doc["repetitions"]
    check_rates(doc["prefill_tokens_per_second"], reps)
    check_rates(doc["decode_tokens_per_second"], reps)
    assert doc["logits_finite"] is True
    for key in ("params", "weight_bytes", "weight_bytes_per_token",
                "kv_bytes_per_token", "bytes_per_token", "roofline_fraction",
                "bandwidth_bytes_per_second"):
        positive(doc, key)
    assert sum(doc["weight_bytes_by_type"].values()) == doc["weight_bytes"]
    # A decode step reads at most every weight once.
    assert doc["weight_bytes_per_token"] <= doc["weight_bytes"]
    assert doc["bytes_per_token"] == doc["weight_bytes_per_token"] + doc["kv_bytes_per_token"]
    assert doc["kv_positions"] == doc["prompt_tokens"] + (doc["gen_tokens"] + 1) / 2
    assert doc["bandwidth_bytes_per_second"] == doc["bandwidth"]["best_bytes_per_second"]
    roofline = (doc["bytes_per_token"] * doc["decode_tokens_per_second"]["median"]
                / doc["bandwidth_bytes_per_second"])
    assert abs(roofline - doc["roofline_fraction"]) <= 1e-9 * roofline
    print("ok")


if __name__ == "__main__":
    main()
