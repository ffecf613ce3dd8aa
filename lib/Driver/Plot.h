//===- Plot.h - scatter charts written as PNG files -------------*- C++ -*-===//
//
// Part of llmc. Internal to lib/Driver: `llmc eval --sweep` plots quality
// against size for a grid of compression settings. The chart is rasterized
// and encoded here, with no image library, so the driver needs nothing beyond
// LLVM to produce it.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_LIB_DRIVER_PLOT_H
#define LLMC_LIB_DRIVER_PLOT_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include <cstdint>
#include <string>
#include <vector>

namespace llmc::driver {

/// One marker, with the text drawn next to it (may be empty).
struct PlotPoint {
  double x, y;
  std::string label;
};

/// Points drawn in one color (0xRRGGBB) and named in the legend.
struct PlotSeries {
  std::string name;
  uint32_t rgb;
  std::vector<PlotPoint> points;
};

struct PlotOptions {
  std::string title, xLabel, yLabel;
  /// Logarithmic axes put ticks at powers of 10; points with a non-positive
  /// (or non-finite) coordinate on such an axis are left out.
  bool logX = false, logY = false;
  /// Image size in pixels.
  int width = 960, height = 640;
};

/// Renders a scatter chart (points with their labels, a legend, axes with
/// ticks and numbers, title) and writes it as a PNG file. Returns "" or an
/// error message naming the file.
std::string writeScatterPNG(llvm::StringRef path, const PlotOptions &options,
                            llvm::ArrayRef<PlotSeries> series);

/// Encodes `width` x `height` 8-bit RGB pixels (rows top to bottom, 3 bytes a
/// pixel) as a PNG file image. The zlib stream is deflated when LLVM has
/// zlib and `allowZlib` is set, else it is made of stored blocks.
std::vector<uint8_t> encodePNG(unsigned width, unsigned height,
                               llvm::ArrayRef<uint8_t> rgb,
                               bool allowZlib = true);

} // namespace llmc::driver

#endif // LLMC_LIB_DRIVER_PLOT_H
