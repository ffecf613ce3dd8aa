//===- KVDialect.td - kv dialect definition ----------------*- tablegen -*-===//
//
// Part of llmc. The KV cache as a typed value.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_KV_DIALECT_TD
#define LLMC_KV_DIALECT_TD

include "mlir/IR/OpBase.td"

def KV_Dialect : Dialect {
  let name = "kv";
  let cppNamespace = "::llmc::kv";
  let summary = "The KV cache as a typed value with layout, precision and eviction policy";
  let description = [{
    A `!kv.cache` value holds the keys and values of every layer of a decoder
    for up to `capacity` positions. Ops that change it (append, evict,
    rollback, quantize...) return a new cache value, so speculative rollback
    and eviction are plain dataflow; bufferization turns the chain into
    in-place updates of one runtime-owned buffer.

    ```mlir
    %c0 = kv.alloc : !kv.cache<5x4x512x8, f32>
    %c1 = kv.append %c0[0], %k, %v at %pos : !kv.cache<5x4x512x8, f32>, tensor<?x4x8xf32>
    %c2 = kv.rollback %c1 by %n : !kv.cache<5x4x512x8, f32>
    ```
  }];
  let dependentDialects = ["::llmc::qmm::QMMDialect", "::mlir::arith::ArithDialect"];
  let useDefaultAttributePrinterParser = 1;
  let useDefaultTypePrinterParser = 1;
  // Folders return index constants (kv.length of a fresh cache).
  let hasConstantMaterializer = 1;
}

#endif // LLMC_KV_DIALECT_TD
