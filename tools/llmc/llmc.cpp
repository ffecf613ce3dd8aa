//===- llmc.cpp - the llmc user driver ------------------------------------===//
//
// Part of llmc. `llmc SUBCOMMAND ...`; everything lives in lib/Driver.
//
//===----------------------------------------------------------------------===//

#include "llmc/Driver/Driver.h"

int main(int argc, char **argv) { return llmc::driver::main(argc, argv); }
