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
    Builds `@spec_step(%history, %cache, %pos, %limit, %temperature,
    %top_k, %top_p, %seed)` from the module's `@prefill` and `@decode`.
    `%history` holds every token of the sequence so far, `pos + 1` of them:
    the cache holds positions [0, pos) and the last token has not run yet.
    `%limit` caps this step's draft length (0 to k; the runtime adapts it
    from the acceptance so far); the sampling arguments are those of plain
    sampling (temperature 0: greedy). The step

    1. drafts up to min(`k`, limit) tokens after the last one:
       - `ngram` (prompt lookup): `llm.ngram_draft` continues the latest
         earlier occurrence of the last `ngram` tokens of the history;
       - `skip` (SWIFT-style self-speculation): `k` greedy steps of the model
         itself with the layers of `skip-layers` removed (a clone of
         `@decode` whose skipped layers pass the residual stream through);
       - `exit` (early exit, DEL-style): the same with every layer from
         `exit-layer` on removed;
       - `model` (a separate draft model with the target's vocabulary,
         merged into the module as `@draft_prefill` / `@draft_decode`, e.g.
         by `llmc compile --draft-model`): the step takes the draft's own
         cache and the position up to which it is valid
         (`%draft_cache, %draft_pos` after `%seed`, and returns the draft
         cache last); its first draft step catches the draft model up on
         history[draft_pos, pos] with the body of `@draft_prefill`, the
         others are `@draft_decode` steps;
    2. verifies the last token and the draft in one batched call of the
       target model (the body of `@prefill`, causal over the draft; with
       `tree-width` > 1 the ngram drafter proposes a token tree,
       `llm.ngram_tree_draft`, and the verification's rope and attention
       take its parents: each node at its depth, attending its path);
    3. accepts (`llm.spec_accept`): at temperature 0 the longest draft
       prefix that agrees with the target's greedy choices plus the target's
       own next token, so the tokens are exactly greedy decoding's; above 0
       by the speculative sampling rule, so each token is distributed
       exactly as sampling the target;
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
    a cache that cannot be rolled back exactly (paged or `#qmm.format`;
    KIVI and evicting caches get an undo log, `rollback<k + 1>`), and a
    token tree with anything but the ngram drafter and an f32 cache.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::tensor::TensorDialect"];
  let options = [
    Option<"drafter", "drafter", "std::string", /*default=*/"\"ngram\"",
           "ngram, skip, exit or model">,
    Option<"k", "k", "int64_t", /*default=*/"4",
           "Draft tokens per step (at most)">,
    Option<"ngram", "ngram", "int64_t", /*default=*/"3",
           "Longest n-gram the ngram drafter matches">,
    ListOption<"skipLayers", "skip-layers", "int64_t",
               "Layers the skip drafter removes">,
    Option<"exitLayer", "exit-layer", "int64_t", /*default=*/"0",
           "First layer the exit drafter removes (it keeps layers before)">,
    Option<"treeWidth", "tree-width", "int64_t", /*default=*/"1",
           "ngram drafter: up to this many branching continuations, "
           "verified as a token tree (1: one chain)">
  ];
}

#endif // LLMC_TRANSFORMS_SPECULATIVE_PASSES_TD
