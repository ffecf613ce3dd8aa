//===- KVOps.td - kv operations ----------------------------*- tablegen -*-===//
//
// Part of llmc. Value-semantics operations on !kv.cache.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_KV_OPS_TD
#define LLMC_KV_OPS_TD

include "dialects/kv/KVTypes.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

class KV_Op<string mnemonic, list<Trait> traits = []>
    : Op<KV_Dialect, mnemonic, traits>;

def KV_FloatTensor : RankedTensorOf<[F32, F16, BF16]>;

def KV_AllocOp : KV_Op<"alloc"> {
  let summary = "Create an empty cache";
  let description = [{
    An empty cache (length 0). The result is a fresh allocation, so two
    caches of the same type (e.g. a draft model's and a target model's) are
    never merged by CSE, while an unused alloc is dead.

    ```mlir
    %c = kv.alloc : !kv.cache<5x4x512x8, f32>
    ```
  }];
  let results = (outs Res<KV_CacheType, "", [MemAlloc]>:$result);
  let assemblyFormat = "attr-dict `:` qualified(type($result))";
}

def KV_AppendOp : KV_Op<"append", [Pure,
    AllTypesMatch<["cache", "result"]>, AllTypesMatch<["keys", "values"]>]> {
  let summary = "Write keys and values of one layer at positions [pos, pos+T)";
  let description = [{
    `keys` and `values` are `T x KV_HEADS x HEAD_DIM`; the cache length
    becomes `max(length, pos + T)`.

    ```mlir
    %c1 = kv.append %c0[2], %k, %v at %pos : !kv.cache<5x4x512x8, f32>, tensor<?x4x8xf32>
    ```
  }];
  let arguments = (ins KV_CacheType:$cache, I64Attr:$layer,
                       KV_FloatTensor:$keys, KV_FloatTensor:$values,
                       Index:$position);
  let results = (outs KV_CacheType:$result);
  let assemblyFormat = [{
    $cache `[` $layer `]` `,` $keys `,` $values `at` $position attr-dict `:`
    qualified(type($cache)) `,` type($keys)
  }];
  let hasVerifier = 1;
}

def KV_ViewOp : KV_Op<"view", [Pure, AllTypesMatch<["keys", "values"]>]> {
  let summary = "Read the first `len` positions of one layer";
  let description = [{
    Returns keys and values as `KV_HEADS x len x HEAD_DIM` float tensors
    (dequantized when the storage is quantized).

    ```mlir
    %k, %v = kv.view %c[0] len %n : !kv.cache<5x4x512x8, f32> -> tensor<4x?x8xf32>
    ```
  }];
  let arguments = (ins KV_CacheType:$cache, I64Attr:$layer, Index:$length);
  let results = (outs KV_FloatTensor:$keys, KV_FloatTensor:$values);
  let assemblyFormat = [{
    $cache `[` $layer `]` `len` $length attr-dict `:` qualified(type($cache))
    `->` type($keys)
  }];
  let hasVerifier = 1;
}

def KV_LengthOp : KV_Op<"length", [Pure]> {
  let summary = "Number of filled positions";
  let description = [{
    ```mlir
    %n = kv.length %c : !kv.cache<5x4x512x8, f32>
    ```
  }];
  let arguments = (ins KV_CacheType:$cache);
  let results = (outs Index:$result);
  let assemblyFormat = "$cache attr-dict `:` qualified(type($cache))";
  let hasFolder = 1;
}

def KV_ScoreAccumulateOp : KV_Op<"score_accumulate", [Pure,
    AllTypesMatch<["cache", "result"]>]> {
  let summary = "Add attention mass per cached position (for H2O eviction)";
  let description = [{
    `scores` is `KV_HEADS x CAPACITY` (or `KV_HEADS x ?`, a prefix): the
    attention probability mass each cached position received, summed over
    the queries of the group. The cache keeps a running sum per layer.

    ```mlir
    %c1 = kv.score_accumulate %c0[1], %s : !kv.cache<5x4x512x8, f32>, tensor<4x512xf32>
    ```
  }];
  let arguments = (ins KV_CacheType:$cache, I64Attr:$layer,
                       RankedTensorOf<[F32]>:$scores);
  let results = (outs KV_CacheType:$result);
  let assemblyFormat = [{
    $cache `[` $layer `]` `,` $scores attr-dict `:` qualified(type($cache)) `,`
    type($scores)
  }];
  let hasVerifier = 1;
}

def KV_EvictOp : KV_Op<"evict", [Pure, AllTypesMatch<["cache", "result"]>]> {
  let summary = "Compact the cache to the positions its policy keeps";
  let description = [{
    Applies `policy` (or, when absent, the policy of the cache type) to every
    layer and compacts the survivors in order. A cache already within budget
    is unchanged, so evicting twice with the same policy is evicting once.
    The policy is written without its `#kv.policy` prefix (a full dialect
    attribute would take the following `: type` as its own).

    ```mlir
    %c1 = kv.evict %c0 policy <window, sinks = 4, recent = 124> : !kv.cache<5x4x512x8, f32>
    %c2 = kv.evict %c1 : !kv.cache<5x4x512x8, f32, #kv.policy<h2o, heavy = 64, recent = 64>>
    ```
  }];
  let arguments = (ins KV_CacheType:$cache, OptionalAttr<KV_PolicyAttr>:$policy);
  let results = (outs KV_CacheType:$result);
  let assemblyFormat = [{
    $cache (`policy` $policy^)? attr-dict `:` qualified(type($cache))
  }];
  let hasVerifier = 1;
  let hasFolder = 1;
  let extraClassDeclaration = [{
    /// The policy in force: the op's, else the cache type's.
    PolicyAttr getEffectivePolicy();
  }];
}

