# RUN: %PYTHON %s | FileCheck %s
# A syntax error raises llmc.MLIRError naming the source and position.
import llmc

try:
    llmc.ir.parse("func.func @f() {\n  %0 = llm.bogus : i32\n}", "broken.mlir")
except llmc.MLIRError as e:
    # CHECK: caught MLIRError
    print("caught", type(e).__name__)
    # CHECK-NEXT: broken.mlir:2:8: error: custom op 'llm.bogus' is unknown
    print(e.diagnostics.splitlines()[0])
else:
    print("no exception")
