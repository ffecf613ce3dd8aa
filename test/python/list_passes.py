# RUN: %PYTHON %s | FileCheck %s
# The registered passes and pipelines, llmc's and the upstream ones we use.
import llmc

entries = {e["name"]: e for e in llmc.passes.list_passes()}
# CHECK: llmc-verify-model False Check a whole decoder graph and refine its tensor shapes
e = entries["llmc-verify-model"]
print(e["name"], e["pipeline"], e["summary"])
# CHECK: llmc-frontend-pipeline True
e = entries["llmc-frontend-pipeline"]
print(e["name"], e["pipeline"])
# CHECK: upstream True True
print("upstream", "canonicalize" in entries, "one-shot-bufferize" in entries)
