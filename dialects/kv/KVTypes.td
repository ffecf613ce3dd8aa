//===- KVTypes.td - kv types -------------------------------*- tablegen -*-===//
//
// Part of llmc. The cache type.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_KV_TYPES_TD
#define LLMC_KV_TYPES_TD

include "dialects/kv/KVAttrs.td"

def KV_CacheType : TypeDef<KV_Dialect, "Cache"> {
  let mnemonic = "cache";
  let summary = "Keys and values of all layers, with storage, layout and policy";
  let description = [{
    `!kv.cache<LAYERS x KV_HEADS x CAPACITY x HEAD_DIM, STORAGE [, LAYOUT] [, POLICY]>`

    - STORAGE is `f32`, `f16`, `bf16`, a `#qmm.format` (int2/3/4/8,
      q8_0, q4_0, fp8, mxfp4; K-quants are weight formats only) or
      `#kv.kivi<...>` (KIVI: keys per channel, values per token, a
      full-precision residual window); `llmc-kv-quantize` sets the latter.
    - LAYOUT is `contiguous` (the default, omitted when printed) or
      `paged<BLOCK>` with BLOCK dividing CAPACITY.
    - POLICY is an optional `#kv.policy` that eviction follows.

    The number of filled positions is a run-time property of the value
    (`kv.length`).

    ```mlir
    !kv.cache<5x4x512x8, f32>
    !kv.cache<32x8x4096x128, #qmm.format<int4, group = 32, asym>, paged<16>>
    !kv.cache<5x4x512x8, f16, #kv.policy<h2o, heavy = 64, recent = 64>>
    ```
  }];
  let parameters = (ins "int64_t":$layers, "int64_t":$kvHeads,
                        "int64_t":$capacity, "int64_t":$headDim,
                        "::mlir::Attribute":$storage, "int64_t":$blockSize,
                        "PolicyAttr":$policy);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// The float storage element type, or null for a quantized cache.
    ::mlir::FloatType getFloatStorage() const;
    /// The quantized storage format, or null for a float or KIVI cache.
    ::llmc::qmm::FormatAttr getQuantizedStorage() const;
    /// The KIVI storage, or null.
    KiviAttr getKiviStorage() const;
    bool isPaged() const { return getBlockSize() != 0; }
    /// Storage bits per cached element (scales included).
    double getBitsPerElement() const;
    /// Bytes of keys plus values that one position occupies over all layers.
    double getBytesPerPosition() const;
    /// Same cache shape with another storage.
    CacheType withStorage(::mlir::Attribute storage) const;
  }];
}

#endif // LLMC_KV_TYPES_TD
