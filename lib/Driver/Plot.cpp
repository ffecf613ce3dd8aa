//===- Plot.cpp - scatter charts written as PNG files ---------------------===//
//
// Part of llmc. A small rasterizer (lines, filled circles, a built-in bitmap
// font) and a PNG encoder, enough for the charts of `llmc eval --sweep`.
// Pixels are not anti-aliased: the charts are read, not printed.
//
//===----------------------------------------------------------------------===//

#include "Plot.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/CRC.h"
#include "llvm/Support/Compression.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/raw_ostream.h"
#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdio>

using namespace llmc::driver;

namespace {

//===----------------------------------------------------------------------===//
// Font
//===----------------------------------------------------------------------===//

/// Glyphs for ASCII 32..126, 5 pixels wide: one byte a row, bit 4 the left
/// column. Rows 0-6 stand on the baseline; row 7 holds descenders.
constexpr uint8_t kFont[95][8] = {
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}, // ' '
    {0x04, 0x04, 0x04, 0x04, 0x04, 0x00, 0x04, 0x00}, // !
    {0x0A, 0x0A, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}, // "
    {0x0A, 0x0A, 0x1F, 0x0A, 0x1F, 0x0A, 0x0A, 0x00}, // #
    {0x04, 0x0F, 0x14, 0x0E, 0x05, 0x1E, 0x04, 0x00}, // $
    {0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03, 0x00}, // %
    {0x0C, 0x12, 0x14, 0x08, 0x15, 0x12, 0x0D, 0x00}, // &
    {0x04, 0x04, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00}, // '
    {0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02, 0x00}, // (
    {0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08, 0x00}, // )
    {0x00, 0x04, 0x15, 0x0E, 0x15, 0x04, 0x00, 0x00}, // *
    {0x00, 0x04, 0x04, 0x1F, 0x04, 0x04, 0x00, 0x00}, // +
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x04, 0x08}, // ,
    {0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00, 0x00}, // -
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C, 0x00}, // .
    {0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x00, 0x00}, // /
    {0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E, 0x00}, // 0
    {0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E, 0x00}, // 1
    {0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F, 0x00}, // 2
    {0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E, 0x00}, // 3
    {0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02, 0x00}, // 4
    {0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E, 0x00}, // 5
    {0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E, 0x00}, // 6
    {0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08, 0x00}, // 7
    {0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E, 0x00}, // 8
    {0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C, 0x00}, // 9
    {0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00, 0x00}, // :
    {0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x04, 0x08, 0x00}, // ;
    {0x02, 0x04, 0x08, 0x10, 0x08, 0x04, 0x02, 0x00}, // <
    {0x00, 0x00, 0x1F, 0x00, 0x1F, 0x00, 0x00, 0x00}, // =
    {0x08, 0x04, 0x02, 0x01, 0x02, 0x04, 0x08, 0x00}, // >
    {0x0E, 0x11, 0x01, 0x02, 0x04, 0x00, 0x04, 0x00}, // ?
    {0x0E, 0x11, 0x01, 0x0D, 0x15, 0x15, 0x0E, 0x00}, // @
    {0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11, 0x00}, // A
    {0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E, 0x00}, // B
    {0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E, 0x00}, // C
    {0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C, 0x00}, // D
    {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F, 0x00}, // E
    {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10, 0x00}, // F
    {0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F, 0x00}, // G
    {0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11, 0x00}, // H
    {0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E, 0x00}, // I
    {0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C, 0x00}, // J
    {0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11, 0x00}, // K
    {0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F, 0x00}, // L
    {0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11, 0x00}, // M
    {0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11, 0x00}, // N
    {0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E, 0x00}, // O
    {0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10, 0x00}, // P
    {0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D, 0x00}, // Q
    {0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11, 0x00}, // R
    {0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E, 0x00}, // S
    {0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x00}, // T
    {0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E, 0x00}, // U
    {0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04, 0x00}, // V
    {0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A, 0x00}, // W
    {0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11, 0x00}, // X
    {0x11, 0x11, 0x0A, 0x04, 0x04, 0x04, 0x04, 0x00}, // Y
    {0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F, 0x00}, // Z
    {0x0E, 0x08, 0x08, 0x08, 0x08, 0x08, 0x0E, 0x00}, // [
    {0x00, 0x10, 0x08, 0x04, 0x02, 0x01, 0x00, 0x00}, // backslash
    {0x0E, 0x02, 0x02, 0x02, 0x02, 0x02, 0x0E, 0x00}, // ]
    {0x04, 0x0A, 0x11, 0x00, 0x00, 0x00, 0x00, 0x00}, // ^
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1F, 0x00}, // _
    {0x08, 0x04, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00}, // `
    {0x00, 0x00, 0x0E, 0x01, 0x0F, 0x11, 0x0F, 0x00}, // a
    {0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x1E, 0x00}, // b
    {0x00, 0x00, 0x0E, 0x10, 0x10, 0x11, 0x0E, 0x00}, // c
    {0x01, 0x01, 0x0D, 0x13, 0x11, 0x11, 0x0F, 0x00}, // d
    {0x00, 0x00, 0x0E, 0x11, 0x1F, 0x10, 0x0E, 0x00}, // e
    {0x06, 0x09, 0x08, 0x1C, 0x08, 0x08, 0x08, 0x00}, // f
    {0x00, 0x00, 0x0F, 0x11, 0x11, 0x0F, 0x01, 0x0E}, // g
    {0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x11, 0x00}, // h
    {0x04, 0x00, 0x0C, 0x04, 0x04, 0x04, 0x0E, 0x00}, // i
    {0x02, 0x00, 0x06, 0x02, 0x02, 0x02, 0x12, 0x0C}, // j
    {0x10, 0x10, 0x12, 0x14, 0x18, 0x14, 0x12, 0x00}, // k
    {0x0C, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E, 0x00}, // l
    {0x00, 0x00, 0x1A, 0x15, 0x15, 0x15, 0x15, 0x00}, // m
    {0x00, 0x00, 0x16, 0x19, 0x11, 0x11, 0x11, 0x00}, // n
    {0x00, 0x00, 0x0E, 0x11, 0x11, 0x11, 0x0E, 0x00}, // o
    {0x00, 0x00, 0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10}, // p
    {0x00, 0x00, 0x0F, 0x11, 0x11, 0x0F, 0x01, 0x01}, // q
    {0x00, 0x00, 0x16, 0x19, 0x10, 0x10, 0x10, 0x00}, // r
    {0x00, 0x00, 0x0F, 0x10, 0x0E, 0x01, 0x1E, 0x00}, // s
    {0x08, 0x08, 0x1C, 0x08, 0x08, 0x09, 0x06, 0x00}, // t
    {0x00, 0x00, 0x11, 0x11, 0x11, 0x13, 0x0D, 0x00}, // u
    {0x00, 0x00, 0x11, 0x11, 0x11, 0x0A, 0x04, 0x00}, // v
    {0x00, 0x00, 0x11, 0x11, 0x15, 0x15, 0x0A, 0x00}, // w
    {0x00, 0x00, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x00}, // x
    {0x00, 0x00, 0x11, 0x11, 0x11, 0x0F, 0x01, 0x0E}, // y
    {0x00, 0x00, 0x1F, 0x02, 0x04, 0x08, 0x1F, 0x00}, // z
    {0x02, 0x04, 0x04, 0x08, 0x04, 0x04, 0x02, 0x00}, // {
    {0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x00}, // |
    {0x08, 0x04, 0x04, 0x02, 0x04, 0x04, 0x08, 0x00}, // }
    {0x00, 0x00, 0x08, 0x15, 0x02, 0x00, 0x00, 0x00}, // ~
};
constexpr int kGlyphWidth = 5, kGlyphRows = 8;
/// Horizontal distance between glyphs and height of capitals, at scale 1.
constexpr int kAdvance = kGlyphWidth + 1, kCapHeight = 7;

