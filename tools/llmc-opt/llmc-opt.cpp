//===- llmc-opt.cpp - llmc optimizer driver -------------------------------===//
//
// Part of llmc. Like mlir-opt, with llmc's dialects, passes and pipelines.
//
//===----------------------------------------------------------------------===//

#include "llmc/InitAll.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  llmc::registerAllDialects(registry);
  llmc::registerAllPasses();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "llmc optimizer driver\n", registry));
}
