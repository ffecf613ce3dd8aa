#!/usr/bin/env python3
"""Summarizes the `llmc bench --json` files of bench/cpu.sh.

    bench/summarize.py RESULTS_DIR [PNG]

Prints a Markdown table (model, format, threads, prefill and decode tok/s,
read bandwidth, bytes per token, achieved decode bandwidth, roofline
fraction) and, when matplotlib is installed (Debian: python3-matplotlib),
writes a roofline plot to PNG (default docs/performance-roofline.png): the
achieved decode bandwidth of each format against the measured read
bandwidth, and the decode points on a bandwidth roofline (GMAC/s against
multiply-adds per byte read).
"""
import glob
import json
import os
import sys

BYTES_PER_ELEMENT = {"F32": 4.0, "F16": 2.0, "BF16": 2.0, "Q8_0": 34 / 32,
                     "Q4_0": 18 / 32, "Q4_K": 144 / 256, "Q6_K": 210 / 256}


def main(argv):
    results = argv[1]
    here = os.path.dirname(os.path.abspath(__file__))
    png = argv[2] if len(argv) > 2 else os.path.join(
        here, "..", "docs", "performance-roofline.png")
    runs = []
    for path in sorted(glob.glob(os.path.join(results, "*.json"))):
        with open(path) as f:
            r = json.load(f)
        r["name"] = os.path.splitext(os.path.basename(path))[0]
        runs.append(r)
    print("| run | format | threads | prompt | prefill tok/s | decode tok/s "
          "| read GB/s | MB/token | decode GB/s | roofline |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in runs:
        decode = r["decode_tokens_per_second"]["median"]
        achieved = r["bytes_per_token"] * decode / 1e9
        print(f"| {r['name']} | {r['format']} | {r['threads']} "
              f"| {r['prompt_tokens']} "
              f"| {r['prefill_tokens_per_second']['median']:.1f} "
              f"| {decode:.1f} | {r['bandwidth_bytes_per_second'] / 1e9:.2f} "
              f"| {r['bytes_per_token'] / 1e6:.1f} | {achieved:.2f} "
              f"| {100 * r['roofline_fraction']:.1f}% |")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(matplotlib not installed: no plot)", file=sys.stderr)
        return 0
    big = [r for r in runs if r["weight_bytes"] > 64e6]
    if not big:
        return 0
    fig, (bars, roof) = plt.subplots(1, 2, figsize=(11, 4.2))
    names = [r["format"] for r in big]
    achieved = [r["bytes_per_token"] *
                r["decode_tokens_per_second"]["median"] / 1e9 for r in big]
    peak = [r["bandwidth_bytes_per_second"] / 1e9 for r in big]
    xs = range(len(big))
    bars.bar(xs, peak, color="#dddddd", label="measured read bandwidth")
    bars.bar(xs, achieved, width=0.5, color="#3b6ea5",
             label="decode: bytes/token x tok/s")
    for x, a, p in zip(xs, achieved, peak):
        bars.text(x, a + 0.2, f"{100 * a / p:.0f}%", ha="center")
    bars.set_xticks(list(xs))
    bars.set_xticklabels(names)
    bars.set_ylabel("GB/s")
    bars.set_title(f"decode, tinyllama-1.1b shape, {big[0]['threads']} threads")
    bars.legend(loc="lower right", fontsize=8)
    bw = max(peak)
    intensities = [0.1, 10]
    roof.loglog(intensities, [bw * i for i in intensities], "k-",
                label=f"memory roof {bw:.1f} GB/s")
    for r, a in zip(big, achieved):
        per = BYTES_PER_ELEMENT.get(r["format"].split()[0], 2.0)
        intensity = 1.0 / per  # multiply-adds per weight byte
        roof.loglog([intensity], [a * intensity], "o", label=r["format"])
    roof.set_xlabel("multiply-adds per byte read")
    roof.set_ylabel("GMAC/s")
    roof.set_title("decode on the bandwidth roofline")
    roof.grid(True, which="both", alpha=0.3)
    roof.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    print(f"wrote {png}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
