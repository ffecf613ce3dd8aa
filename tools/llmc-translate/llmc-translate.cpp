//===- llmc-translate.cpp - llmc import/export driver ---------------------===//
//
// Part of llmc. Like mlir-translate, with llmc's importers and exporters.
//
//===----------------------------------------------------------------------===//

#include "llmc/InitAll.h"
#include "mlir/Tools/mlir-translate/MlirTranslateMain.h"

int main(int argc, char **argv) {
  llmc::registerAllTranslations();
  return mlir::failed(
             mlir::mlirTranslateMain(argc, argv, "llmc translation driver\n"))
             ? 1
             : 0;
}
