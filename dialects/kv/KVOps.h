//===- KVOps.h - kv operations ----------------------------------*- C++ -*-===//
//
// Part of llmc.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_DIALECTS_KV_KVOPS_H
#define LLMC_DIALECTS_KV_KVOPS_H

#include "dialects/kv/KVDialect.h"
#include "llmc/Runtime/KVLayout.h"
#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#define GET_OP_CLASSES
#include "dialects/kv/KVOps.h.inc"

namespace llmc::kv {
/// The byte layout of a cache with KIVI storage, or nullopt for any other.
std::optional<runtime::KiviLayout> kiviLayout(CacheType cache);
/// The byte layout of an f32 cache with an eviction policy, or nullopt.
std::optional<runtime::EvictLayout> evictLayout(CacheType cache);
/// The byte layout of a KIVI cache with an eviction policy, or nullopt.
std::optional<runtime::KiviEvictLayout> kiviEvictLayout(CacheType cache);
/// The bytes of a cache that lowers to a byte buffer (KIVI, eviction or
/// both; contiguous), or nullopt for one that lowers to a float tensor.
std::optional<int64_t> byteCacheSize(CacheType cache);
/// Gives every value, block argument and function signature of type `from`
/// under `root` the type `to` (e.g. the same cache with an undo log).
void replaceCacheType(mlir::Operation *root, CacheType from, CacheType to);
} // namespace llmc::kv

#endif // LLMC_DIALECTS_KV_KVOPS_H
