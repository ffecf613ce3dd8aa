//===- QMMOps.h - qmm operations --------------------------------*- C++ -*-===//
//
// Part of llmc.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_DIALECTS_QMM_QMMOPS_H
#define LLMC_DIALECTS_QMM_QMMOPS_H

#include "dialects/qmm/QMMDialect.h"
#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#define GET_OP_CLASSES
#include "dialects/qmm/QMMOps.h.inc"

#endif // LLMC_DIALECTS_QMM_QMMOPS_H
