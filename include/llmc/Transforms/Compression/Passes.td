//===- Passes.td - compression passes ----------------------*- tablegen -*-===//
//
// Part of llmc. Weight quantization, KV-cache quantization and eviction.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_TRANSFORMS_COMPRESSION_PASSES_TD
#define LLMC_TRANSFORMS_COMPRESSION_PASSES_TD

include "mlir/Pass/PassBase.td"

def QuantizeWeights : Pass<"llmc-quantize-weights", "::mlir::ModuleOp"> {
  let summary = "Quantize float weights into a qmm format (round to nearest)";
  let description = [{
    Rewrites every two-dimensional float `llm.weight` (f32, f16 or bf16) into
    `!qmm.packed<R x C, FORMAT>`: reads the tensor from its file, quantizes
    each row by round-to-nearest in blocks along C (a ragged last block is
    zero padded) and appends the packed bytes to the file `output`, which the
    rewritten weight then references. One-dimensional weights (norm gains)
    stay as they are. Every `llm.get_weight` of a rewritten weight takes the
    new type; the ops that consume weights accept packed ones.

    Formats are written `KEYWORD[-gGROUP][-sym|-asym]`: `q8_0`, `q4_0`,
    `q4_k`, `q6_k`, `int2`..`int8` (e.g. `int4-g64-asym`), `fp8_e4m3`,
    `fp8_e5m2`, `mxfp4`; `f32`, `f16` and `bf16` keep a weight in float
    (converted to that type).

    `overrides` maps tensor-name globs to formats, first match wins, e.g.
    `overrides=output.weight=q8_0,token_embd.weight=f32`.

    With `reorder-outliers`, the intermediate channels of every SwiGLU MLP
    are permuted before quantization — the gate and up projections' rows and
    the down projection's columns with the same permutation, which leaves
    the model's function unchanged — sorted by the magnitude of the down
    projection's columns, so that outlier channels share quantization blocks
    instead of inflating the scales of every block.

    With `activation-stats=FILE` (the JSON `llmc calibrate` writes: per
    weight tensor, the mean |x| of each input channel over a calibration
    run), activation-aware scaling (AWQ, Lin et al. 2024) comes first: the
    projections that share an input — q/k/v after the attention norm,
    gate/up after the FFN norm, down after the SwiGLU — get their columns
    multiplied by s_j = m_j^a (normalized), and the producer of that input
    is divided by s (the norm's gain, or the up projection's rows), so the
    model's function is unchanged before quantization. The exponent a is
    searched on [0, 1] per group, minimizing the activation-weighted
    quantization error sum_j m_j^2 sum_n (Q(W s)_nj / s_j - W_nj)^2; a = 0
    (no scaling) is among the candidates, so the estimate never gets worse.

    ```
    llmc-opt --llmc-quantize-weights='format=q4_0 overrides=output.weight=q8_0 output=model.q4.bin' model.mlir
    ```
  }];
  let options = [
    Option<"format", "format", "std::string", /*default=*/"\"q8_0\"",
           "Format of every 2-D float weight without an override">,
    ListOption<"overrides", "overrides", "std::string",
               "GLOB=FORMAT pairs on tensor names (first match wins)">,
    Option<"output", "output", "std::string", /*default=*/"\"\"",
           "File the quantized weights are written to (required)">,
    Option<"reorderOutliers", "reorder-outliers", "bool", /*default=*/"false",
           "Permute MLP channels so outliers share quantization blocks">,
    Option<"activationStats", "activation-stats", "std::string",
           /*default=*/"\"\"",
           "Per-channel activation statistics (JSON) for AWQ-style scaling">
  ];
}

def KVQuantize : Pass<"llmc-kv-quantize", "::mlir::ModuleOp"> {
  let summary = "Store the KV cache KIVI-style (per-channel keys, per-token values)";
  let description = [{
    Gives every float `!kv.cache` in the module (function signatures, ops,
    block arguments) the storage `#kv.kivi<bits, group, residual>`: keys
    quantized per channel over groups of `group` positions, values per
    token over runs of `group` channels, asymmetric with an f16 scale and
    minimum per group, and the `residual` most recent positions kept in full
    precision. Layout and eviction policy are kept. The CPU lowering turns
    attention over such a cache into one kernel call that appends the step's
    keys and values (flushing full groups out of the residual window) and
    attends over the quantized groups directly. A cache with an eviction
    policy (`llmc-kv-evict`, before or after this pass) evicts whole token
    groups instead of positions: see that pass.

    ```
    llmc-opt --llmc-kv-quantize='bits=2 group=32 residual=64' model.mlir
    ```

    Errors: bits other than 2/4/8, a group that is not a multiple of 8 in
    [8, 256] or does not divide KV_HEADS x HEAD_DIM, a residual window not
    smaller than the capacity, a cache that is already quantized, a policy
    that cannot hold KIVI's groups (see `llmc-kv-evict`).
  }];
  let options = [
    Option<"bits", "bits", "int64_t", /*default=*/"4",
           "Bits per quantized key and value (2, 4 or 8)">,
    Option<"group", "group", "int64_t", /*default=*/"32",
           "Positions per key group and channels per value group">,
    Option<"residual", "residual", "int64_t", /*default=*/"128",
           "Most recent positions kept in full precision">
  ];
}

