# RUN: %PYTHON %s | FileCheck %s
# Bad pipelines and failing passes raise llmc.MLIRError with diagnostics.
import llmc

module = llmc.ir.parse("module {}")
try:
    llmc.passes.run(module, "builtin.module(no-such-pass)")
except llmc.MLIRError as e:
    # CHECK: bad pipeline: {{.*}}'no-such-pass' does not refer to a registered pass or pass pipeline
    print("bad pipeline:", e.diagnostics.strip())

try:
    llmc.passes.run(module, "llmc-verify-model{summary=maybe}")
except llmc.MLIRError as e:
    # CHECK: bad option: {{.*}}summary
    print("bad option:", e.diagnostics.strip().splitlines()[0])

# The model verifier rejects a cache updated twice.
TWICE = """
func.func @f(%c: !kv.cache<1x4x64x8, f32>, %n: index) -> (!kv.cache<1x4x64x8, f32>, !kv.cache<1x4x64x8, f32>) {
  %a = kv.rollback %c by %n : !kv.cache<1x4x64x8, f32>
  %b = kv.rollback %c by %n : !kv.cache<1x4x64x8, f32>
  return %a, %b : !kv.cache<1x4x64x8, f32>, !kv.cache<1x4x64x8, f32>
}
"""
module = llmc.ir.parse(TWICE, "twice.mlir")
try:
    llmc.passes.run(module, "llmc-verify-model")
except llmc.MLIRError as e:
    # CHECK: twice.mlir:4:8: error: 'kv.rollback' op updates a !kv.cache value that 'kv.rollback' already updated
    # CHECK: twice.mlir:3:8: note: first update here
    print(e.diagnostics)
else:
    print("no exception")
