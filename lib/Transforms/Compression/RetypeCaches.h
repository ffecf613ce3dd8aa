//===- RetypeCaches.h - replace every KV cache type of a module -*- C++ -*-===//
//
// Part of llmc. The KV passes change what a cache is (its storage, its
// policy and capacity) by changing its type wherever it occurs: function
// signatures, block arguments, op results.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_LIB_TRANSFORMS_COMPRESSION_RETYPECACHES_H
#define LLMC_LIB_TRANSFORMS_COMPRESSION_RETYPECACHES_H

#include "dialects/kv/KVOps.h"
#include "mlir/IR/BuiltinOps.h"

namespace llmc {

/// Gives every `!kv.cache` type T of `module` the type `retype(T, loc)`,
/// called once per distinct type with the location of its first
/// occurrence. `retype` returns null after emitting an error, which fails
/// the whole rewrite (nothing is changed then).
mlir::LogicalResult retypeCaches(
    mlir::ModuleOp module,
    llvm::function_ref<kv::CacheType(kv::CacheType, mlir::Location)> retype);

} // namespace llmc

#endif // LLMC_LIB_TRANSFORMS_COMPRESSION_RETYPECACHES_H
