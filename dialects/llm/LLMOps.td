//===- LLMOps.td - llm operations --------------------------*- tablegen -*-===//
//
// Part of llmc. Decoder ops over T x WIDTH activations.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_LLM_OPS_TD
#define LLMC_LLM_OPS_TD

include "dialects/llm/LLMDialect.td"
include "dialects/llm/LLMInterfaces.td"
include "dialects/kv/KVTypes.td"
include "dialects/qmm/QMMTypes.td"
include "mlir/IR/SymbolInterfaces.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

class LLM_Op<string mnemonic, list<Trait> traits = []>
    : Op<LLM_Dialect, mnemonic, traits>;

/// A pure op whose result shapes the verify-model pass can refine.
class LLM_ComputeOp<string mnemonic, list<Trait> traits = []>
    : LLM_Op<mnemonic, traits # [Pure,
        DeclareOpInterfaceMethods<LLM_ShapeRefinementOpInterface>]>;

def LLM_FloatTensor : RankedTensorOf<[F32, F16, BF16]>;
def LLM_TokenTensor : RankedTensorOf<[I32, I64]>;
def LLM_WeightValue : AnyTypeOf<[LLM_FloatTensor, QMM_PackedType],
                                "float tensor or packed weights">;

//===----------------------------------------------------------------------===//
// Weights
//===----------------------------------------------------------------------===//

def LLM_WeightOp : LLM_Op<"weight", [Symbol, HasParent<"::mlir::ModuleOp">]> {
  let summary = "An external weight tensor: model file, tensor name, byte offset";
  let description = [{
    Declares a weight that lives in a model file; the IR holds only its name
    and location (never the data), so multi-gigabyte models stay small. The
    type is a static float tensor or `!qmm.packed` for block-quantized data.

    ```mlir
    llm.weight @tok_embd "token_embd.weight" : tensor<512x64xf32> from "stories260K.gguf" at 736
    llm.weight @w1 "blk.0.ffn_gate.weight" : !qmm.packed<172x64, #qmm.format<q8_0>> from "m.gguf" at 4096
    ```
  }];
  let arguments = (ins SymbolNameAttr:$sym_name, StrAttr:$tensor_name,
                       TypeAttr:$type, StrAttr:$file, I64Attr:$offset);
  let assemblyFormat = [{
    $sym_name $tensor_name `:` $type `from` $file `at` $offset attr-dict
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// Bytes the weight occupies in its file.
    int64_t getByteSize();
  }];
}

def LLM_GetWeightOp : LLM_Op<"get_weight", [Pure,
    DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "The value of an `llm.weight`";
  let description = [{
    ```mlir
    %w = llm.get_weight @tok_embd : tensor<512x64xf32>
    ```
  }];
  let arguments = (ins FlatSymbolRefAttr:$name);
  let results = (outs LLM_WeightValue:$result);
  let assemblyFormat = "$name attr-dict `:` qualified(type($result))";
}

//===----------------------------------------------------------------------===//
// Decoder ops
//===----------------------------------------------------------------------===//

def LLM_EmbeddingOp : LLM_ComputeOp<"embedding"> {
  let summary = "Token embedding lookup";
  let description = [{
    Gathers rows of the `VOCAB x DIM` table (float or packed) for each id.

    ```mlir
    %x = llm.embedding %table, %ids : tensor<512x64xf32>, tensor<?xi32> -> tensor<?x64xf32>
    ```
  }];
  let arguments = (ins LLM_WeightValue:$table, LLM_TokenTensor:$ids);
  let results = (outs LLM_FloatTensor:$result);
  let assemblyFormat = [{
    $table `,` $ids attr-dict `:` qualified(type($table)) `,` type($ids) `->`
    type($result)
  }];
  let hasVerifier = 1;
  let hasCanonicalizer = 1;
}