def KVEvict : Pass<"llmc-kv-evict", "::mlir::ModuleOp"> {
  let summary = "Bound the KV cache by an eviction policy (window + sinks, H2O)";
  let description = [{
    Gives every f32 or KIVI `!kv.cache` of the module a `#kv.policy` and shrinks its
    capacity to the policy's budget (the largest per-layer budget): the
    cache then holds that many positions per layer and KV head, whatever the
    length of the sequence, and the CPU lowering turns attention over it
    into `llmc_attention_evict`, which inserts every new position and, once
    the layer's budget is full, evicts one:

    - `window` (StreamingLLM): keeps the first `sinks` positions (attention
      sinks) and the most recent ones.
    - `h2o` (heavy-hitter oracle): keeps `sinks`, the `recent` most recent
      positions and the `heavy` positions with the largest attention mass
      accumulated (summed over the KV head's query heads) since they entered
      the cache; the attention weights come from the same fused kernel, no
      attention matrix is materialized.

    - `snapkv`: one shot at the end of the prompt (a prefill call that holds
      more positions than the budget): the last `observe` queries vote with
      their attention probabilities for the earlier positions, the votes are
      max-pooled over `pool` neighbours, and the `heavy` best positions are
      kept for the whole generation together with `sinks` and the
      observation window; later positions slide through the rest of the
      budget (the oldest unpinned one is evicted).

    `layer-budgets` gives every layer its own total budget (PyramidKV /
    cascading schedules); `sinks` and `recent` (or `observe`) stay, the
    heavy part (or the window's recent part) takes the rest.

    ```
    llmc-opt --llmc-kv-evict='policy=h2o heavy=64 recent=64' model.mlir
    llmc-opt --llmc-kv-evict='policy=window sinks=4 recent=124' model.mlir
    llmc-opt --llmc-kv-evict='policy=snapkv heavy=96 observe=16 pool=7' model.mlir
    ```

    (`recent` does not apply to snapkv: its recent part is the observation
    window.)

    A KIVI cache (`llmc-kv-quantize`, before or after this pass) is evicted
    a whole token group at a time, since a key record quantizes one channel
    over a group's positions together: each layer keeps the `sinks` in full
    precision, KIVI's residual ring (the recent window; for h2o `recent`
    must equal the residual) and a pool of (budget - sinks - residual) /
    group quantized groups. A group leaving the ring takes a free slot or
    the policy's victim's: the oldest (window), the least attended, the
    incoming group included (h2o), the oldest not pinned by the prompt
    selection, else the incoming group (snapkv, whose prompt selection
    votes for whole groups). The kernel is `llmc_attention_kivi_evict`.

    Errors: an unknown policy, a budget larger than the cache capacity,
    per-layer budgets that do not match the layers or leave no room for
    sinks and the recent window (with KIVI: for one token group beside
    sinks and residual), a cache that is neither f32 nor KIVI or already
    has a policy.
  }];
  let options = [
    Option<"policy", "policy", "std::string", /*default=*/"\"h2o\"",
           "window, h2o or snapkv">,
    Option<"sinks", "sinks", "int64_t", /*default=*/"0",
           "First positions always kept (attention sinks)">,
    Option<"recent", "recent", "int64_t", /*default=*/"64",
           "Most recent positions always kept">,
    Option<"heavy", "heavy", "int64_t", /*default=*/"64",
           "Heavy hitters kept by accumulated attention (h2o) or by the "
           "observation window's votes (snapkv)">,
    Option<"observe", "observe", "int64_t", /*default=*/"16",
           "Last prompt positions whose queries vote (snapkv)">,
    Option<"pool", "pool", "int64_t", /*default=*/"7",
           "Odd max-pooling width of the votes (snapkv)">,
    ListOption<"layerBudgets", "layer-budgets", "int64_t",
               "Total budget of every layer (overrides sinks+recent+heavy)">
  ];
}

#endif // LLMC_TRANSFORMS_COMPRESSION_PASSES_TD