int textWidth(llvm::StringRef text, int scale) {
  return text.empty() ? 0 : int(text.size()) * kAdvance * scale - scale;
}

//===----------------------------------------------------------------------===//
// Canvas
//===----------------------------------------------------------------------===//

/// A half-open pixel rectangle.
struct Rect {
  int x0, y0, x1, y1;
};

constexpr uint32_t kBlack = 0x000000;
constexpr uint32_t kGridMajor = 0xE0E0E0, kGridMinor = 0xF2F2F2;
constexpr uint32_t kTickText = 0x202020, kPointText = 0x505050;
constexpr uint32_t kLegendFrame = 0xA0A0A0;

/// An RGB image that draws only inside its clip rectangle, so callers can
/// place things near an edge without bounds checks of their own.
class Canvas {
public:
  Canvas(int width, int height)
      : width(width), height(height),
        pixels(size_t(width) * height * 3, 0xFF), clip{0, 0, width, height} {}

  const std::vector<uint8_t> &rgb() const { return pixels; }
  void setClip(Rect r) {
    clip = {std::max(r.x0, 0), std::max(r.y0, 0), std::min(r.x1, width),
            std::min(r.y1, height)};
  }
  void resetClip() { clip = {0, 0, width, height}; }

  void fillRect(int x0, int y0, int x1, int y1, uint32_t color) {
    x0 = std::max(x0, clip.x0), y0 = std::max(y0, clip.y0);
    x1 = std::min(x1, clip.x1), y1 = std::min(y1, clip.y1);
    for (int y = y0; y < y1; ++y)
      for (int x = x0; x < x1; ++x) {
        uint8_t *p = &pixels[(size_t(y) * width + x) * 3];
        p[0] = color >> 16, p[1] = color >> 8, p[2] = color;
      }
  }
  /// Lines with both ends included.
  void hLine(int x0, int x1, int y, uint32_t color) {
    fillRect(std::min(x0, x1), y, std::max(x0, x1) + 1, y + 1, color);
  }
  void vLine(int x, int y0, int y1, uint32_t color) {
    fillRect(x, std::min(y0, y1), x + 1, std::max(y0, y1) + 1, color);
  }
  void frame(Rect r, uint32_t color) {
    hLine(r.x0, r.x1 - 1, r.y0, color);
    hLine(r.x0, r.x1 - 1, r.y1 - 1, color);
    vLine(r.x0, r.y0, r.y1 - 1, color);
    vLine(r.x1 - 1, r.y0, r.y1 - 1, color);
  }
  void fillCircle(int cx, int cy, int radius, uint32_t color) {
    // `+ radius` rounds the outline outwards, which looks rounder at the
    // small radii charts use than the exact test does.
    for (int dy = -radius; dy <= radius; ++dy)
      for (int dx = -radius; dx <= radius; ++dx)
        if (dx * dx + dy * dy <= radius * radius + radius)
          fillRect(cx + dx, cy + dy, cx + dx + 1, cy + dy + 1, color);
  }

