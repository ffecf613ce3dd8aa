//===- KVDialect.h - kv dialect, attributes and types -----------*- C++ -*-===//
//
// Part of llmc.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_DIALECTS_KV_KVDIALECT_H
#define LLMC_DIALECTS_KV_KVDIALECT_H

#include "dialects/qmm/QMMDialect.h"
#include "mlir/IR/Attributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"

#include "dialects/kv/KVDialect.h.inc"
#include "dialects/kv/KVEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "dialects/kv/KVAttrs.h.inc"

#define GET_TYPEDEF_CLASSES
#include "dialects/kv/KVTypes.h.inc"

#endif // LLMC_DIALECTS_KV_KVDIALECT_H
