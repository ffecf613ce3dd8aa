//===- Passes.td - speculative decoding passes -------------*- tablegen -*-===//
//
// Part of llmc. Speculative decoding as a rewrite of the step functions.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_TRANSFORMS_SPECULATIVE_PASSES_TD
#define LLMC_TRANSFORMS_SPECULATIVE_PASSES_TD

include "mlir/Pass/PassBase.td"

def SpeculativeDecode : Pass<"llmc-speculative-decode", "::mlir::ModuleOp"> {
  let summary = "Add a speculative step: draft, verify in one batch, accept, roll back";
  let description = [{
    Builds `@spec_step(%history, %cache, %pos)` from the module's `@prefill`
    and `@decode`. `%history` holds every token of the sequence so far,
    `pos + 1` of them: the cache holds positions [0, pos) and the last token
    has not run yet. The step

    1. drafts up to `k` tokens after the last one:
       - `ngram` (prompt lookup): `llm.ngram_draft` continues the latest
         earlier occurrence of the last `ngram` tokens of the history;
       - `skip` (SWIFT-style self-speculation): `k` greedy steps of the model
         itself with the layers of `skip-layers` removed (a clone of
         `@decode` whose skipped layers pass the residual stream through);
       - `exit` (early exit, DEL-style): the same with every layer from
         `exit-layer` on removed;
    2. verifies the last token and the draft in one batched call of the
       target model (the body of `@prefill`, causal over the draft);
    3. accepts the longest draft prefix that agrees with the target's greedy
       choices plus the target's own next token (`llm.spec_accept`), so the
       tokens are exactly greedy decoding's;
    4. rolls the cache back over the rejected positions (`kv.rollback`).

    It returns the accepted tokens (a tensor of k + 1, the first `count`
    valid), `[count, drafted]` (tensor<2xi32>: the tokens accepted and the
    draft tokens proposed, for statistics) and the cache, which then holds
    positions [0, pos + count): the last accepted token is the next step's
    last token. The runtime calls it until done.

    ```
    llmc-opt --llmc-speculative-decode='drafter=ngram k=4 ngram=3' model.mlir
    llmc-opt --llmc-speculative-decode='drafter=skip k=3 skip-layers=1,3' model.mlir
    llmc-opt --llmc-speculative-decode='drafter=exit k=3 exit-layer=2' model.mlir
    ```

    Errors: an unknown drafter, k outside [1, 15] (k + 1 rows is what the
    kernels verify batch-invariantly, so acceptance is exact), a skip set or
    exit layer outside the model's layers or leaving no layer, a module
    without `@prefill` and `@decode`, one that already has `@spec_step`, and
    a cache whose rollback has state beyond its positions (KIVI storage, an
    eviction policy, paged: not supported yet).
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::tensor::TensorDialect"];
  let options = [
    Option<"drafter", "drafter", "std::string", /*default=*/"\"ngram\"",
           "ngram, skip or exit">,
    Option<"k", "k", "int64_t", /*default=*/"4",
           "Draft tokens per step (at most)">,
    Option<"ngram", "ngram", "int64_t", /*default=*/"3",
           "Longest n-gram the ngram drafter matches">,
    ListOption<"skipLayers", "skip-layers", "int64_t",
               "Layers the skip drafter removes">,
    Option<"exitLayer", "exit-layer", "int64_t", /*default=*/"0",
           "First layer the exit drafter removes (it keeps layers before)">
  ];
}

#endif // LLMC_TRANSFORMS_SPECULATIVE_PASSES_TD
