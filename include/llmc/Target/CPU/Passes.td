//===- Passes.td - CPU target passes -----------------------*- tablegen -*-===//
//
// Part of llmc.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_TARGET_CPU_PASSES_TD
#define LLMC_TARGET_CPU_PASSES_TD

include "mlir/Pass/PassBase.td"

def CPUStepABI : Pass<"llmc-cpu-step-abi", "::mlir::ModuleOp"> {
  let summary = "Give step functions a fixed memref calling convention";
  let description = [{
    Rewrites every public function with a body so that the runtime can call
    it through its C interface (`_mlir_ciface_NAME`) with buffers it owns:

    - tensor arguments become memrefs of the same shape, read through
      `bufferization.to_tensor restrict` (the cache argument `writable`);
    - a result marked `llmc.cache_result` is written back into the cache
      argument of the same type; every other result gets a trailing
      out-parameter memref; both through
      `bufferization.materialize_in_destination`;
    - the function returns nothing and carries `llvm.emit_c_interface`.

    After lowering, `@decode(ids, cache, pos, weights) -> (logits, cache)`
    is called as `_mlir_ciface_decode(ids*, cache*, pos, weights*, logits*)`.
  }];
  let dependentDialects = ["::mlir::bufferization::BufferizationDialect",
                           "::mlir::memref::MemRefDialect"];
}

#endif // LLMC_TARGET_CPU_PASSES_TD