  /// Draws `text` left to right with the top of its capitals at `top`.
  void text(int left, int top, llvm::StringRef text, int scale,
            uint32_t color) {
    forEachGlyphPixel(text, [&](int tx, int ty) {
      fillRect(left + tx * scale, top + ty * scale, left + (tx + 1) * scale,
               top + (ty + 1) * scale, color);
    });
  }
  /// Draws `text` turned a quarter counterclockwise, reading upwards from
  /// `bottom`, with the top of its capitals at column `left`.
  void textUp(int left, int bottom, llvm::StringRef text, int scale,
              uint32_t color) {
    forEachGlyphPixel(text, [&](int tx, int ty) {
      fillRect(left + ty * scale, bottom - (tx + 1) * scale + 1,
               left + (ty + 1) * scale, bottom - tx * scale + 1, color);
    });
  }

private:
  /// Calls `fn(column, row)` for each set pixel of `text` at scale 1.
  template <typename Fn>
  static void forEachGlyphPixel(llvm::StringRef text, Fn fn) {
    for (size_t i = 0; i < text.size(); ++i) {
      unsigned char c = text[i];
      const uint8_t *glyph = kFont[(c < 32 || c > 126 ? '?' : c) - 32];
      for (int row = 0; row < kGlyphRows; ++row)
        for (int col = 0; col < kGlyphWidth; ++col)
          if (glyph[row] & (0x10 >> col))
            fn(int(i) * kAdvance + col, row);
    }
  }

  int width, height;
  std::vector<uint8_t> pixels;
  Rect clip;
};

//===----------------------------------------------------------------------===//
// Axes
//===----------------------------------------------------------------------===//

/// `value` with `decimals` digits after the point, trailing zeros dropped.
std::string formatFixed(double value, int decimals) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%.*f", std::clamp(decimals, 0, 12),
                value);
  std::string s = buffer;
  if (s.find('.') != std::string::npos) {
    s.erase(s.find_last_not_of('0') + 1);
    if (s.back() == '.')
      s.pop_back();
  }
  return s == "-0" ? "0" : s;
}

/// Digits after the point that tell apart multiples of `step`.
int decimalsFor(double step) {
  return std::max(0, -int(std::floor(std::log10(step) + 1e-9)));
}

