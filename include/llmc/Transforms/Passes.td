//===- Passes.td - llmc model-level passes -----------------*- tablegen -*-===//
//
// Part of llmc. Passes over whole llm-dialect models.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_TRANSFORMS_PASSES_TD
#define LLMC_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def VerifyModel : Pass<"llmc-verify-model", "::mlir::ModuleOp"> {
  let summary = "Check a whole decoder graph and refine its tensor shapes";
  let description = [{
    Checks what op verifiers cannot see one op at a time:

    - **Cache threading.** Every `!kv.cache` value is updated (appended,
      attended, evicted, rolled back, quantized, passed on) at most once, and
      read (`kv.view`, `kv.length`, `kv.fork`) only before that update.
      Anything else would need a copy of the whole cache.
    - **Layer coverage.** Along each cache chain, `llm.attention` visits
      layers in increasing order, each once, and a step that attends any
      layer attends all of them.
    - **Consistent configuration.** All attention ops agree on heads, KV
      heads and head_dim; all rope ops agree with each other and with
      attention's head_dim.

    With `refine-shapes` (default on) it then replaces dynamic result
    dimensions by the static ones implied by operand shapes (e.g. the width
    of a projection from its weight), inserting `tensor.cast` back to the
    original type where a use needs it. With `summary` it reports the model
    configuration as a remark.

    ```
    llmc-opt --llmc-verify-model='summary=true' model.mlir
    ```
  }];
  let options = [
    Option<"refineShapes", "refine-shapes", "bool", /*default=*/"true",
           "Replace dynamic result dimensions by statically implied ones">,
    Option<"summary", "summary", "bool", /*default=*/"false",
           "Emit a remark describing the model configuration">
  ];
  let dependentDialects = ["::mlir::tensor::TensorDialect"];
}

#endif // LLMC_TRANSFORMS_PASSES_TD
