//===- PlotTest.cpp - PNG scatter charts ----------------------------------===//
//
// Part of llmc. Reads the charts of lib/Driver/Plot.cpp back with a decoder
// of its own (CRC, zlib stored blocks) so the encoder is not checked against
// itself, then looks at the pixels.
//
// Set LLMC_PLOT_EXAMPLE=<file.png> to keep a sample chart for a human to look
// at.
//
//===----------------------------------------------------------------------===//

#include "lib/Driver/Plot.h"
#include "llvm/Support/Compression.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"
#include "gtest/gtest.h"
#include <algorithm>
#include <cmath>
#include <cstdlib>

using namespace llmc::driver;

namespace {

/// A temporary .png path, removed at the end of the test.
struct TempPNG {
  llvm::SmallString<128> path;
  TempPNG() {
    int fd;
    EXPECT_FALSE(
        llvm::sys::fs::createTemporaryFile("llmc-plot-test", "png", fd, path));
    llvm::sys::Process::SafelyCloseFileDescriptor(fd);
  }
  ~TempPNG() { llvm::sys::fs::remove(path); }
};

std::vector<uint8_t> readBytes(llvm::StringRef path) {
  auto buffer = llvm::MemoryBuffer::getFile(path);
  if (!buffer)
    return {};
  llvm::StringRef data = (*buffer)->getBuffer();
  return std::vector<uint8_t>(data.begin(), data.end());
}

/// Bitwise CRC-32 (the PNG polynomial), independent of the encoder's.
uint32_t referenceCRC(llvm::ArrayRef<uint8_t> data) {
  uint32_t crc = 0xFFFFFFFF;
  for (uint8_t byte : data) {
    crc ^= byte;
    for (int bit = 0; bit < 8; ++bit)
      crc = crc & 1 ? (crc >> 1) ^ 0xEDB88320 : crc >> 1;
  }
  return ~crc;
}

uint32_t referenceAdler(llvm::ArrayRef<uint8_t> data) {
  uint64_t a = 1, b = 0;
  for (uint8_t byte : data)
    a = (a + byte) % 65521, b = (b + a) % 65521;
  return uint32_t(b << 16 | a);
}

uint32_t bigEndian32(const uint8_t *p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 |
         p[3];
}

/// A PNG taken apart; `error` says why it is invalid.
struct DecodedPNG {
  std::string error;
  uint32_t width = 0, height = 0;
  std::vector<std::string> chunkTypes;
  std::vector<uint8_t> zlib;
  /// The decompressed scanlines, filter byte first.
  std::vector<uint8_t> raw;

