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
           "Permute MLP channels so outliers share quantization blocks">
  ];
}

#endif // LLMC_TRANSFORMS_COMPRESSION_PASSES_TD