/// A tick number, short enough to sit under a tick: 200k, 1.2M, 0.05, 3e-6.
std::string formatNumber(double value, double step) {
  double magnitude = std::fabs(value);
  if (magnitude < step * 1e-6)
    return "0";
  static const struct {
    double scale;
    const char *suffix;
  } kSuffixes[] = {{1e12, "T"}, {1e9, "G"}, {1e6, "M"}, {1e3, "k"}};
  for (const auto &s : kSuffixes)
    if (magnitude >= s.scale)
      return formatFixed(value / s.scale, decimalsFor(step / s.scale)) +
             s.suffix;
  if (decimalsFor(step) <= 4)
    return formatFixed(value, decimalsFor(step));
  int exponent = int(std::floor(std::log10(magnitude)));
  double mantissa = value / std::pow(10.0, exponent);
  int decimals = exponent - int(std::floor(std::log10(step) + 1e-9));
  return formatFixed(mantissa, std::min(decimals, 6)) + "e" +
         std::to_string(exponent);
}

/// `mantissa` x 10^`exponent` on a log axis: 1e-3, 5e-2, 1, 10, 200k, 1M.
std::string formatPower(int mantissa, int exponent) {
  if (exponent < 0)
    return std::to_string(mantissa) + "e" + std::to_string(exponent);
  double value = mantissa * std::pow(10.0, exponent);
  return formatNumber(value, value);
}

/// 1, 2 or 5 times a power of ten, at least `raw`.
double niceStep(double raw) {
  double power = std::pow(10.0, std::floor(std::log10(raw)));
  double fraction = raw / power;
  return power * (fraction <= 1   ? 1
                  : fraction <= 2 ? 2
                  : fraction <= 5 ? 5
                                  : 10);
}

struct Tick {
  /// In data space.
  double value;
  /// Drawn next to the axis when not empty.
  std::string label;
  /// Major ticks get a tick mark and a darker grid line.
  bool major;
};

/// One axis: its range (in log10 of the data for log axes) and its ticks.
struct Axis {
  bool log = false;
  double lo = 0, hi = 1;
  std::vector<Tick> ticks;

  /// Where `value` falls on the axis, 0 at `lo` and 1 at `hi`.
  double fraction(double value) const {
    double v = log ? std::log10(value) : value;
    return (v - lo) / (hi - lo);
  }
};

/// An axis that shows `values` (all finite, and positive on a log axis)
/// `lengthPx` long, with about one labelled tick each `spacingPx`.
Axis makeAxis(llvm::ArrayRef<double> values, bool log, int lengthPx,
              int spacingPx) {
  Axis axis;
  axis.log = log;
  if (!values.empty()) {
    double lo = INFINITY, hi = -INFINITY;
    for (double v : values) {
      double a = log ? std::log10(v) : v;
      lo = std::min(lo, a), hi = std::max(hi, a);
    }
    // Widen degenerate ranges so the mapping never divides by zero: log
    // axes to at least a decade, so that one power of ten is inside.
    if (log && hi - lo < 1) {
      double mid = (lo + hi) / 2;
      lo = mid - 0.5, hi = mid + 0.5;
    } else if (!log &&
               hi - lo <= 1e-12 * std::max(std::fabs(lo), std::fabs(hi))) {
      double pad = hi == 0 ? 1 : std::fabs(hi) * 0.1;
      lo -= pad, hi += pad;
    }
    // A margin keeps the extreme markers off the frame.
    double margin = (hi - lo) * 0.05;
    axis.lo = lo - margin, axis.hi = hi + margin;
  }

  if (!log) {
    int count = std::max(2, lengthPx / spacingPx);
    double step = niceStep((axis.hi - axis.lo) / count);
    for (double k = std::ceil(axis.lo / step); k * step <= axis.hi; ++k) {
      double v = k * step;
      axis.ticks.push_back({v, formatNumber(v, step), true});
    }
    return axis;
  }

  int firstPower = int(std::ceil(axis.lo)),
      lastPower = int(std::floor(axis.hi));
  // Within a decade or two the powers of ten alone are too few to read
  // values off, so 2x and 5x get numbers too.
  bool labelMinor = lastPower - firstPower < 1;
  bool minorGrid = axis.hi - axis.lo <= 8;
  for (int e = int(std::floor(axis.lo)); e <= lastPower; ++e) {
    if (e >= firstPower)
      axis.ticks.push_back({std::pow(10.0, e), formatPower(1, e), true});
    if (!minorGrid)
      continue;
    for (int m = 2; m <= 9; ++m) {
      double a = e + std::log10(double(m));
      if (a < axis.lo || a > axis.hi)
        continue;
      bool labelled = labelMinor && (m == 2 || m == 5);
      axis.ticks.push_back({m * std::pow(10.0, e),
                            labelled ? formatPower(m, e) : std::string(),
                            labelled});
    }
  }
  return axis;
}

