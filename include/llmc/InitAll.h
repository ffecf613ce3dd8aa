//===- InitAll.h - central registration of llmc -----------------*- C++ -*-===//
//
// Part of llmc. Every tool and the Python module register through here, so
// they all see the same dialects, passes, pipelines and translations.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_INITALL_H
#define LLMC_INITALL_H

namespace mlir {
class DialectRegistry;
} // namespace mlir

namespace llmc {

/// Our dialects plus the upstream dialects the pipelines lower through.
void registerAllDialects(mlir::DialectRegistry &registry);

/// Our passes and pipelines plus the upstream passes the pipelines use.
void registerAllPasses();

/// Import/export translations for llmc-translate.
void registerAllTranslations();

} // namespace llmc

#endif // LLMC_INITALL_H
