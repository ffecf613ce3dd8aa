//===- QMMTypes.td - qmm types -----------------------------*- tablegen -*-===//
//
// Part of llmc. The packed-weight type.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_QMM_TYPES_TD
#define LLMC_QMM_TYPES_TD

include "dialects/qmm/QMMAttrs.td"

def QMM_PackedType : TypeDef<QMM_Dialect, "Packed"> {
  let mnemonic = "packed";
  let summary = "A weight matrix stored in a quantized block format";
  let description = [{
    A `rows x cols` matrix whose rows are split along `cols` (the reduction
    dimension K) into blocks of the format. A ragged K (not a multiple of the
    block size, e.g. 172 with 32-element blocks) is stored with a zero-padded
    last block per row. `tile` is the target layout: the number of rows whose
    blocks are interleaved so a vector kernel streams them together
    (1 = plain row-major blocks).

    ```mlir
    !qmm.packed<64x172, #qmm.format<q8_0>>
    !qmm.packed<4096x4096, #qmm.format<q4_0>, tile = 8>
    ```
  }];
  let parameters = (ins ArrayRefParameter<"int64_t">:$shape,
                        "FormatAttr":$format, "unsigned":$tile);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let builders = [
    TypeBuilderWithInferredContext<(ins "::llvm::ArrayRef<int64_t>":$shape,
                                        "FormatAttr":$format), [{
      return $_get(format.getContext(), shape, format, 1);
    }]>
  ];
  let extraClassDeclaration = [{
    int64_t getRows() const { return getShape()[0]; }
    int64_t getCols() const { return getShape()[1]; }
    /// Blocks per row, counting a zero-padded ragged last block.
    int64_t getBlocksPerRow() const;
    /// Total bytes of the packed matrix.
    int64_t getPackedBytes() const;
  }];
}

#endif // LLMC_QMM_TYPES_TD