/// Every how many labelled ticks a label is drawn so that neighbours keep
/// `gap` pixels apart; `extent(i)` is the half-size of label i along the axis
/// and `position(i)` its center.
template <typename Extent, typename Position>
size_t labelStride(size_t count, int gap, Extent extent, Position position) {
  for (size_t stride = 1; stride < count; ++stride) {
    bool fits = true;
    for (size_t i = 0; i + stride < count && fits; i += stride)
      fits = std::fabs(position(i + stride) - position(i)) >=
             extent(i) + extent(i + stride) + gap;
    if (fits)
      return stride;
  }
  return std::max<size_t>(count, 1);
}

bool plottable(double v, bool log) {
  return std::isfinite(v) && (!log || v > 0);
}

//===----------------------------------------------------------------------===//
// PNG
//===----------------------------------------------------------------------===//

void appendBigEndian32(std::vector<uint8_t> &out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(uint8_t(v >> shift));
}

void appendChunk(std::vector<uint8_t> &out, const char (&type)[5],
                 llvm::ArrayRef<uint8_t> data) {
  appendBigEndian32(out, uint32_t(data.size()));
  size_t start = out.size();
  out.insert(out.end(), type, type + 4);
  out.insert(out.end(), data.begin(), data.end());
  // The CRC covers the chunk type and data, not the length.
  appendBigEndian32(
      out, llvm::crc32(llvm::ArrayRef<uint8_t>(out).drop_front(start)));
}

uint32_t adler32(llvm::ArrayRef<uint8_t> data) {
  constexpr uint32_t kModulus = 65521;
  uint32_t a = 1, b = 0;
  // 5552 bytes is the most that cannot overflow `b` between reductions.
  for (size_t i = 0; i < data.size(); i += 5552) {
    for (uint8_t byte : data.slice(i, std::min<size_t>(5552, data.size() - i)))
      a += byte, b += a;
    a %= kModulus, b %= kModulus;
  }
  return b << 16 | a;
}

/// A zlib stream of stored (uncompressed) deflate blocks: valid everywhere,
/// for when LLVM was built without zlib.
std::vector<uint8_t> zlibStored(llvm::ArrayRef<uint8_t> data) {
  // CMF 0x78: deflate with a 32K window; FLG 0x01 makes CMF*256+FLG a
  // multiple of 31, as the format requires.
  std::vector<uint8_t> out = {0x78, 0x01};
  size_t offset = 0;
  do {
    size_t length = std::min<size_t>(65535, data.size() - offset);
    bool final = offset + length == data.size();
    out.push_back(final ? 1 : 0); // BFINAL, BTYPE 00 (stored).
    out.push_back(uint8_t(length)), out.push_back(uint8_t(length >> 8));
    out.push_back(uint8_t(~length)), out.push_back(uint8_t(~length >> 8));
    out.insert(out.end(), data.begin() + offset,
               data.begin() + offset + length);
    offset += length;
  } while (offset < data.size());
  appendBigEndian32(out, adler32(data));
  return out;
}

} // namespace

std::vector<uint8_t> llmc::driver::encodePNG(unsigned width, unsigned height,
                                             llvm::ArrayRef<uint8_t> rgb,
                                             bool allowZlib) {
  assert(rgb.size() == size_t(width) * height * 3 && "wrong pixel count");
  // Each scanline starts with its filter type; 0 (none) keeps the encoder
  // trivial, and deflate still finds the runs of white.
  std::vector<uint8_t> raw;
  raw.reserve(size_t(height) * (1 + size_t(width) * 3));
  for (unsigned y = 0; y < height; ++y) {
    raw.push_back(0);
    auto row = rgb.slice(size_t(y) * width * 3, size_t(width) * 3);
    raw.insert(raw.end(), row.begin(), row.end());
  }
  std::vector<uint8_t> idat;
  if (allowZlib && llvm::compression::zlib::isAvailable()) {
    llvm::SmallVector<uint8_t, 0> compressed;
    llvm::compression::zlib::compress(raw, compressed);
    idat.assign(compressed.begin(), compressed.end());
  } else {
    idat = zlibStored(raw);
  }

  std::vector<uint8_t> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  std::vector<uint8_t> header;
  appendBigEndian32(header, width);
  appendBigEndian32(header, height);
  // Bit depth 8, color type 2 (RGB), deflate, adaptive filters, no interlace.
  header.insert(header.end(), {8, 2, 0, 0, 0});
  appendChunk(png, "IHDR", header);
  appendChunk(png, "IDAT", idat);
  appendChunk(png, "IEND", {});
  return png;
}

