# RUN: %PYTHON %s %llmc_src_root/docs/examples/tiny-llama.mlir | FileCheck %s
# Running textual pass pipelines from Python: in place, remarks returned.
import sys

import llmc

module = llmc.ir.parse_file(sys.argv[1])
remarks = llmc.passes.run(
    module, "builtin.module(llmc-verify-model{summary=true}, canonicalize, cse)")
# CHECK: remark: model: 2 layers, 8 heads, 4 kv heads, head_dim 8
print(remarks)

text = str(module)
# Shape refinement made the query projection static and greedy sampling
# became argmax.
# CHECK: llm.linear {{.*}} -> tensor<?x64xf32>
# CHECK-NOT: llm.sample
# CHECK: llm.argmax
print(text)

# A bare pass list is anchored on the module; named pipelines work too.
module = llmc.ir.parse_file(sys.argv[1])
llmc.passes.run(module, "llmc-frontend-pipeline")
# CHECK: frontend argmax True
print("frontend argmax", "llm.argmax" in str(module))
