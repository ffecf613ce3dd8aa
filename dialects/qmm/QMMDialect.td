//===- QMMDialect.td - qmm dialect definition --------------*- tablegen -*-===//
//
// Part of llmc. The qmm dialect: quantized weight formats and matmuls.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_QMM_DIALECT_TD
#define LLMC_QMM_DIALECT_TD

include "mlir/IR/OpBase.td"

def QMM_Dialect : Dialect {
  let name = "qmm";
  let cppNamespace = "::llmc::qmm";
  let summary = "Quantized weight formats, packed weights and quantized matmuls";
  let description = [{
    The `qmm` dialect describes how weights (and KV-cache entries) are stored
    in a compressed form: ggml block formats (Q8_0, Q4_0, Q4_K, Q6_K),
    integer group-wise formats (2/3/4/8-bit, group 32/64/128, symmetric or
    asymmetric), fp8 (e4m3/e5m2) and mxfp4. A `!qmm.packed` value is a weight
    matrix stored in one of those formats; `qmm.matmul` multiplies float
    activations by it without dequantizing the whole matrix.

    ```mlir
    %p = qmm.quantize %w : tensor<64x172xf32> -> !qmm.packed<64x172, #qmm.format<q8_0>>
    %y = qmm.matmul %x, %p : tensor<?x172xf32>, !qmm.packed<64x172, #qmm.format<q8_0>> -> tensor<?x64xf32>
    ```
  }];
  let useDefaultAttributePrinterParser = 1;
  let useDefaultTypePrinterParser = 1;
}

#endif // LLMC_QMM_DIALECT_TD
