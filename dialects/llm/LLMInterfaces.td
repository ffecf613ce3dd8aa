//===- LLMInterfaces.td - llm op interfaces ----------------*- tablegen -*-===//
//
// Part of llmc.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_LLM_INTERFACES_TD
#define LLMC_LLM_INTERFACES_TD

include "mlir/IR/OpBase.td"

def LLM_ShapeRefinementOpInterface : OpInterface<"ShapeRefinementOpInterface"> {
  let cppNamespace = "::llmc::llm";
  let description = [{
    Ops whose result shapes follow from their operand shapes. The
    `llmc-verify-model` pass uses it to replace dynamic result dimensions by
    the static ones the operands imply.
  }];
  let methods = [
    InterfaceMethod<[{
        Returns the result types implied by the current operand types, at
        least as static as the current result types.
      }],
      "::llvm::SmallVector<::mlir::Type>", "inferRefinedResultTypes">
  ];
}

#endif // LLMC_LLM_INTERFACES_TD
