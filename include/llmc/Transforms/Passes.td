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

def PlanKVLayout : Pass<"llmc-plan-kv-layout", "::mlir::ModuleOp"> {
  let summary = "Choose the KV cache layout and capacity for a target";
  let description = [{
    Decides how every `!kv.cache` of the module is laid out and how many
    positions it holds, and rewrites the cache type wherever it occurs
    (function signatures, block arguments, op results):

    - **Layout.** `contiguous` keeps one `[2, L, H, C, D]` array per
      sequence; `paged` stores positions in blocks of `block-size` (a pool
      of blocks plus a block table per sequence, so that sequences forked
      from one prompt share its blocks, copy-on-write). `auto` picks per
      `target`: `cpu` and `fpga` contiguous (one sequence decodes without a
      gather; HLS wants static buffers), `gpu` and `accel` paged (many
      sequences share one pool).
    - **Block size.** 0 takes the target's default: 16 on `cpu` and
      `gpu`, 32 on `fpga`, 64 on `accel` (a DMA burst of the ISA's tiles).
    - **Capacity.** `context=N` holds N positions (rounded up to a
      multiple of the block size when paged); `budget=BYTES` holds the
      most positions whose cache fits BYTES (a multiple of the block size
      when paged), using the storage's bytes per position. With both, the
      context must fit the budget. With neither, the capacity stays (a
      paged cache needs the block size to divide it).

    The CPU lowering pages f32 caches without an eviction policy or undo
    log; other caches stay contiguous there. The decision is recorded on
    the module as `llmc.kv_layout = {target, layout, block, capacity,
    blocks, bytes, bytes_per_position}` (bytes: the whole cache or pool)
    for reports; `report` also prints it as a remark.

    ```
    llmc-opt --llmc-plan-kv-layout='layout=paged block-size=16 budget=1048576' model.mlir
    ```
  }];
  let options = [
    Option<"target", "target", "std::string", /*default=*/"\"cpu\"",
           "Target the cache is planned for: cpu, gpu, fpga or accel">,
    Option<"layout", "layout", "std::string", /*default=*/"\"auto\"",
           "auto, contiguous or paged">,
    Option<"blockSize", "block-size", "int64_t", /*default=*/"0",
           "Positions per block of a paged cache (0: the target's default)">,
    Option<"context", "context", "int64_t", /*default=*/"0",
           "Positions the cache holds (0: keep, or derive from budget)">,
    Option<"budget", "budget", "int64_t", /*default=*/"0",
           "Bytes the cache (or block pool) may take (0: no budget)">,
    Option<"report", "report", "bool", /*default=*/"false",
           "Emit a remark with the decision">
  ];
}

#endif // LLMC_TRANSFORMS_PASSES_TD
