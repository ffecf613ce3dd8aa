//===- LLMDialect.h - llm dialect -------------------------------*- C++ -*-===//
//
// Part of llmc.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_DIALECTS_LLM_LLMDIALECT_H
#define LLMC_DIALECTS_LLM_LLMDIALECT_H

#include "dialects/kv/KVDialect.h"
#include "dialects/qmm/QMMDialect.h"
#include "mlir/IR/Dialect.h"

#include "dialects/llm/LLMDialect.h.inc"

#endif // LLMC_DIALECTS_LLM_LLMDIALECT_H
