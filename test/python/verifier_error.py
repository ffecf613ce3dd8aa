# RUN: %PYTHON %s | FileCheck %s
# A verifier failure while parsing is an exception carrying the op's message.
import llmc

BAD = """
func.func @f(%q: tensor<1x48xf32>, %k: tensor<1x32xf32>, %v: tensor<1x32xf32>,
             %c: !kv.cache<5x4x512x8, f32>, %pos: index) -> tensor<1x48xf32> {
  %o, %c1 = llm.attention %q, %k, %v, %c[0] at %pos {head_dim = 8 : i64, num_heads = 6 : i64, num_kv_heads = 4 : i64, scale = 0.35 : f32} : tensor<1x48xf32>, tensor<1x32xf32>, !kv.cache<5x4x512x8, f32> -> tensor<1x48xf32>
  return %o : tensor<1x48xf32>
}
"""

try:
    llmc.ir.parse(BAD, "gqa.mlir")
except llmc.MLIRError as e:
    # CHECK: gqa.mlir:4:13: error: 'llm.attention' op num_heads (6) is not a multiple of num_kv_heads (4)
    print(e.diagnostics.strip())
else:
    print("no exception")

# The message of the exception is the diagnostics too.
try:
    llmc.ir.parse("%c = kv.alloc : !kv.cache<5x4x100x8, f32, paged<16>>")
except llmc.MLIRError as e:
    # CHECK: error: paged block size 16 does not divide the capacity 100
    print(str(e))
