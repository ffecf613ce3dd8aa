//===- QMMAttrs.td - qmm attributes ------------------------*- tablegen -*-===//
//
// Part of llmc. Quantization format attribute and its kind enum.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_QMM_ATTRS_TD
#define LLMC_QMM_ATTRS_TD

include "dialects/qmm/QMMDialect.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"

def QMM_FormatKind : I32EnumAttr<"FormatKind", "quantization format family", [
    I32EnumAttrCase<"Q8_0", 0, "q8_0">,
    I32EnumAttrCase<"Q4_0", 1, "q4_0">,
    I32EnumAttrCase<"Q4_K", 2, "q4_k">,
    I32EnumAttrCase<"Q6_K", 3, "q6_k">,
    I32EnumAttrCase<"Int", 4, "int">,
    I32EnumAttrCase<"FP8E4M3", 5, "fp8_e4m3">,
    I32EnumAttrCase<"FP8E5M2", 6, "fp8_e5m2">,
    I32EnumAttrCase<"MXFP4", 7, "mxfp4">
  ]> {
  let cppNamespace = "::llmc::qmm";
  let genSpecializedAttr = 0;
}

def QMM_FormatAttr : AttrDef<QMM_Dialect, "Format"> {
  let mnemonic = "format";
  let summary = "A weight/cache quantization format";
  let description = [{
    Names a storage format and its block geometry. ggml formats have fixed
    blocks (32 elements for Q8_0/Q4_0, 256 for the K-quants); integer formats
    take a bit width (2, 3, 4 or 8), a group size (32, 64 or 128, default 32)
    and `sym`/`asym` (default `sym`); fp8 is element-wise; mxfp4 uses
    32-element blocks with a shared power-of-two scale.

    ```mlir
    #qmm.format<q8_0>
    #qmm.format<q4_k>
    #qmm.format<int4, group = 64, asym>
    #qmm.format<fp8_e4m3>
    #qmm.format<mxfp4>
    ```
  }];
  let parameters = (ins "FormatKind":$kind, "unsigned":$bits,
                        "unsigned":$group, "bool":$symmetric);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let builders = [
    // Builds a format with the canonical geometry of a fixed-block kind.
    AttrBuilder<(ins "FormatKind":$kind), [{
      FormatInfo info = FormatInfo::canonical(kind);
      return $_get($_ctxt, kind, info.bits, info.group, info.symmetric);
    }]>
  ];
  let extraClassDeclaration = [{
    /// The geometry and storage cost of this format.
    ::llmc::qmm::FormatInfo getInfo() const;
    /// Elements covered by one block (the quantization group).
    int64_t getBlockElements() const { return getInfo().blockElements(); }
    /// Bytes one block occupies, scales included.
    int64_t getBlockBytes() const { return getInfo().blockBytes(); }
    /// Average storage bits per element, scales included.
    double getBitsPerElement() const { return getInfo().bitsPerElement(); }
  }];
}

#endif // LLMC_QMM_ATTRS_TD