def LLM_RMSNormOp : LLM_ComputeOp<"rms_norm", [AllTypesMatch<["input", "result"]>]> {
  let summary = "RMS normalization with a learned scale (also the final norm)";
  let description = [{
    `y = x / sqrt(mean(x^2) + eps) * weight` per row. The decoder's final
    norm before the LM head is this op too.

    ```mlir
    %y = llm.rms_norm %x, %w {eps = 1.0e-05 : f32} : tensor<?x64xf32>, tensor<64xf32>
    ```
  }];
  let arguments = (ins LLM_FloatTensor:$input, LLM_FloatTensor:$weight,
                       F32Attr:$eps);
  let results = (outs LLM_FloatTensor:$result);
  let assemblyFormat = "$input `,` $weight attr-dict `:` type($input) `,` type($weight)";
  let hasVerifier = 1;
}

def LLM_RoPEOp : LLM_ComputeOp<"rope", [AllTypesMatch<["input", "result"]>]> {
  let summary = "Rotary position embedding of every head in a row";
  let description = [{
    Rotates the first `rotary_dims` dimensions of each `head_dim`-wide head
    in pairs, pair `i` by angle `pos * theta^(-2i / rotary_dims)`, positions
    starting at `position`. `freq_scale` (linear RoPE scaling) multiplies the
    positions.

    Row `t` is at position `position + t`; with `tree` (a token tree's
    verification: `tree[t]` is row t's parent row, -1 for a root, parents
    first) at `position + depth(t)`.

    By default pair `i` is dimensions `(2i, 2i + 1)` (the GGUF / llama.cpp
    layout). With `half_split` it is `(i, i + rotary_dims / 2)`, the
    "rotate_half" layout of Hugging Face checkpoints, whose q/k projections
    are then used as stored, without permuting their rows.

    ```mlir
    %r = llm.rope %q at %pos {head_dim = 8 : i64, rotary_dims = 8 : i64, theta = 1.0e+04 : f32} : tensor<?x64xf32>
    %h = llm.rope %k at %pos {half_split, head_dim = 8 : i64, rotary_dims = 8 : i64, theta = 1.0e+04 : f32} : tensor<?x32xf32>
    ```
  }];
  let arguments = (ins LLM_FloatTensor:$input, Index:$position,
                       Optional<RankedTensorOf<[I32]>>:$tree,
                       I64Attr:$head_dim, I64Attr:$rotary_dims, F32Attr:$theta,
                       OptionalAttr<F32Attr>:$freq_scale, UnitAttr:$half_split);
  let results = (outs LLM_FloatTensor:$result);
  let assemblyFormat = [{
    $input `at` $position (`tree` `(` $tree^ `:` type($tree) `)`)?
    attr-dict `:` type($input)
  }];
  let hasVerifier = 1;
}

def LLM_LinearOp : LLM_ComputeOp<"linear"> {
  let summary = "x * W^T with float or packed weights";
  let description = [{
    `result[t, n] = sum_k x[t, k] * W[n, k]`; `W` is `N x K`, float or
    `!qmm.packed` (computed in packed form).

    ```mlir
    %y = llm.linear %x, %w : tensor<?x64xf32>, tensor<172x64xf32> -> tensor<?x172xf32>
    ```
  }];
  let arguments = (ins LLM_FloatTensor:$input, LLM_WeightValue:$weight);
  let results = (outs LLM_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight attr-dict `:` type($input) `,` qualified(type($weight))
    `->` type($result)
  }];
  let hasVerifier = 1;
  let hasCanonicalizer = 1;
}

