// The C++ emitter the HLS back end will use is registered and runs.
// RUN: llmc-translate --llmc-emit-cpp %s | FileCheck %s
// CHECK: int32_t add(int32_t [[A:.*]], int32_t [[B:.*]])
emitc.func @add(%a: i32, %b: i32) -> i32 {
  %s = emitc.add %a, %b : (i32, i32) -> i32
  emitc.return %s : i32
}
