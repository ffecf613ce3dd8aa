# RUN: %PYTHON %s | FileCheck %s
# Parsing and printing round-trips, in the custom and the generic form.
import llmc

TEXT = """
func.func @step(%q: tensor<1x64xf32>, %k: tensor<1x32xf32>, %v: tensor<1x32xf32>,
                %c: !kv.cache<5x4x512x8, f32>, %pos: index) -> tensor<1x64xf32> {
  %o, %c1 = llm.attention %q, %k, %v, %c[0] at %pos {head_dim = 8 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.353553385 : f32} : tensor<1x64xf32>, tensor<1x32xf32>, !kv.cache<5x4x512x8, f32> -> tensor<1x64xf32>
  return %o : tensor<1x64xf32>
}
"""

module = llmc.ir.parse(TEXT)
text = str(module)
# CHECK: func.func @step
# CHECK: llm.attention {{.*}} !kv.cache<5x4x512x8, f32> -> tensor<1x64xf32>
print(text)

generic = module.print(generic=True)
# CHECK: "llm.attention"
print(generic)

# Both forms parse back to the same module.
# CHECK: roundtrip True
print("roundtrip", str(llmc.ir.parse(generic)) == text)
module.verify()
# CHECK: verified
print("verified")
