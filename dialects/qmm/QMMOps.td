//===- QMMOps.td - qmm operations --------------------------*- tablegen -*-===//
//
// Part of llmc. Quantize, dequantize, matmul and repack.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_QMM_OPS_TD
#define LLMC_QMM_OPS_TD

include "dialects/qmm/QMMTypes.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

class QMM_Op<string mnemonic, list<Trait> traits = []>
    : Op<QMM_Dialect, mnemonic, traits # [Pure]>;

def QMM_FloatTensor : RankedTensorOf<[F32, F16, BF16]>;

def QMM_QuantizeOp : QMM_Op<"quantize"> {
  let summary = "Quantize a float matrix into a packed format (round to nearest)";
  let description = [{
    Packs a statically shaped float matrix into the format of the result type
    by round-to-nearest with per-block scales.

    ```mlir
    %p = qmm.quantize %w : tensor<64x172xf32> -> !qmm.packed<64x172, #qmm.format<q8_0>>
    ```
  }];
  let arguments = (ins QMM_FloatTensor:$input);
  let results = (outs QMM_PackedType:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` qualified(type($result))";
  let hasVerifier = 1;
}

def QMM_DequantizeOp : QMM_Op<"dequantize"> {
  let summary = "Expand a packed matrix back to floats";
  let description = [{
    ```mlir
    %w = qmm.dequantize %p : !qmm.packed<64x172, #qmm.format<q8_0>> -> tensor<64x172xf32>
    ```
  }];
  let arguments = (ins QMM_PackedType:$input);
  let results = (outs QMM_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` qualified(type($input)) `->` type($result)";
  let hasVerifier = 1;
  let hasFolder = 1;
}

def QMM_MatmulOp : QMM_Op<"matmul"> {
  let summary = "Float activations times a packed weight matrix (x * W^T)";
  let description = [{
    Computes `result[m, n] = sum_k x[m, k] * W[n, k]` where `W` is stored
    packed; K may be ragged. Activations and result are float tensors.

    ```mlir
    %y = qmm.matmul %x, %w : tensor<?x172xf32>, !qmm.packed<64x172, #qmm.format<q8_0>> -> tensor<?x64xf32>
    ```
  }];
  let arguments = (ins QMM_FloatTensor:$lhs, QMM_PackedType:$rhs);
  let results = (outs QMM_FloatTensor:$result);
  let assemblyFormat = [{
    $lhs `,` $rhs attr-dict `:` type($lhs) `,` qualified(type($rhs)) `->` type($result)
  }];
  let hasVerifier = 1;
}

def QMM_RepackOp : QMM_Op<"repack"> {
  let summary = "Change the target layout (row tiling) of a packed matrix";
  let description = [{
    Values are unchanged; only the interleaving of blocks changes, so that a
    target kernel streams `tile` rows at once.

    ```mlir
    %t = qmm.repack %p : !qmm.packed<64x172, #qmm.format<q4_0>> -> !qmm.packed<64x172, #qmm.format<q4_0>, tile = 8>
    ```
  }];
  let arguments = (ins QMM_PackedType:$input);
  let results = (outs QMM_PackedType:$result);
  let assemblyFormat = "$input attr-dict `:` qualified(type($input)) `->` qualified(type($result))";
  let hasVerifier = 1;
  let hasFolder = 1;
}

#endif // LLMC_QMM_OPS_TD