def LLM_AttentionOp : LLM_ComputeOp<"attention", [
    AllTypesMatch<["keys", "values"]>, AllTypesMatch<["cache", "new_cache"]>]> {
  let summary = "Multi-head attention (GQA/MQA) through a KV cache";
  let description = [{
    Appends this step's `keys`/`values` (`T x (KV_HEADS*HEAD_DIM)`) to layer
    `layer` of `cache` at `position`, then attends the `T` queries
    (`T x (HEADS*HEAD_DIM)`) over all cached positions: query head `h` uses
    KV head `h / (HEADS / KV_HEADS)`. `causal` masks future positions;
    `window` limits each query to the last `window` positions (sliding
    window); `scale` multiplies the scores (usually `1/sqrt(HEAD_DIM)`).
    The optional third result is the attention mass each cached position
    received (`KV_HEADS x CAPACITY`), for eviction policies.

    With `tree` (a token tree's verification: `tree[t]` is row t's parent
    row, -1 for a root; parents come before their children) row t's keys
    and values still go to position `position + t`, but row t attends the
    positions before `position` and the rows on its path from the root
    (itself, its parent, ...), in that order, as a one-row step at
    `position + depth(t)` would after decoding that path. Causal, no
    window; contiguous f32 caches.

    ```mlir
    %o, %c1 = llm.attention %q, %k, %v, %c0[0] at %pos {head_dim = 8 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.353553385 : f32} : tensor<?x64xf32>, tensor<?x32xf32>, !kv.cache<5x4x512x8, f32> -> tensor<?x64xf32>
    ```
  }];
  let arguments = (ins LLM_FloatTensor:$queries, LLM_FloatTensor:$keys,
                       LLM_FloatTensor:$values, KV_CacheType:$cache,
                       I64Attr:$layer, Index:$position,
                       Optional<RankedTensorOf<[I32]>>:$tree,
                       I64Attr:$num_heads,
                       I64Attr:$num_kv_heads, I64Attr:$head_dim, F32Attr:$scale,
                       DefaultValuedAttr<BoolAttr, "true">:$causal,
                       OptionalAttr<I64Attr>:$window);
  let results = (outs LLM_FloatTensor:$result, KV_CacheType:$new_cache,
                      Optional<RankedTensorOf<[F32]>>:$scores);
  let assemblyFormat = [{
    $queries `,` $keys `,` $values `,` $cache `[` $layer `]` `at` $position
    (`tree` `(` $tree^ `:` type($tree) `)`)?
    attr-dict `:` type($queries) `,` type($keys) `,` qualified(type($cache))
    `->` type($result) (`,` type($scores)^)?
  }];
  let hasVerifier = 1;
}

