//===- QMMFormat.h - quantization format arithmetic -------------*- C++ -*-===//
//
// Part of llmc. Block geometry and storage cost of every qmm format, usable
// without an MLIRContext (importers, runtime, memory planner, unit tests).
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_DIALECTS_QMM_QMMFORMAT_H
#define LLMC_DIALECTS_QMM_QMMFORMAT_H

#include "mlir/Support/LLVM.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/raw_ostream.h"
#include <cstdint>
#include <optional>
#include <string>

#include "dialects/qmm/QMMEnums.h.inc"

namespace llmc::qmm {

/// A format's geometry: `bits` per stored element, `group` elements sharing a
/// scale, `symmetric` (no zero point). Fixed-block kinds ignore the inputs
/// and use their canonical values (see `canonical`).
struct FormatInfo {
  FormatKind kind = FormatKind::Q8_0;
  unsigned bits = 8;
  unsigned group = 32;
  bool symmetric = true;

  /// The canonical geometry of `kind`; for `Int`, the given bits/group/sym.
  static FormatInfo canonical(FormatKind kind, unsigned bits = 4,
                              unsigned group = 32, bool symmetric = true);

  /// Checks the parameters; returns an error message or std::nullopt.
  std::optional<std::string> validate() const;

  /// Elements per block.
  int64_t blockElements() const;
  /// Bytes per block, scales and zero points included.
  int64_t blockBytes() const;
  /// Average bits per element, scales included.
  double bitsPerElement() const {
    return 8.0 * double(blockBytes()) / double(blockElements());
  }
  /// Blocks needed for `n` elements (a ragged last block is zero padded).
  int64_t blocksFor(int64_t n) const {
    return (n + blockElements() - 1) / blockElements();
  }
  /// Bytes of a `rows x cols` matrix blocked along `cols`.
  int64_t matrixBytes(int64_t rows, int64_t cols) const {
    return rows * blocksFor(cols) * blockBytes();
  }
  /// The keyword used in IR: q8_0, int4, fp8_e4m3, ...
  std::string keyword() const;
};

/// Parses a format keyword (q8_0, q4_0, q4_k, q6_k, int2/3/4/8, fp8_e4m3,
/// fp8_e5m2, mxfp4) into a canonical FormatInfo (int: group 32, sym).
std::optional<FormatInfo> parseFormatKeyword(llvm::StringRef keyword);

/// A format as written on command lines and in pass options:
/// `KEYWORD[-gGROUP][-sym|-asym]`, e.g. `q4_0`, `int4`, `int4-g64-asym`,
/// `fp8_e4m3`, `mxfp4`. On failure returns nullopt and sets `error`.
std::optional<FormatInfo> parseFormatSpec(llvm::StringRef spec,
                                          std::string &error);

/// The inverse of parseFormatSpec (canonical spelling).
std::string formatSpec(const FormatInfo &info);

} // namespace llmc::qmm

#endif // LLMC_DIALECTS_QMM_QMMFORMAT_H
