//===- KVAttrs.td - kv attributes --------------------------*- tablegen -*-===//
//
// Part of llmc. Eviction policies.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_KV_ATTRS_TD
#define LLMC_KV_ATTRS_TD

include "dialects/kv/KVDialect.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"

def KV_PolicyKind : I32EnumAttr<"PolicyKind", "KV eviction policy family", [
    I32EnumAttrCase<"Window", 0, "window">,
    I32EnumAttrCase<"H2O", 1, "h2o">,
    I32EnumAttrCase<"SnapKV", 2, "snapkv">
  ]> {
  let cppNamespace = "::llmc::kv";
  let genSpecializedAttr = 0;
}

def KV_PolicyAttr : AttrDef<KV_Dialect, "Policy"> {
  let mnemonic = "policy";
  let summary = "Which cached positions survive eviction";
  let description = [{
    - `window`: StreamingLLM-style; keep the first `sinks` positions and the
      `recent` most recent ones.
    - `h2o`: heavy-hitter oracle; keep `heavy` positions with the largest
      accumulated attention mass plus the `recent` most recent (and `sinks`).
    - `snapkv`: one shot at the end of prefill; the last `observe` queries
      vote (votes max-pooled with kernel `pool`) for `heavy` positions, kept
      together with the observation window.

    `layer_budgets` optionally gives every layer its own total budget
    (pyramid / cascading schedules); it then needs one entry per layer.

    ```mlir
    #kv.policy<window, sinks = 4, recent = 124>
    #kv.policy<h2o, heavy = 64, recent = 64>
    #kv.policy<snapkv, heavy = 96, observe = 16, pool = 7>
    #kv.policy<h2o, heavy = 32, recent = 32, layer_budgets = [128, 96, 64, 48, 32]>
    ```
  }];
  let parameters = (ins "PolicyKind":$kind, "int64_t":$sinks,
                        "int64_t":$recent, "int64_t":$heavy,
                        "int64_t":$observe, "int64_t":$pool,
                        ArrayRefParameter<"int64_t">:$layerBudgets);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// Positions kept per layer when no per-layer budget is given.
    int64_t getBudget() const;
    /// Positions kept in `layer` (its per-layer budget, if any).
    int64_t getLayerBudget(int64_t layer) const;
  }];
}

def KV_KiviAttr : AttrDef<KV_Dialect, "Kivi"> {
  let mnemonic = "kivi";
  let summary = "KIVI cache storage: keys per channel, values per token";
  let description = [{
    A cache storage (in place of a float type or a `#qmm.format`) after KIVI
    (Liu et al., 2024): keys are quantized per channel over groups of
    `group` consecutive positions, values per token over runs of `group`
    channels, both asymmetric `bits`-bit with an f16 scale and minimum per
    group; the `residual` most recent positions stay in full precision and
    older ones are flushed into quantized groups a whole group at a time.
    Attention reads the quantized groups directly (no full-precision copy of
    the cache). The byte layout is include/llmc/Runtime/KVLayout.h.

    ```mlir
    !kv.cache<5x4x512x8, #kv.kivi<bits = 4, group = 32, residual = 128>>
    ```
  }];
  let parameters = (ins "int64_t":$bits, "int64_t":$group,
                        "int64_t":$residual);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// Quantized bits per cached element, scales and minimums included
    /// (the full-precision residual window excluded).
    double getBitsPerElement() const;
  }];
}

#endif // LLMC_KV_ATTRS_TD
