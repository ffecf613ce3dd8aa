//===- GGUFWriterTest.cpp - the streaming GGUF writer ---------------------===//
//
// Part of llmc. What gguf::Writer writes, the reader reads back: every
// metadata type, arrays, copied values, tensors streamed in chunks that span
// tensors; and the writer's errors leave no file behind. Also the quantizers
// of SyntheticLlama against hand-computed blocks.
//
//===----------------------------------------------------------------------===//

#include "llmc/Import/GGUFWriter.h"
#include "llmc/Import/GGUF.h"
#include "llmc/Import/SyntheticLlama.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "gtest/gtest.h"
#include <cmath>
#include <cstring>

using namespace llmc;
using namespace llmc::gguf;

namespace {

/// A fresh temporary directory, removed with its files afterwards.
struct TempDir {
  llvm::SmallString<128> path;
  TempDir() {
    EXPECT_FALSE(llvm::sys::fs::createUniqueDirectory("gguf", path));
  }
  ~TempDir() { llvm::sys::fs::remove_directories(path); }
  std::string file(llvm::StringRef name) const {
    llvm::SmallString<128> p(path);
    llvm::sys::path::append(p, name);
    return std::string(p);
  }
  size_t count() const {
    std::error_code ec;
    size_t n = 0;
    for (llvm::sys::fs::directory_iterator it(path, ec), end; it != end && !ec;
         it.increment(ec))
      ++n;
    return n;
  }
};

TEST(GGUFWriterTest, RoundTripsMetadataAndTensors) {
  TempDir dir;
  Writer w;
  w.addString("general.architecture", "llama");
  w.addUInt8("u8", 200);
  w.addInt8("i8", -5);
  w.addUInt16("u16", 60000);
  w.addInt16("i16", -300);
  w.addUInt32("u32", 4000000000u);
  w.addInt32("i32", -7);
  w.addUInt64("u64", uint64_t(1) << 40);
  w.addInt64("i64", -(int64_t(1) << 40));
  w.addFloat32("f32", 1e-5f);
  w.addFloat64("f64", 0.1);
  w.addBool("flag", true);
  w.addStringArray("strings", {"a", "", "\xE2\x96\x81x"});
  w.addIntArray("ints", ValueType::Int32, {1, -2, 3});
  w.addIntArray("bytes", ValueType::UInt8, {0, 255});
  w.addFloatArray("reals", ValueType::Float32, {0.5, -1.25});
  w.addUInt32("u32", 7); // replaces in place, keeps the position
  ASSERT_FALSE(bool(w.addTensor("a", {3, 2}, GGMLType::F32)));
  ASSERT_FALSE(bool(w.addTensor("b", {64}, GGMLType::Q8_0)));
  ASSERT_FALSE(bool(w.addTensor("c", {5}, GGMLType::F16)));
  ASSERT_FALSE(bool(w.begin(dir.file("m.gguf"))));

  // 24 + 68 + 10 bytes of data, in chunks of 7 (spanning tensors).
  std::vector<uint8_t> data(24 + 68 + 10);
  for (size_t i = 0; i < data.size(); ++i)
    data[i] = uint8_t(i * 7 + 1);
  for (size_t i = 0; i < data.size(); i += 7) {
    EXPECT_EQ(w.getCurrentTensor(), i < 24 ? 0u : i < 92 ? 1u : 2u);
    ASSERT_FALSE(bool(w.writeTensorData(
        llvm::ArrayRef(data).slice(i, std::min<size_t>(7, data.size() - i)))));
  }
  EXPECT_EQ(w.getCurrentTensor(), 3u);
  uint64_t expectedSize = w.getFileSize();
  ASSERT_FALSE(bool(w.finish()));

  auto file = File::open(dir.file("m.gguf"));
  ASSERT_TRUE(bool(file)) << llvm::toString(file.takeError());
  const File &f = **file;
  EXPECT_EQ(f.getSize(), expectedSize);
  EXPECT_EQ(f.getVersion(), 3u);
  EXPECT_EQ(f.getAlignment(), 32u);
  EXPECT_EQ(f.getString("general.architecture"), "llama");
  EXPECT_EQ(f.getInt("u8"), 200);
  EXPECT_EQ(f.getInt("i8"), -5);
  EXPECT_EQ(f.getInt("u16"), 60000);
  EXPECT_EQ(f.getInt("i16"), -300);
  EXPECT_EQ(f.getInt("u32"), 7);
  EXPECT_EQ(f.getInt("i32"), -7);
  EXPECT_EQ(f.getInt("u64"), int64_t(1) << 40);
  EXPECT_EQ(f.getInt("i64"), -(int64_t(1) << 40));
  EXPECT_EQ(float(*f.getFloat("f32")), 1e-5f);
  EXPECT_EQ(f.getFloat("f64"), 0.1);
  EXPECT_EQ(f.getBool("flag"), true);
  EXPECT_EQ(f.getValueType("u8"), ValueType::UInt8);
  EXPECT_EQ(f.getValueType("f32"), ValueType::Float32);
  EXPECT_EQ(f.getStringArray("strings"),
            (std::vector<std::string>{"a", "", "\xE2\x96\x81x"}));
  EXPECT_EQ(f.getIntArray("ints"), (std::vector<int64_t>{1, -2, 3}));
  EXPECT_EQ(f.getArrayInfo("bytes")->first, ValueType::UInt8);
  EXPECT_EQ(f.getIntArray("bytes"), (std::vector<int64_t>{0, 255}));
  EXPECT_EQ(f.getFloatArray("reals"), (std::vector<double>{0.5, -1.25}));
  std::vector<std::string> keys = f.getKeys();
  ASSERT_GE(keys.size(), 6u);
  EXPECT_EQ(keys[5], "u32");

  ASSERT_EQ(f.getTensors().size(), 3u);
  size_t offset = 0;
  for (const TensorInfo &t : f.getTensors()) {
    EXPECT_EQ(t.offset % 32, 0u) << t.name;
    llvm::ArrayRef<uint8_t> bytes = f.getTensorData(t);
    EXPECT_EQ(bytes, llvm::ArrayRef(data).slice(offset, t.nbytes)) << t.name;
    offset += t.nbytes;
  }
  EXPECT_EQ(f.findTensor("b")->type, GGMLType::Q8_0);
  EXPECT_EQ(f.findTensor("a")->dims, (std::vector<uint64_t>{3, 2}));

  // copyValue keeps types, arrays included.
  Writer copy;
  for (const std::string &key : keys)
    ASSERT_FALSE(bool(copy.copyValue(f, key))) << key;
  ASSERT_FALSE(bool(copy.begin(dir.file("copy.gguf"))));
  ASSERT_FALSE(bool(copy.finish()));
  auto copied = File::open(dir.file("copy.gguf"));
  ASSERT_TRUE(bool(copied)) << llvm::toString(copied.takeError());
  EXPECT_EQ((*copied)->getKeys(), keys);
  for (const std::string &key : keys)
    EXPECT_EQ((*copied)->getValueType(key), f.getValueType(key)) << key;
  EXPECT_EQ((*copied)->getArrayInfo("bytes"), f.getArrayInfo("bytes"));
  EXPECT_EQ((*copied)->getInt("u64"), f.getInt("u64"));
  EXPECT_EQ((*copied)->getFloatArray("reals"), f.getFloatArray("reals"));
}

TEST(GGUFWriterTest, ErrorsLeaveNoFile) {
  TempDir dir;
  {
    Writer w;
    llvm::Error e = w.addTensor("q", {48}, GGMLType::Q4_0);
    ASSERT_TRUE(bool(e));
    EXPECT_EQ(llvm::toString(std::move(e)),
              "tensor 'q': innermost dimension 48 is not a multiple of the "
              "Q4_0 block size 32");
  }
  {
    Writer w;
    ASSERT_FALSE(bool(w.addTensor("a", {4}, GGMLType::F32)));
    ASSERT_FALSE(bool(w.begin(dir.file("short.gguf"))));
    uint8_t bytes[20] = {};
    ASSERT_FALSE(bool(w.writeTensorData(llvm::ArrayRef(bytes, 8))));
    llvm::Error e = w.finish();
    ASSERT_TRUE(bool(e));
    EXPECT_NE(llvm::toString(std::move(e))
                  .find("short.gguf: tensor data "
                        "missing from 'a'"),
              std::string::npos);
  }
  {
    Writer w;
    ASSERT_FALSE(bool(w.addTensor("a", {4}, GGMLType::F32)));
    ASSERT_FALSE(bool(w.begin(dir.file("long.gguf"))));
    uint8_t bytes[20] = {};
    llvm::Error e = w.writeTensorData(bytes);
    ASSERT_TRUE(bool(e));
    EXPECT_NE(llvm::toString(std::move(e)).find("more tensor data"),
              std::string::npos);
  }
  {
    // Abandoned: the destructor removes the temporary file.
    Writer w;
    ASSERT_FALSE(bool(w.begin(dir.file("abandoned.gguf"))));
  }
  EXPECT_EQ(dir.count(), 0u);

  Writer w;
  llvm::Error e = w.begin(dir.file("no/such/dir.gguf"));
  ASSERT_TRUE(bool(e));
  std::string message = llvm::toString(std::move(e));
  EXPECT_NE(message.find("dir.gguf: cannot create: "), std::string::npos);
  EXPECT_EQ(message.find('\n'), std::string::npos);
}

TEST(GGUFWriterTest, HalfRoundsToNearestEven) {
  using import::floatToHalf;
  EXPECT_EQ(floatToHalf(0.0f), 0x0000);
  EXPECT_EQ(floatToHalf(-0.0f), 0x8000);
  EXPECT_EQ(floatToHalf(1.0f), 0x3C00);
  EXPECT_EQ(floatToHalf(-2.0f), 0xC000);
  EXPECT_EQ(floatToHalf(65504.0f), 0x7BFF);
  EXPECT_EQ(floatToHalf(65520.0f), 0x7C00); // rounds up to infinity
  EXPECT_EQ(floatToHalf(INFINITY), 0x7C00);
  EXPECT_EQ(floatToHalf(std::ldexp(1.0f, -24)), 0x0001); // smallest subnormal
  EXPECT_EQ(floatToHalf(std::ldexp(1.0f, -25)), 0x0000); // tie to even: 0
  EXPECT_EQ(floatToHalf(1.0f + std::ldexp(1.0f, -11)), 0x3C00); // tie: even
  EXPECT_EQ(floatToHalf(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3C02);
  EXPECT_EQ(floatToHalf(NAN) & 0x7E00, 0x7E00);
}

TEST(GGUFWriterTest, QuantizersMatchGGML) {
  float x[32];
  for (int j = 0; j < 32; ++j)
    x[j] = float(j - 16) / 4; // -4 .. 3.75; the largest magnitude is -4
  uint8_t q8[34];
  import::quantizeRowQ8_0(x, q8, 32);
  // d = 4/127; q = round(x * 127/4).
  EXPECT_EQ(q8[0] | q8[1] << 8, import::floatToHalf(4.0f / 127));
  for (int j = 0; j < 32; ++j)
    EXPECT_EQ(int8_t(q8[2 + j]), int(std::round(x[j] * (127.0f / 4)))) << j;

  uint8_t q4[18];
  import::quantizeRowQ4_0(x, q4, 32);
  // max = -4, d = 0.5, id = 2: q = min(15, int(2x + 8.5)) = j/2 + 0.
  EXPECT_EQ(q4[0] | q4[1] << 8, import::floatToHalf(0.5f));
  for (int j = 0; j < 16; ++j) {
    int lo = q4[2 + j] & 15, hi = q4[2 + j] >> 4;
    EXPECT_EQ(lo, std::min(15, int(2 * x[j] + 8.5f))) << j;
    EXPECT_EQ(hi, std::min(15, int(2 * x[j + 16] + 8.5f))) << j;
    // Decoded: (q - 8) * d is within one step of x.
    EXPECT_LE(std::fabs((lo - 8) * 0.5f - x[j]), 0.5f);
  }

  float zeros[32] = {};
  import::quantizeRowQ4_0(zeros, q4, 32);
  EXPECT_EQ(q4[0] | q4[1] << 8, 0x8000); // d = 0 / -8 = -0, as in ggml
  EXPECT_EQ(q4[2], 0x88);
}

TEST(GGUFWriterTest, SyntheticShapes) {
  auto tiny = import::parseSyntheticShape("tiny");
  ASSERT_TRUE(bool(tiny));
  EXPECT_EQ(tiny->dim, 256);
  EXPECT_EQ(tiny->vocabWithoutFile, 512);
  auto tl = import::parseSyntheticShape("TinyLlama-1.1B");
  ASSERT_TRUE(bool(tl));
  EXPECT_EQ(tl->ffn, 5632);
  EXPECT_EQ(tl->kvHeads, 4);
  auto dims = import::parseSyntheticShape("dim=4096,layers=2,heads=32");
  ASSERT_TRUE(bool(dims));
  EXPECT_EQ(dims->ffn, 11008); // Llama's rule, as llama-7b
  EXPECT_EQ(dims->kvHeads, 32);
  EXPECT_EQ(dims->context, 2048);
  EXPECT_FALSE(dims->vocabExplicit);
  auto bad = import::parseSyntheticShape("dim=64,layers=1,heads=4,kv_heads=3");
  ASSERT_FALSE(bool(bad));
  EXPECT_EQ(llvm::toString(bad.takeError()),
            "heads 4 is not a multiple of kv_heads 3");
  auto twice = import::parseSyntheticShape("dim=64,dim=32,layers=1,heads=4");
  ASSERT_FALSE(bool(twice));
  EXPECT_EQ(llvm::toString(twice.takeError()), "shape key 'dim' given twice");
}

} // namespace