def LLM_SwiGLUOp : LLM_ComputeOp<"swiglu", [AllTypesMatch<["gate", "up", "result"]>]> {
  let summary = "silu(gate) * up";
  let description = [{
    ```mlir
    %h = llm.swiglu %g, %u : tensor<?x172xf32>
    ```
  }];
  let arguments = (ins LLM_FloatTensor:$gate, LLM_FloatTensor:$up);
  let results = (outs LLM_FloatTensor:$result);
  let assemblyFormat = "$gate `,` $up attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def LLM_AddOp : LLM_ComputeOp<"add", [Commutative,
    AllTypesMatch<["lhs", "rhs", "result"]>]> {
  let summary = "Elementwise addition (residual connections)";
  let description = [{
    ```mlir
    %r = llm.add %x, %y : tensor<?x64xf32>
    ```
  }];
  let arguments = (ins LLM_FloatTensor:$lhs, LLM_FloatTensor:$rhs);
  let results = (outs LLM_FloatTensor:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` type($result)";
  let hasFolder = 1;
}

def LLM_LMHeadOp : LLM_ComputeOp<"lm_head"> {
  let summary = "Project hidden states to vocabulary logits";
  let description = [{
    Like `llm.linear` with the `VOCAB x DIM` output matrix (or the tied
    embedding table). With `last_only`, only the last row is projected and
    the result has one row, which is all decoding needs.

    ```mlir
    %l = llm.lm_head %x, %w {last_only} : tensor<?x64xf32>, tensor<512x64xf32> -> tensor<1x512xf32>
    ```
  }];
  let arguments = (ins LLM_FloatTensor:$input, LLM_WeightValue:$weight,
                       UnitAttr:$last_only);
  let results = (outs LLM_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight attr-dict `:` type($input) `,` qualified(type($weight))
    `->` type($result)
  }];
  let hasVerifier = 1;
  let hasCanonicalizer = 1;
}

def LLM_ArgmaxOp : LLM_ComputeOp<"argmax"> {
  let summary = "Greedy token choice per row (first maximum wins)";
  let description = [{
    ```mlir
    %t = llm.argmax %logits : tensor<1x512xf32> -> tensor<1xi32>
    ```
  }];
  let arguments = (ins LLM_FloatTensor:$logits);
  let results = (outs LLM_TokenTensor:$result);
  let assemblyFormat = "$logits attr-dict `:` type($logits) `->` type($result)";
  let hasVerifier = 1;
}

def LLM_SampleOp : LLM_ComputeOp<"sample"> {
  let summary = "Sample a token per row: temperature, top-k, top-p, seed";
  let description = [{
    Draws from `softmax(logits / temperature)` restricted to the `top_k` most
    likely tokens (0 = all) and then to the smallest set whose mass reaches
    `top_p`. The draw is a pure function of `seed` (a counter-based RNG), so
    equal seeds give equal tokens. Temperature 0 or top_k 1 is argmax.

    ```mlir
    %t = llm.sample %logits, %seed {temperature = 8.000000e-01 : f32, top_k = 40 : i64, top_p = 0.949999988 : f32} : tensor<1x512xf32>, i64 -> tensor<1xi32>
    ```
  }];
  let arguments = (ins LLM_FloatTensor:$logits, I64:$seed, F32Attr:$temperature,
                       DefaultValuedAttr<I64Attr, "0">:$top_k,
                       DefaultValuedAttr<F32Attr, "1.0f">:$top_p);
  let results = (outs LLM_TokenTensor:$result);
  let assemblyFormat = [{
    $logits `,` $seed attr-dict `:` type($logits) `,` type($seed) `->` type($result)
  }];
  let hasVerifier = 1;
  let hasCanonicalizer = 1;
}

//===----------------------------------------------------------------------===//
// Speculative decoding
//===----------------------------------------------------------------------===//

def LLM_NgramDraftOp : LLM_Op<"ngram_draft", [Pure]> {
  let summary = "Draft tokens by prompt lookup: continue an earlier n-gram";
  let description = [{
    Model-free drafting (prompt lookup decoding): finds the latest earlier
    occurrence of the last `ngram` tokens of `history[0, length)` and
    proposes the (up to `max`) tokens that followed it; when there is none
    it retries with shorter n-grams down to one token. `count` is the number
    of proposed tokens (0 when nothing matched); entries past it are 0.

    ```mlir
    %draft, %n = llm.ngram_draft %history, %len {ngram = 3 : i64, max = 4 : i64} : tensor<?xi32> -> tensor<4xi32>
    ```
  }];
  let arguments = (ins RankedTensorOf<[I32]>:$history, Index:$length,
                       I64Attr:$ngram, I64Attr:$max);
  let results = (outs RankedTensorOf<[I32]>:$draft, Index:$count);
  let assemblyFormat = [{
    $history `,` $length attr-dict `:` type($history) `->` type($draft)
  }];
  let hasVerifier = 1;
}

def LLM_SpecAcceptOp : LLM_Op<"spec_accept", [Pure]> {
  let summary = "Accept draft tokens against the target's logits: greedy or by rejection sampling";
  let description = [{
    `draft[0, count)` were proposed after the last token; row i of `logits`
    is the target model's prediction after the last token and the first i
    draft tokens (count + 1 rows, from one batched verification). The
    target's distribution p_i is the softmax of row i at `temperature`,
    restricted to the `top_k` most likely tokens (0 = all) and then to the
    smallest set whose mass reaches `top_p` (1 = all), exactly as plain
    sampling draws.

    At temperature 0 acceptance is greedy: the longest draft prefix that
    agrees with the target's argmax (first maximum) per row, plus the
    target's own next token, so the output is exactly greedy decoding's.
    Above 0 it is the standard speculative sampling rule for a
    deterministic draft: draft token d_i is accepted with probability
    p_i(d_i); at the first rejection the replacement is drawn from p_i with
    d_i removed (renormalized) and the step ends; when every draft token is
    accepted one more token is drawn from p_count. Each emitted token is
    then distributed exactly as sampling the target alone. Random numbers
    come from `seed` (the same seed, logits and draft give the same
    tokens).

    `tokens[0, accepted)` are the emitted tokens (1 <= accepted <= count +
    1; accepted - 1 draft tokens were kept); entries past them are 0.

    ```mlir
    %tokens, %accepted = llm.spec_accept %draft, %n, %logits sampling(%temp, %top_k, %top_p, %seed) : tensor<4xi32>, tensor<?x512xf32> -> tensor<5xi32>
    ```
  }];
  let arguments = (ins RankedTensorOf<[I32]>:$draft, Index:$count,
                       RankedTensorOf<[F32]>:$logits, F64:$temperature,
                       I64:$top_k, F64:$top_p, I64:$seed);
  let results = (outs RankedTensorOf<[I32]>:$tokens, Index:$accepted);
  let assemblyFormat = [{
    $draft `,` $count `,` $logits `sampling` `(` $temperature `,` $top_k `,`
    $top_p `,` $seed `)` attr-dict `:` type($draft) `,` type($logits) `->`
    type($tokens)
  }];
  let hasVerifier = 1;
}

def LLM_NgramTreeDraftOp : LLM_Op<"ngram_tree_draft", [Pure,
    AllTypesMatch<["draft", "parents"]>]> {
  let summary = "Draft a token tree by prompt lookup: several continuations";
  let description = [{
    Like `llm.ngram_draft`, but every earlier occurrence of the last
    `ngram` (then fewer) tokens of `history[0, length)` contributes the
    tokens that followed it, merged into a trie of at most `max` nodes and
    `width` branches: node i is `draft[i]`; numbering the verification's
    rows with the last token as row 0 and node i as row i + 1,
    `parents[i]` is the row of its parent (0 for the last token). Parents
    come before children, siblings are distinct, and any prefix of the
    nodes is a tree. `count` is the number of nodes; entries past it are 0.

    ```mlir
    %draft, %parents, %n = llm.ngram_tree_draft %history, %len {ngram = 3 : i64, max = 8 : i64, width = 3 : i64} : tensor<?xi32> -> tensor<8xi32>
    ```
  }];
  let arguments = (ins RankedTensorOf<[I32]>:$history, Index:$length,
                       I64Attr:$ngram, I64Attr:$max, I64Attr:$width);
  let results = (outs RankedTensorOf<[I32]>:$draft,
                      RankedTensorOf<[I32]>:$parents, Index:$count);
  let assemblyFormat = [{
    $history `,` $length attr-dict `:` type($history) `->` type($draft)
  }];
  let hasVerifier = 1;
}

def LLM_SpecAcceptTreeOp : LLM_Op<"spec_accept_tree", [Pure,
    AllTypesMatch<["tokens", "path"]>, AllTypesMatch<["draft", "parents"]>]> {
  let summary = "Accept a path of a draft token tree against the target's logits";
  let description = [{
    The tree's nodes `draft[0, count)` (node i's parent row `parents[i]`,
    as `llm.ngram_tree_draft` numbers them) were verified in one batch: row
    0 of `logits` is the target after the last token, row i + 1 after the
    path to node i.
    Starting at the root, the target's token for the current row is taken
    (greedy at temperature 0; above, the multi-candidate rejection rule:
    the children, distinct tokens, are tried in order, each kept with its
    probability under what earlier rejections left, else a token is drawn
    from the rest, so every emitted token is distributed as sampling the
    target); when a child has that token the walk moves to it, else the
    step ends. `tokens[0, accepted)` are the emitted tokens and
    `path[0, accepted)` the rows of the accepted path (row 0 first), whose
    positions `kv.compact` keeps. Sampling settings as `llm.spec_accept`.

    ```mlir
    %tokens, %path, %accepted = llm.spec_accept_tree %draft, %parents, %n, %logits sampling(%temp, %top_k, %top_p, %seed) : tensor<8xi32>, tensor<?x512xf32> -> tensor<9xi32>
    ```
  }];
  let arguments = (ins RankedTensorOf<[I32]>:$draft,
                       RankedTensorOf<[I32]>:$parents, Index:$count,
                       RankedTensorOf<[F32]>:$logits, F64:$temperature,
                       I64:$top_k, F64:$top_p, I64:$seed);
  let results = (outs RankedTensorOf<[I32]>:$tokens,
                      RankedTensorOf<[I32]>:$path, Index:$accepted);
  let assemblyFormat = [{
    $draft `,` $parents `,` $count `,` $logits `sampling` `(` $temperature `,`
    $top_k `,` $top_p `,` $seed `)` attr-dict `:` type($draft) `,`
    type($logits) `->` type($tokens)
  }];
  let hasVerifier = 1;
}

#endif // LLMC_LLM_OPS_TD