  uint32_t pixel(uint32_t x, uint32_t y) const {
    const uint8_t *p = &raw[size_t(y) * (1 + width * 3) + 1 + x * 3];
    return uint32_t(p[0]) << 16 | uint32_t(p[1]) << 8 | p[2];
  }
  size_t count(uint32_t rgb) const {
    size_t n = 0;
    for (uint32_t y = 0; y < height; ++y)
      for (uint32_t x = 0; x < width; ++x)
        n += pixel(x, y) == rgb;
    return n;
  }
};

/// Inflates a zlib stream made of stored blocks only.
std::string inflateStored(llvm::ArrayRef<uint8_t> zlib,
                          std::vector<uint8_t> &out) {
  if (zlib.size() < 6 || (zlib[0] & 0x0F) != 8 ||
      (zlib[0] * 256 + zlib[1]) % 31 != 0)
    return "bad zlib header";
  size_t pos = 2;
  for (bool final = false; !final;) {
    if (pos + 5 > zlib.size())
      return "truncated block header";
    final = zlib[pos] & 1;
    if ((zlib[pos] >> 1) != 0)
      return "not a stored block";
    uint16_t length = zlib[pos + 1] | zlib[pos + 2] << 8;
    uint16_t inverted = zlib[pos + 3] | zlib[pos + 4] << 8;
    if (uint16_t(~length) != inverted)
      return "LEN and NLEN disagree";
    pos += 5;
    if (pos + length > zlib.size())
      return "truncated block";
    out.insert(out.end(), zlib.begin() + pos, zlib.begin() + pos + length);
    pos += length;
  }
  if (pos + 4 != zlib.size())
    return "bad stream end";
  if (bigEndian32(&zlib[pos]) != referenceAdler(out))
    return "bad Adler-32";
  return "";
}

DecodedPNG decode(llvm::ArrayRef<uint8_t> file) {
  DecodedPNG png;
  static const uint8_t kSignature[] = {0x89, 'P',  'N',  'G',
                                       '\r', '\n', 0x1A, '\n'};
  if (file.size() < 8 ||
      !std::equal(kSignature, kSignature + 8, file.begin())) {
    png.error = "no PNG signature";
    return png;
  }
  for (size_t pos = 8; pos < file.size();) {
    if (pos + 12 > file.size()) {
      png.error = "truncated chunk";
      return png;
    }
    uint32_t length = bigEndian32(&file[pos]);
    if (pos + 12 + length > file.size()) {
      png.error = "chunk runs past the end";
      return png;
    }
    auto typeAndData = file.slice(pos + 4, 4 + length);
    std::string type(typeAndData.begin(), typeAndData.begin() + 4);
    if (bigEndian32(&file[pos + 8 + length]) != referenceCRC(typeAndData)) {
      png.error = "bad CRC in " + type;
      return png;
    }
    png.chunkTypes.push_back(type);
    auto data = typeAndData.drop_front(4);
    if (type == "IHDR") {
      if (length != 13 || data[8] != 8 || data[9] != 2 || data[12] != 0) {
        png.error = "not an 8-bit RGB non-interlaced IHDR";
        return png;
      }
      png.width = bigEndian32(&data[0]), png.height = bigEndian32(&data[4]);
    } else if (type == "IDAT") {
      png.zlib.insert(png.zlib.end(), data.begin(), data.end());
    }
    pos += 12 + length;
  }
  if (png.chunkTypes.empty() || png.chunkTypes.front() != "IHDR" ||
      png.chunkTypes.back() != "IEND") {
    png.error = "IHDR must come first and IEND last";
    return png;
  }

  size_t expected = size_t(png.height) * (1 + size_t(png.width) * 3);
  // Deflated streams need a real inflater; stored ones are read here.
  bool stored = png.zlib.size() > 2 && (png.zlib[2] >> 1 & 3) == 0;
  if (stored) {
    png.error = inflateStored(png.zlib, png.raw);
  } else if (llvm::compression::zlib::isAvailable()) {
    llvm::SmallVector<uint8_t, 0> out;
    if (llvm::Error e =
            llvm::compression::zlib::decompress(png.zlib, out, expected))
      png.error = llvm::toString(std::move(e));
    png.raw.assign(out.begin(), out.end());
  } else {
    png.error = "deflated IDAT without zlib";
  }
  if (png.error.empty() && png.raw.size() != expected)
    png.error = "wrong scanline data size";
  return png;
}

DecodedPNG writeAndDecode(const PlotOptions &options,
                          llvm::ArrayRef<PlotSeries> series) {
  TempPNG file;
  std::string error = writeScatterPNG(file.path, options, series);
  if (!error.empty()) {
    DecodedPNG png;
    png.error = error;
    return png;
  }
  return decode(readBytes(file.path));
}

/// Sizes and quality of a compression sweep, as `llmc eval --sweep` plots.
std::vector<PlotSeries> sweepSeries() {
  return {
      {"q8_0",
       0xFF0000,
       {{1.2e6, 0.0008, "q8 kv=f16"}, {1.0e6, 0.0015, "q8 kv=q8"}}},
      {"q4_0",
       0x0000FF,
       {{6.5e5, 0.02, "q4 kv=f16"},
        {5.2e5, 0.035, "q4 kv=q8"},
        {4.1e5, 0.11, "q4 kv=q4"}}},
      {"f16", 0x00A000, {{2.3e6, 0.0, "baseline"}}},
  };
}

TEST(PlotTest, WritesValidPNG) {
  PlotOptions options;
  options.title = "KL divergence vs bytes";
  options.xLabel = "bytes";
  options.yLabel = "KL divergence (nats)";
  options.width = 800, options.height = 500;
  DecodedPNG png = writeAndDecode(options, sweepSeries());
  ASSERT_EQ(png.error, "");
  EXPECT_EQ(png.width, 800u);
  EXPECT_EQ(png.height, 500u);
  for (uint32_t y = 0; y < png.height; ++y)
    ASSERT_EQ(png.raw[size_t(y) * (1 + png.width * 3)], 0) << "row " << y;
  size_t total = size_t(png.width) * png.height;
  EXPECT_GT(png.count(0xFFFFFF), total * 7 / 10);
  EXPECT_GT(png.count(0xFF0000), 20u);
  EXPECT_GT(png.count(0x0000FF), 20u);
  EXPECT_GT(png.count(0x00A000), 20u);
  EXPECT_GT(png.count(0x000000), 100u); // Frame, ticks and text.
  // Nothing but white in the corners, outside title, legend and labels.
  EXPECT_EQ(png.pixel(0, 0), 0xFFFFFFu);
  EXPECT_EQ(png.pixel(799, 499), 0xFFFFFFu);

  if (const char *example = std::getenv("LLMC_PLOT_EXAMPLE")) {
    options.logX = options.logY = true;
    options.width = 960, options.height = 640;
    options.title = "KL divergence vs model bytes (log-log)";
    EXPECT_EQ(writeScatterPNG(example, options, sweepSeries()), "");
  }
}

TEST(PlotTest, LogAxesSkipNonPositivePoints) {
  PlotOptions options;
  options.logX = options.logY = true;
  options.width = 400, options.height = 300;
  std::vector<PlotSeries> series = sweepSeries();
  DecodedPNG png = writeAndDecode(options, series);
  ASSERT_EQ(png.error, "");
  EXPECT_GT(png.count(0xFF0000), 20u);

  // The f16 point has KLD 0: it is not drawn, so the chart is the one with
  // that series empty, and the green left is the legend marker alone.
  std::vector<PlotSeries> withoutPoint = series;
  withoutPoint[2].points.clear();
  DecodedPNG reference = writeAndDecode(options, withoutPoint);
  ASSERT_EQ(reference.error, "");
  EXPECT_EQ(png.raw, reference.raw);

  // Nothing plottable at all (zero, negative, NaN, infinity) still makes an
  // empty chart with axes.
  options.logX = false;
  DecodedPNG empty = writeAndDecode(options, {{"bad",
                                               0xFF0000,
                                               {{1, 0, "zero"},
                                                {2, -1, "negative"},
                                                {NAN, 1, "nan"},
                                                {INFINITY, 1, "inf"}}}});
  ASSERT_EQ(empty.error, "");
  EXPECT_GT(empty.count(0x000000), 100u);
}

TEST(PlotTest, DegenerateRanges) {
  PlotOptions options;
  options.width = 320, options.height = 240;
  for (bool log : {false, true}) {
    options.logX = options.logY = log;
    // One point, equal values, no points, no series.
    for (const std::vector<PlotSeries> &series :
         std::vector<std::vector<PlotSeries>>{
             {{"one", 0xFF0000, {{5, 0.5, "only"}}}},
             {{"same", 0xFF0000, {{5, 0.5, "a"}, {5, 0.5, "b"}}}},
             {{"empty", 0xFF0000, {}}},
             {}}) {
      DecodedPNG png = writeAndDecode(options, series);
      ASSERT_EQ(png.error, "") << "log " << log;
      EXPECT_EQ(png.width, 320u);
      if (!series.empty() && !series[0].points.empty())
        EXPECT_GT(png.count(0xFF0000), 20u) << "log " << log;
    }
  }
}

TEST(PlotTest, StoredBlocks) {
  // Big enough for several 65535-byte blocks.
  const unsigned width = 200, height = 150;
  std::vector<uint8_t> rgb(size_t(width) * height * 3);
  for (size_t i = 0; i < rgb.size(); ++i)
    rgb[i] = uint8_t(i * 7);
  DecodedPNG png = decode(encodePNG(width, height, rgb, /*allowZlib=*/false));
  ASSERT_EQ(png.error, "");
  EXPECT_EQ(png.width, width);
  EXPECT_EQ(png.height, height);
  for (unsigned y = 0; y < height; ++y)
    for (unsigned x = 0; x < width; ++x) {
      const uint8_t *p = &rgb[(size_t(y) * width + x) * 3];
      ASSERT_EQ(png.pixel(x, y), uint32_t(p[0]) << 16 | p[1] << 8 | p[2]);
    }
}

TEST(PlotTest, UnwritablePath) {
  std::string error =
      writeScatterPNG("/nonexistent-dir/x.png", PlotOptions(), sweepSeries());
  EXPECT_NE(error.find("/nonexistent-dir/x.png: cannot write: "),
            std::string::npos)
      << error;
}

TEST(PlotTest, RejectsTinyImages) {
  PlotOptions options;
  options.width = 10, options.height = 10;
  std::string error = writeScatterPNG("/tmp/unused.png", options, {});
  EXPECT_NE(error.find("/tmp/unused.png: image size 10x10"), std::string::npos)
      << error;
}

} // namespace
