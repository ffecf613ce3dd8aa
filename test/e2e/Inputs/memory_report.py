# Checks `llmc compile --report-memory --json` against what the model file
# says (llmc inspect): the weights are the tensors' bytes, the f32 KV cache
# is 2 x layers x KV heads x context x head dim x 4 bytes, the logits
# buffer vocab x context x 4 bytes; the arenas are consistent (lower bound
# <= arena <= no reuse, the shared arena is the largest), and the total is
# the sum of the parts.
# usage: memory_report.py MODEL CONTEXT OUTDIR
import json
import subprocess
import sys

model, context, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]


def llmc(*args):
    return json.loads(subprocess.run(["llmc", *args], check=True,
                                     capture_output=True, text=True).stdout)


file = llmc("inspect", model, "--json")
hp = file["hyperparameters"]
report = llmc("compile", model, "-o", out + "/report.so", "--context",
              str(context), "--report-memory", "--json")["memory"]

weights = report["weights"]
assert weights["bytes"] == file["tensor_bytes"], (weights, file["tensor_bytes"])
assert weights["formats"] == {"f32": file["tensor_bytes"]}, weights
assert weights["mapped_bytes"] == file["size"], weights

kv = report["kv"]
head_dim = hp["embedding_length"] // hp["head_count"]
expected_kv = 2 * hp["block_count"] * hp["head_count_kv"] * context * head_dim * 4
assert kv["bytes"] == expected_kv, (kv, expected_kv)
assert kv["capacity"] == context and kv["context"] == context, kv
assert kv["bytes_per_token"] * context == expected_kv, kv
assert (kv["precision"], kv["policy"], kv["layout"]) == ("f32", "none",
                                                         "contiguous"), kv

acts = report["activations"]
assert acts["planned"], acts
functions = {f["function"]: f for f in acts["functions"]}
assert set(functions) == {"prefill", "decode"}, functions
assert functions["decode"]["rows"] == 1
assert functions["prefill"]["rows"] == context
for f in functions.values():
    assert 0 < f["lower_bound"] <= f["bytes"] <= f["no_reuse"], f
    assert f["buffers"] > 0 and f["unplanned"] == 0, f
assert acts["bytes"] == max(f["bytes"] for f in functions.values()), acts

runtime = report["runtime"]
assert runtime["logits"] == hp["vocab_size"] * context * 4, runtime
assert runtime["tokens"] == 0 and runtime["bytes"] == runtime["logits"]

parts = {"weights": weights["bytes"], "the KV cache": kv["bytes"],
         "activations": acts["bytes"], "runtime buffers": runtime["bytes"]}
assert report["total"] == sum(parts.values()), report
assert report["dominant"] == max(parts, key=parts.get), report
print("memory report ok: total", report["total"], "dominant",
      report["dominant"])
