//===- QMMDialect.h - qmm dialect, attributes and types ---------*- C++ -*-===//
//
// Part of llmc.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_DIALECTS_QMM_QMMDIALECT_H
#define LLMC_DIALECTS_QMM_QMMDIALECT_H

#include "dialects/qmm/QMMFormat.h"
#include "mlir/IR/Attributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"

#include "dialects/qmm/QMMDialect.h.inc"

#define GET_ATTRDEF_CLASSES
#include "dialects/qmm/QMMAttrs.h.inc"

#define GET_TYPEDEF_CLASSES
#include "dialects/qmm/QMMTypes.h.inc"

#endif // LLMC_DIALECTS_QMM_QMMDIALECT_H