class KV_ConvertOp<string mnemonic> : KV_Op<mnemonic, [Pure]> {
  let arguments = (ins KV_CacheType:$cache);
  let results = (outs KV_CacheType:$result);
  let assemblyFormat = [{
    $cache attr-dict `:` qualified(type($cache)) `->` qualified(type($result))
  }];
  let hasVerifier = 1;
}

def KV_QuantizeOp : KV_ConvertOp<"quantize"> {
  let summary = "Re-store a float cache in a quantized format";
  let description = [{
    Same geometry, layout and policy; the storage becomes a `#qmm.format`.

    ```mlir
    %q = kv.quantize %c : !kv.cache<5x4x512x8, f16> -> !kv.cache<5x4x512x8, #qmm.format<int4, group = 32>>
    ```
  }];
}

def KV_DequantizeOp : KV_ConvertOp<"dequantize"> {
  let summary = "Re-store a quantized cache as floats";
  let description = [{
    ```mlir
    %c = kv.dequantize %q : !kv.cache<5x4x512x8, #qmm.format<int4, group = 32>> -> !kv.cache<5x4x512x8, f16>
    ```
  }];
}

def KV_RollbackOp : KV_Op<"rollback", [Pure, AllTypesMatch<["cache", "result"]>]> {
  let summary = "Drop the last `count` positions (speculative decoding)";
  let description = [{
    The length becomes `max(length - count, 0)`; rejected draft tokens are
    forgotten. A constant count must lie in [0, capacity].

    A float contiguous cache rolls back by its position alone. A cache with
    KIVI storage or an eviction policy holds more than its positions
    (flushed token groups, evicted slots, attention masses) and needs an
    undo log, `rollback<N>` in its type: every layer is then restored to
    exactly the state it had before its last `count` positions (at most N)
    were added, as if they never had been. The length is that of the
    longest layer (a layer-skipping draft writes only some layers); a layer
    keeps at most `length - count` positions. Attention at a position below
    a layer's length rolls that layer back to the position first, the same
    way, so rewriting positions (a verification after a draft) is exact too.

    ```mlir
    %c1 = kv.rollback %c0 by %n : !kv.cache<5x4x512x8, f32>
    %c3 = kv.rollback %c2 by %n : !kv.cache<5x4x512x8, #kv.kivi<bits = 4, group = 32, residual = 128>, rollback<5>>
    ```
  }];
  let arguments = (ins KV_CacheType:$cache, Index:$count);
  let results = (outs KV_CacheType:$result);
  let assemblyFormat = "$cache `by` $count attr-dict `:` qualified(type($cache))";
  let hasVerifier = 1;
  let hasFolder = 1;
  let hasCanonicalizer = 1;
}

def KV_ForkOp : KV_Op<"fork", [Pure, AllTypesMatch<["cache", "result"]>]> {
  let summary = "A new cache sharing the first `prefix` positions";
  let description = [{
    The result holds the first `prefix` positions of `cache` (shared
    copy-on-write where the layout is paged); `cache` stays valid, so
    several sequences can continue from one prompt.

    On the CPU a contiguous float cache forks into a fresh cache holding a
    copy of the prefix. A paged cache is forked by the runtime
    (`CompiledModel::fork`: the new sequence's block table maps the
    prompt's blocks, reference-counted, and a write into a shared block
    copies it first), since a step function sees one sequence's block
    table; see docs/memory.md.

    ```mlir
    %f = kv.fork %c prefix %n : !kv.cache<5x4x512x8, f32, paged<16>>
    ```
  }];
  let arguments = (ins KV_CacheType:$cache, Index:$prefix);
  let results = (outs KV_CacheType:$result);
  let assemblyFormat = "$cache `prefix` $prefix attr-dict `:` qualified(type($cache))";
  let hasVerifier = 1;
  let hasCanonicalizer = 1;
}

def KV_CompactOp : KV_Op<"compact", [Pure, AllTypesMatch<["cache", "result"]>]> {
  let summary = "Keep a token tree's accepted path (speculative decoding)";
  let description = [{
    A token tree's verification wrote row r at position `position + r` in
    every layer. After acceptance, position `position + j` gets the keys and
    values of row `rows[j]` for j < `count` (an accepted path: rows[0] = 0,
    increasing, each row's parent before it), so the path ends up
    contiguous as if it had been decoded alone; the positions after
    `position + count` are then rolled back. Contiguous f32 caches.

    ```mlir
    %c1 = kv.compact %c0 at %pos rows %path count %n : tensor<5xi32>, !kv.cache<5x4x512x8, f32>
    ```
  }];
  let arguments = (ins KV_CacheType:$cache, Index:$position,
                       RankedTensorOf<[I32]>:$rows, Index:$count);
  let results = (outs KV_CacheType:$result);
  let assemblyFormat = [{
    $cache `at` $position `rows` $rows `count` $count attr-dict `:`
    type($rows) `,` qualified(type($cache))
  }];
  let hasVerifier = 1;
}

#endif // LLMC_KV_OPS_TD
