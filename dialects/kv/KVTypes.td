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
    `!kv.cache<LAYERS x KV_HEADS x CAPACITY x HEAD_DIM, STORAGE [, LAYOUT] [, POLICY] [, rollback<N>]>`

    - STORAGE is `f32`, `f16`, `bf16`, a `#qmm.format` (int2/3/4/8,
      q8_0, q4_0, fp8, mxfp4; K-quants are weight formats only) or
      `#kv.kivi<...>` (KIVI: keys per channel, values per token, a
      full-precision residual window); `llmc-kv-quantize` sets the latter.
    - LAYOUT is `contiguous` (the default, omitted when printed) or
      `paged<BLOCK>` with BLOCK dividing CAPACITY.
    - POLICY is an optional `#kv.policy` that eviction follows.
    - `rollback<N>` (N in [1, 16]; KIVI or evicting caches, contiguous)
      keeps an undo log of each layer's last N positions in the cache, so
      that `kv.rollback` by up to N restores the state (flushed KIVI groups,
      evicted slots, attention masses) exactly; `llmc-speculative-decode`
      adds it. A float contiguous cache rolls back by its position alone and
      takes no log.

    The number of filled positions is a run-time property of the value
    (`kv.length`).

    ```mlir
    !kv.cache<5x4x512x8, f32>
    !kv.cache<32x8x4096x128, #qmm.format<int4, group = 32, asym>, paged<16>>
    !kv.cache<5x4x512x8, f16, #kv.policy<h2o, heavy = 64, recent = 64>>
    !kv.cache<5x4x512x8, #kv.kivi<bits = 4, group = 32, residual = 128>, rollback<5>>
    ```
  }];
  let parameters = (ins "int64_t":$layers, "int64_t":$kvHeads,
                        "int64_t":$capacity, "int64_t":$headDim,
                        "::mlir::Attribute":$storage, "int64_t":$blockSize,
                        "PolicyAttr":$policy, "int64_t":$rollbackDepth);
  let skipDefaultBuilders = 1;
  let builders = [
    TypeBuilder<(ins "int64_t":$layers, "int64_t":$kvHeads,
                     "int64_t":$capacity, "int64_t":$headDim,
                     "::mlir::Attribute":$storage, "int64_t":$blockSize,
                     "PolicyAttr":$policy,
                     CArg<"int64_t", "0">:$rollbackDepth), [{
      return $_get($_ctxt, layers, kvHeads, capacity, headDim, storage,
                   blockSize, policy, rollbackDepth);
    }]>
  ];
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
    /// The same cache with an undo log of `depth` positions (0: none).
    CacheType withRollbackDepth(int64_t depth) const;
  }];
}

#endif // LLMC_KV_TYPES_TD