std::string llmc::driver::writeScatterPNG(llvm::StringRef path,
                                          const PlotOptions &options,
                                          llvm::ArrayRef<PlotSeries> series) {
  const int width = options.width, height = options.height;
  if (width < 160 || height < 120 || width > 16384 || height > 16384)
    return (path + ": image size " + llvm::Twine(width) + "x" +
            llvm::Twine(height) + " is out of range (160x120 to 16384x16384)")
        .str();

  // Layout, outside in: title on top, legend on the right, axis labels and
  // tick numbers left of and below the plot area.
  constexpr int kMargin = 12, kTickLength = 5, kTickGap = 4, kRadius = 4;
  constexpr int kLegendRow = 16;
  int legendWidth = 0;
  for (const PlotSeries &s : series)
    legendWidth = std::max(legendWidth, 28 + textWidth(s.name, 1) + 10);
  legendWidth = std::min(legendWidth, width / 3);

  const int plotTop =
      kMargin + (options.title.empty() ? 6 : 2 * kCapHeight + 16);
  const int plotRight =
      width - kMargin - 10 - (legendWidth ? legendWidth + 12 : 0);
  const int plotBottom = height - kMargin -
                         (options.xLabel.empty() ? 0 : kCapHeight + 10) -
                         (kTickLength + kTickGap + kCapHeight + 2);

  // Coordinates each axis can show; the rest are skipped.
  auto isShown = [&](const PlotPoint &p) {
    return plottable(p.x, options.logX) && plottable(p.y, options.logY);
  };
  std::vector<double> xs, ys;
  for (const PlotSeries &s : series)
    for (const PlotPoint &p : s.points)
      if (isShown(p))
        xs.push_back(p.x), ys.push_back(p.y);

  // The y axis depends only on the height, and its widest number decides
  // where the plot area starts.
  Axis yAxis = makeAxis(ys, options.logY, plotBottom - plotTop, 50);
  int yNumberWidth = 0;
  for (const Tick &t : yAxis.ticks)
    yNumberWidth = std::max(yNumberWidth, textWidth(t.label, 1));
  const int plotLeft = kMargin +
                       (options.yLabel.empty() ? 0 : kCapHeight + 10) +
                       yNumberWidth + kTickGap + kTickLength;
  if (plotRight - plotLeft < 40 || plotBottom - plotTop < 40)
    return (path + ": image size " + llvm::Twine(width) + "x" +
            llvm::Twine(height) + " leaves no room for the plot area")
        .str();
  Axis xAxis = makeAxis(xs, options.logX, plotRight - plotLeft, 90);

  auto toX = [&](double v) {
    return plotLeft +
           int(std::lround(xAxis.fraction(v) * (plotRight - plotLeft)));
  };
  auto toY = [&](double v) {
    return plotBottom -
           int(std::lround(yAxis.fraction(v) * (plotBottom - plotTop)));
  };

  Canvas canvas(width, height);
  const Rect inside = {plotLeft + 1, plotTop + 1, plotRight, plotBottom};
  canvas.setClip(inside);

  // Grid lines, minor under major.
  for (bool major : {false, true}) {
    uint32_t color = major ? kGridMajor : kGridMinor;
    for (const Tick &t : xAxis.ticks)
      if (t.major == major)
        canvas.vLine(toX(t.value), plotTop, plotBottom, color);
    for (const Tick &t : yAxis.ticks)
      if (t.major == major)
        canvas.hLine(plotLeft, plotRight, toY(t.value), color);
  }

  // Markers, then their labels on top so that a marker of a later series
  // never hides a label entirely.
  for (const PlotSeries &s : series)
    for (const PlotPoint &p : s.points)
      if (isShown(p))
        canvas.fillCircle(toX(p.x), toY(p.y), kRadius, s.rgb);
  for (const PlotSeries &s : series)
    for (const PlotPoint &p : s.points) {
      if (!isShown(p) || p.label.empty())
        continue;
      int x = toX(p.x), y = toY(p.y), w = textWidth(p.label, 1);
      // Right of the marker unless that runs past the frame.
      int left = x + kRadius + 3;
      if (left + w >= inside.x1 && x - kRadius - 3 - w >= inside.x0)
        left = x - kRadius - 3 - w;
      canvas.text(left, y - kCapHeight / 2 - 1, p.label, 1, kPointText);
    }
  canvas.resetClip();
  canvas.frame({plotLeft, plotTop, plotRight + 1, plotBottom + 1}, kBlack);

  // Tick marks and numbers. Numbers that would touch are thinned out
  // evenly, which keeps the first one.
  std::vector<const Tick *> xLabelled, yLabelled;
  for (const Tick &t : xAxis.ticks) {
    if (t.major)
      canvas.vLine(toX(t.value), plotBottom + 1, plotBottom + kTickLength,
                   kBlack);
    if (!t.label.empty())
      xLabelled.push_back(&t);
  }
  for (const Tick &t : yAxis.ticks) {
    if (t.major)
      canvas.hLine(plotLeft - kTickLength, plotLeft - 1, toY(t.value), kBlack);
    if (!t.label.empty())
      yLabelled.push_back(&t);
  }
  size_t xStride = labelStride(
      xLabelled.size(), 8,
      [&](size_t i) { return textWidth(xLabelled[i]->label, 1) / 2.0; },
      [&](size_t i) { return double(toX(xLabelled[i]->value)); });
  for (size_t i = 0; i < xLabelled.size(); i += xStride) {
    const std::string &label = xLabelled[i]->label;
    canvas.text(toX(xLabelled[i]->value) - textWidth(label, 1) / 2,
                plotBottom + kTickLength + kTickGap, label, 1, kTickText);
  }
  size_t yStride = labelStride(
      yLabelled.size(), 6, [&](size_t) { return kCapHeight / 2.0; },
      [&](size_t i) { return double(toY(yLabelled[i]->value)); });
  for (size_t i = 0; i < yLabelled.size(); i += yStride) {
    const std::string &label = yLabelled[i]->label;
    canvas.text(plotLeft - kTickLength - kTickGap - textWidth(label, 1),
                toY(yLabelled[i]->value) - kCapHeight / 2, label, 1, kTickText);
  }

  // Axis labels, centered on the plot area, and the title over it.
  if (!options.xLabel.empty())
    canvas.text((plotLeft + plotRight - textWidth(options.xLabel, 1)) / 2,
                height - kMargin - kCapHeight - 2, options.xLabel, 1, kBlack);
  if (!options.yLabel.empty())
    canvas.textUp(kMargin,
                  (plotTop + plotBottom + textWidth(options.yLabel, 1)) / 2,
                  options.yLabel, 1, kBlack);
  if (!options.title.empty())
    canvas.text(
        std::max(kMargin,
                 (plotLeft + plotRight - textWidth(options.title, 2)) / 2),
        kMargin, options.title, 2, kBlack);

  // The legend: one row per series, a marker and its name.
  if (legendWidth) {
    Rect box = {plotRight + 12, plotTop, plotRight + 12 + legendWidth,
                plotTop + 8 + kLegendRow * int(series.size())};
    canvas.frame(box, kLegendFrame);
    canvas.setClip({box.x0 + 1, box.y0 + 1, box.x1 - 1, box.y1 - 1});
    for (size_t i = 0; i < series.size(); ++i) {
      int centerY = box.y0 + 4 + kLegendRow * int(i) + kLegendRow / 2;
      canvas.fillCircle(box.x0 + 12, centerY, kRadius, series[i].rgb);
      canvas.text(box.x0 + 24, centerY - kCapHeight / 2, series[i].name, 1,
                  kBlack);
    }
    canvas.resetClip();
  }

  std::vector<uint8_t> png = encodePNG(width, height, canvas.rgb());
  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec, llvm::sys::fs::OF_None);
  if (ec)
    return (path + ": cannot write: " + ec.message()).str();
  os.write(reinterpret_cast<const char *>(png.data()), png.size());
  os.close();
  if (os.has_error()) {
    std::string message =
        (path + ": cannot write: " + os.error().message()).str();
    os.clear_error();
    return message;
  }
  return "";
}
