//===- GGUFTest.cpp - the GGUF reader -------------------------------------===//
//
// Part of llmc. Valid v2/v3 files with every metadata type and several tensor
// types, and malformed variants of each section: every one must fail with a
// one-line `PATH: problem` error, never crash.
//
//===----------------------------------------------------------------------===//

#include "llmc/Import/GGUF.h"
#include "GGUFBuilder.h"
#include "gtest/gtest.h"
#include <limits>
#include <random>

using namespace llmc::gguf;
using namespace llmc::testing;

namespace {

constexpr uint32_t kTypeF32 = 0, kTypeF16 = 1, kTypeQ8_0 = 8, kTypeQ4_K = 12;

/// A model with the given metadata count written by `writeKeys`, three
/// tensors (F32 [4,2], Q8_0 [64,3], Q4_K [256]) and their data.
std::string makeModel(uint32_t version = 3, uint64_t alignment = 32) {
  GGUFBuilder b;
  b.header(version, 3, alignment == 32 ? 2 : 3);
  b.kvString("general.architecture", "llama");
  b.kvU32("llama.block_count", 5);
  if (alignment != 32)
    b.kvU32("general.alignment", static_cast<uint32_t>(alignment));
  uint64_t offB = (32 + alignment - 1) / alignment * alignment;
  uint64_t offC = (offB + 204 + alignment - 1) / alignment * alignment;
  b.tensor("a.weight", {4, 2}, kTypeF32, 0);
  b.tensor("b.weight", {64, 3}, kTypeQ8_0, offB);
  b.tensor("c.weight", {256}, kTypeQ4_K, offC);
  b.pad(alignment);
  b.data(offC + 144, 7);
  return b.bytes;
}

llvm::Expected<std::unique_ptr<File>>
openBytes(llvm::StringRef bytes, llvm::StringRef name = "x.gguf") {
  return File::fromBuffer(llvm::MemoryBuffer::getMemBufferCopy(bytes, name),
                          name);
}

/// The error of opening `bytes`; "" if it opened.
std::string errorOf(llvm::StringRef bytes) {
  auto file = openBytes(bytes);
  if (file)
    return "";
  return llvm::toString(file.takeError());
}

/// Every error is exactly one line starting with the path.
void expectOneLineError(const std::string &message, llvm::StringRef path) {
  EXPECT_EQ(message.rfind(path.str() + ": ", 0), 0u) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
}

#define EXPECT_ERROR(bytes, substring)                                         \
  do {                                                                         \
    std::string message = errorOf(bytes);                                      \
    ASSERT_FALSE(message.empty()) << "opened successfully";                    \
    EXPECT_NE(message.find(substring), std::string::npos) << message;          \
    expectOneLineError(message, "x.gguf");                                     \
  } while (false)

TEST(GGUFTest, TypeNamesAndTraits) {
  EXPECT_EQ(ggmlTypeName(GGMLType::F32), "F32");
  EXPECT_EQ(ggmlTypeName(GGMLType::Q4_K), "Q4_K");
  EXPECT_EQ(ggmlTypeName(GGMLType::BF16), "BF16");
  EXPECT_EQ(ggmlTypeName(static_cast<GGMLType>(17)), "type 17");
  EXPECT_EQ(ggmlTypeName(static_cast<GGMLType>(17)).data(),
            ggmlTypeName(static_cast<GGMLType>(17)).data());
  struct {
    GGMLType type;
    uint32_t blockSize, blockBytes;
  } expected[] = {
      {GGMLType::F32, 1, 4},      {GGMLType::F16, 1, 2},
      {GGMLType::BF16, 1, 2},     {GGMLType::Q8_0, 32, 34},
      {GGMLType::Q4_0, 32, 18},   {GGMLType::Q4_1, 32, 20},
      {GGMLType::Q5_0, 32, 22},   {GGMLType::Q5_1, 32, 24},
      {GGMLType::Q8_1, 32, 36},   {GGMLType::Q2_K, 256, 84},
      {GGMLType::Q3_K, 256, 110}, {GGMLType::Q4_K, 256, 144},
      {GGMLType::Q5_K, 256, 176}, {GGMLType::Q6_K, 256, 210},
      {GGMLType::Q8_K, 256, 292},
  };
  for (const auto &e : expected) {
    std::optional<TypeTraits> traits = getTypeTraits(e.type);
    ASSERT_TRUE(traits) << ggmlTypeName(e.type).str();
    EXPECT_EQ(traits->blockSize, e.blockSize) << ggmlTypeName(e.type).str();
    EXPECT_EQ(traits->blockBytes, e.blockBytes) << ggmlTypeName(e.type).str();
  }
  EXPECT_FALSE(getTypeTraits(static_cast<GGMLType>(16)));
  EXPECT_FALSE(getTypeTraits(static_cast<GGMLType>(4)));
}

TEST(GGUFTest, EveryMetadataType) {
  GGUFBuilder b;
  b.header(3, 0, 19);
  b.key("u8", kU8).u8(200);
  b.key("i8", kI8).u8(0xFE); // -2
  b.key("u16", kU16).u16(60000);
  b.key("i16", kI16).u16(0xFFFD); // -3
  b.key("u32", kU32).u32(4000000000u);
  b.key("i32", kI32).u32(static_cast<uint32_t>(-5));
  b.key("f32", kF32).f32(1e-5f);
  b.key("bool", kBool).u8(1);
  b.key("string", kString).str("hello \xE2\x96\x81 world");
  b.key("u64", kU64).u64(std::numeric_limits<uint64_t>::max());
  b.key("i64", kI64).u64(static_cast<uint64_t>(-7));
  b.key("f64", kF64).f64(2.5);
  b.kvStrings("strings", {"a", "", "ccc"});
  b.kvF32s("floats", {1.5f, -2.0f});
  b.kvI32s("ints", {3, -4, 5});
  b.key("bools", kArray).u32(kBool).u64(2).u8(1).u8(0);
  // An array of two arrays of int16.
  b.key("nested", kArray).u32(kArray).u64(2);
  b.u32(kI16).u64(2).u16(1).u16(2);
  b.u32(kI16).u64(0);
  b.key("empty", kArray).u32(kString).u64(0);
  b.key("small", kU64).u64(42);

  TempDir dir;
  ASSERT_TRUE(dir.ok());
  std::string path = dir.write("types.gguf", b.bytes);
  auto fileOr = File::open(path);
  ASSERT_TRUE(bool(fileOr)) << llvm::toString(fileOr.takeError());
  const File &f = **fileOr;

  EXPECT_EQ(f.getVersion(), 3u);
  EXPECT_EQ(f.getPath(), path);
  EXPECT_EQ(f.getSize(), b.bytes.size());
  EXPECT_EQ(std::memcmp(f.getData(), b.bytes.data(), 4), 0);
  EXPECT_EQ(f.getAlignment(), 32u);
  EXPECT_TRUE(f.getTensors().empty());

  std::vector<std::string> keys = {
      "u8",   "i8",     "u16",    "i16",   "u32",  "i32",     "f32",
      "bool", "string", "u64",    "i64",   "f64",  "strings", "floats",
      "ints", "bools",  "nested", "empty", "small"};
  EXPECT_EQ(f.getKeys(), keys);

  EXPECT_EQ(f.getInt("u8"), 200);
  EXPECT_EQ(f.getInt("i8"), -2);
  EXPECT_EQ(f.getInt("u16"), 60000);
  EXPECT_EQ(f.getInt("i16"), -3);
  EXPECT_EQ(f.getInt("u32"), 4000000000LL);
  EXPECT_EQ(f.getInt("i32"), -5);
  EXPECT_EQ(f.getInt("i64"), -7);
  EXPECT_EQ(f.getInt("small"), 42);
  EXPECT_EQ(f.getInt("bool"), 1);
  EXPECT_FALSE(f.getInt("u64")) << "above INT64_MAX";
  EXPECT_FALSE(f.getInt("f32"));
  EXPECT_FALSE(f.getInt("string"));
  EXPECT_FALSE(f.getInt("missing"));

  EXPECT_EQ(f.getFloat("f32"), static_cast<double>(1e-5f));
  EXPECT_EQ(f.getFloat("f64"), 2.5);
  EXPECT_EQ(f.getFloat("i32"), -5.0);
  EXPECT_EQ(f.getFloat("u64"), 18446744073709551615.0);
  EXPECT_FALSE(f.getFloat("bool"));
  EXPECT_FALSE(f.getFloat("string"));

  EXPECT_EQ(f.getBool("bool"), true);
  EXPECT_FALSE(f.getBool("u8"));
  EXPECT_EQ(f.getString("string"), "hello \xE2\x96\x81 world");
  EXPECT_FALSE(f.getString("u8"));
  EXPECT_FALSE(f.getString("strings"));

  EXPECT_EQ(f.getStringArray("strings"),
            (std::vector<std::string>{"a", "", "ccc"}));
  EXPECT_EQ(f.getStringArray("empty"), std::vector<std::string>{});
  EXPECT_FALSE(f.getStringArray("ints"));
  EXPECT_FALSE(f.getStringArray("string"));
  EXPECT_EQ(f.getFloatArray("floats"), (std::vector<double>{1.5, -2.0}));
  EXPECT_EQ(f.getFloatArray("ints"), (std::vector<double>{3, -4, 5}));
  EXPECT_FALSE(f.getFloatArray("strings"));
  EXPECT_EQ(f.getIntArray("ints"), (std::vector<int64_t>{3, -4, 5}));
  EXPECT_EQ(f.getIntArray("bools"), (std::vector<int64_t>{1, 0}));
  EXPECT_FALSE(f.getIntArray("floats"));
  EXPECT_FALSE(f.getIntArray("nested"));

  EXPECT_EQ(f.getValueType("nested"), ValueType::Array);
  EXPECT_EQ(f.getValueType("f64"), ValueType::Float64);
  EXPECT_FALSE(f.getValueType("missing"));
  auto info = f.getArrayInfo("nested");
  ASSERT_TRUE(info);
  EXPECT_EQ(info->first, ValueType::Array);
  EXPECT_EQ(info->second, 2u);
  EXPECT_EQ(f.getArrayInfo("strings")->second, 3u);
  EXPECT_FALSE(f.getArrayInfo("u8"));
  EXPECT_TRUE(f.hasKey("empty"));
  EXPECT_EQ(valueTypeName(ValueType::Float32), "float32");
}

TEST(GGUFTest, TensorsV3AndV2) {
  for (uint32_t version : {2u, 3u}) {
    std::string bytes = makeModel(version);
    auto fileOr = openBytes(bytes);
    ASSERT_TRUE(bool(fileOr)) << llvm::toString(fileOr.takeError());
    const File &f = **fileOr;
    EXPECT_EQ(f.getVersion(), version);
    EXPECT_EQ(f.getString("general.architecture"), "llama");
    EXPECT_EQ(f.getInt("llama.block_count"), 5);
    ASSERT_EQ(f.getTensors().size(), 3u);

    // Header 24 + 2 keys + 3 tensor infos, padded to 32.
    uint64_t dataOffset = f.getDataOffset();
    EXPECT_EQ(dataOffset % 32, 0u);
    EXPECT_EQ(f.getSize(), dataOffset + 256 + 144);

    const TensorInfo *a = f.findTensor("a.weight");
    ASSERT_TRUE(a);
    EXPECT_EQ(a->dims, (std::vector<uint64_t>{4, 2}));
    EXPECT_EQ(a->type, GGMLType::F32);
    EXPECT_EQ(a->offset, dataOffset);
    EXPECT_EQ(a->nbytes, 32u);
    EXPECT_EQ(a->getNumElements(), 8u);

    const TensorInfo *bt = f.findTensor("b.weight");
    ASSERT_TRUE(bt);
    EXPECT_EQ(bt->type, GGMLType::Q8_0);
    EXPECT_EQ(bt->offset, dataOffset + 32);
    EXPECT_EQ(bt->nbytes, 3u * 2 * 34);

    const TensorInfo *c = f.findTensor("c.weight");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->type, GGMLType::Q4_K);
    EXPECT_EQ(c->offset, dataOffset + 256);
    EXPECT_EQ(c->nbytes, 144u);
    EXPECT_FALSE(f.findTensor("d.weight"));

    llvm::ArrayRef<uint8_t> data = f.getTensorData(*bt);
    ASSERT_EQ(data.size(), bt->nbytes);
    EXPECT_EQ(data.data(), f.getData() + bt->offset);
    EXPECT_EQ(data[0], static_cast<uint8_t>(7 + 32));
  }
}

TEST(GGUFTest, CustomAlignment) {
  auto fileOr = openBytes(makeModel(3, 64));
  ASSERT_TRUE(bool(fileOr)) << llvm::toString(fileOr.takeError());
  const File &f = **fileOr;
  EXPECT_EQ(f.getAlignment(), 64u);
  EXPECT_EQ(f.getDataOffset() % 64, 0u);
  EXPECT_EQ(f.findTensor("b.weight")->offset, f.getDataOffset() + 64);
  EXPECT_EQ(f.findTensor("c.weight")->offset, f.getDataOffset() + 320);
}

TEST(GGUFTest, FileErrors) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  std::string missing = dir.path("missing.gguf");
  auto fileOr = File::open(missing);
  ASSERT_FALSE(bool(fileOr));
  std::string message = llvm::toString(fileOr.takeError());
  EXPECT_NE(message.find("cannot open"), std::string::npos) << message;
  expectOneLineError(message, missing);

  std::string bad = dir.write("bad.gguf", "GGML and more bytes here");
  fileOr = File::open(bad);
  ASSERT_FALSE(bool(fileOr));
  message = llvm::toString(fileOr.takeError());
  EXPECT_EQ(message, bad + ": bad magic: expected GGUF");

  std::string empty = dir.write("empty.gguf", "");
  fileOr = File::open(empty);
  ASSERT_FALSE(bool(fileOr));
  message = llvm::toString(fileOr.takeError());
  EXPECT_EQ(message, empty + ": truncated: header runs past end of file");

  fileOr = File::open(dir.path(""));
  ASSERT_FALSE(bool(fileOr));
  expectOneLineError(llvm::toString(fileOr.takeError()), dir.path(""));
}

TEST(GGUFTest, BadHeader) {
  EXPECT_ERROR("GGML\3\0\0\0", "bad magic: expected GGUF");
  EXPECT_ERROR("G", "truncated: header");
  GGUFBuilder v1;
  v1.header(1, 0, 0);
  EXPECT_ERROR(v1.bytes, "unsupported GGUF version 1 (supported: 2, 3)");
  GGUFBuilder v4;
  v4.header(4, 0, 0);
  EXPECT_ERROR(v4.bytes, "unsupported GGUF version 4");
  GGUFBuilder bigEndian;
  bigEndian.header(0x03000000, 0, 0);
  EXPECT_ERROR(bigEndian.bytes, "big-endian");
  GGUFBuilder manyKeys;
  manyKeys.header(3, 0, std::numeric_limits<uint64_t>::max());
  EXPECT_ERROR(manyKeys.bytes, "truncated: metadata count");
  GGUFBuilder manyTensors;
  manyTensors.header(3, uint64_t(1) << 40, 0);
  EXPECT_ERROR(manyTensors.bytes, "truncated: tensor count");
}

TEST(GGUFTest, TruncatedAtEveryByte) {
  std::string bytes = makeModel();
  ASSERT_TRUE(bool(openBytes(bytes)));
  for (size_t n = 0; n < bytes.size(); ++n) {
    std::string message = errorOf(llvm::StringRef(bytes).take_front(n));
    ASSERT_FALSE(message.empty()) << "prefix of " << n << " bytes opened";
    EXPECT_NE(message.find("truncated"), std::string::npos)
        << n << ": " << message;
    expectOneLineError(message, "x.gguf");
  }
}

TEST(GGUFTest, TruncatedMessagesNameTheSection) {
  std::string bytes = makeModel();
  auto f = openBytes(bytes);
  ASSERT_TRUE(bool(f));
  uint64_t dataOffset = (*f)->getDataOffset();
  EXPECT_EQ(errorOf(llvm::StringRef(bytes).take_front(30)),
            "x.gguf: truncated: metadata count 2 cannot fit in the file (30 "
            "bytes)");
  EXPECT_EQ(errorOf(llvm::StringRef(bytes).take_front(100)),
            "x.gguf: truncated: metadata entry 1 ('llama.block_count') runs "
            "past end of file");
  // Header 24 bytes, metadata 45 + 33, tensor infos 48 + 48 + 40: the last
  // tensor info ends at byte 238.
  EXPECT_EQ(errorOf(llvm::StringRef(bytes).take_front(237)),
            "x.gguf: truncated: tensor info 2 ('c.weight') runs past end of "
            "file");
  std::string message =
      errorOf(llvm::StringRef(bytes).take_front(dataOffset - 1));
  EXPECT_EQ(message.rfind("x.gguf: truncated: data of tensor 'a.weight'", 0),
            0u)
      << message;
  message = errorOf(llvm::StringRef(bytes).take_front(dataOffset + 100));
  EXPECT_NE(message.find("truncated: data of tensor 'b.weight'"),
            std::string::npos)
      << message;
}

TEST(GGUFTest, BadMetadata) {
  GGUFBuilder hugeKey;
  hugeKey.header(3, 0, 1).u64(uint64_t(1) << 62).u32(kU8).u8(0);
  EXPECT_ERROR(hugeKey.bytes,
               "truncated: metadata entry 0 runs past end of file");

  GGUFBuilder hugeString;
  hugeString.header(3, 0, 1).key("s", kString).u64(~uint64_t(0)).data(16);
  EXPECT_ERROR(hugeString.bytes,
               "truncated: metadata entry 0 ('s') runs past end of file");

  GGUFBuilder hugeArray;
  hugeArray.header(3, 0, 1).key("a", kArray).u32(kU32).u64(uint64_t(1) << 61);
  hugeArray.data(64);
  EXPECT_ERROR(hugeArray.bytes, "array of 2305843009213693952 uint32 values");

  GGUFBuilder hugeStringArray;
  hugeStringArray.header(3, 0, 1).key("a", kArray).u32(kString).u64(1000);
  hugeStringArray.str("x");
  EXPECT_ERROR(hugeStringArray.bytes, "truncated");

  GGUFBuilder unknownType;
  unknownType.header(3, 0, 1).key("k", 13).u32(0);
  EXPECT_ERROR(unknownType.bytes,
               "metadata entry 0 ('k'): unknown value type 13");

  GGUFBuilder unknownElem;
  unknownElem.header(3, 0, 1).key("k", kArray).u32(99).u64(0);
  EXPECT_ERROR(unknownElem.bytes, "unknown array element type 99");

  GGUFBuilder deep;
  deep.header(3, 0, 1).key("deep", kArray);
  for (int i = 0; i < 40; ++i)
    deep.u32(kArray).u64(1);
  deep.u32(kU8).u64(0);
  EXPECT_ERROR(deep.bytes, "arrays nested deeper than 16");

  GGUFBuilder duplicate;
  duplicate.header(3, 0, 2).kvU32("k", 1).kvU32("k", 2);
  EXPECT_ERROR(duplicate.bytes, "duplicate metadata key 'k'");

  GGUFBuilder alignZero;
  alignZero.header(3, 0, 1).kvU32("general.alignment", 0);
  EXPECT_ERROR(alignZero.bytes, "general.alignment must be a power of two");
  GGUFBuilder alignThree;
  alignThree.header(3, 0, 1).kvU32("general.alignment", 3);
  EXPECT_ERROR(alignThree.bytes, "found 3");
  GGUFBuilder alignString;
  alignString.header(3, 0, 1).kvString("general.alignment", "32");
  EXPECT_ERROR(alignString.bytes,
               "general.alignment must be an integer, found string");
}

/// A one-tensor file: `dims` of `type` at data offset `offset` with `n`
/// data bytes after the padding.
std::string oneTensor(const std::vector<uint64_t> &dims, uint32_t type,
                      uint64_t offset, uint64_t n) {
  GGUFBuilder b;
  b.header(3, 1, 0).tensor("t", dims, type, offset).pad().data(n);
  return b.bytes;
}

TEST(GGUFTest, BadTensors) {
  EXPECT_TRUE(errorOf(oneTensor({8}, kTypeF32, 0, 32)).empty());
  EXPECT_TRUE(errorOf(oneTensor({}, kTypeF16, 0, 2)).empty()) << "scalar";
  EXPECT_TRUE(errorOf(oneTensor({0, 5}, kTypeF32, 0, 0)).empty()) << "empty";

  EXPECT_ERROR(oneTensor({8}, kTypeF32, 64, 32),
               "truncated: data of tensor 't' (32 bytes at data offset 64) "
               "runs past end of file");
  EXPECT_ERROR(oneTensor({8}, kTypeF32, ~uint64_t(0) - 31, 32),
               "runs past end of file");
  EXPECT_ERROR(oneTensor({8}, kTypeF32, 4, 64),
               "tensor 't': data offset 4 is not a multiple of the alignment "
               "32");
  EXPECT_ERROR(oneTensor({8}, 17, 0, 64), "tensor 't': unknown ggml type 17");
  EXPECT_ERROR(oneTensor({8}, 4, 0, 64), "unknown ggml type 4");
  EXPECT_ERROR(oneTensor({1, 1, 1, 1, 1}, kTypeF32, 0, 64),
               "tensor info 0 ('t'): 5 dimensions (at most 4 are supported)");
  EXPECT_ERROR(
      oneTensor({uint64_t(1) << 32, uint64_t(1) << 32}, kTypeF32, 0, 64),
      "tensor 't': element count overflows (dims 4294967296 x "
      "4294967296)");
  EXPECT_ERROR(oneTensor({uint64_t(1) << 60}, kTypeF32, 0, 64),
               "runs past end of file");
  EXPECT_ERROR(oneTensor({uint64_t(1) << 62}, kTypeF32, 0, 64),
               "tensor 't': byte size overflows");
  EXPECT_ERROR(oneTensor({172, 2}, kTypeQ8_0, 0, 4096),
               "tensor 't': innermost dimension 172 is not a multiple of the "
               "Q8_0 block size 32");
  EXPECT_ERROR(oneTensor({}, kTypeQ4_K, 0, 4096),
               "innermost dimension 1 is not a multiple of the Q4_K block "
               "size 256");

  GGUFBuilder hugeDims;
  hugeDims.header(3, 1, 0).str("t").u32(0xFFFFFFFF).data(64);
  EXPECT_ERROR(hugeDims.bytes, "4294967295 dimensions");

  GGUFBuilder duplicate;
  duplicate.header(3, 2, 0)
      .tensor("t", {8}, kTypeF32, 0)
      .tensor("t", {8}, kTypeF32, 32)
      .pad()
      .data(64);
  EXPECT_ERROR(duplicate.bytes, "duplicate tensor name 't'");

  GGUFBuilder overlap;
  overlap.header(3, 2, 0)
      .tensor("t", {16}, kTypeF32, 0)
      .tensor("u", {8}, kTypeF32, 32)
      .pad()
      .data(64);
  EXPECT_ERROR(overlap.bytes, "data of tensors 't' and 'u' overlap");

  GGUFBuilder oddName;
  oddName.header(3, 1, 0).tensor("bad\nname\x01", {8}, 99, 0).pad().data(32);
  EXPECT_ERROR(oddName.bytes, "tensor 'bad\\0Aname\\01': unknown ggml type 99");

  GGUFBuilder hugeName;
  hugeName.header(3, 1, 0).u64(uint64_t(1) << 50).data(64);
  EXPECT_ERROR(hugeName.bytes,
               "truncated: tensor info 0 runs past end of file");
}

/// Random byte mutations of a valid file never crash the reader, and every
/// file that still opens can be read through every accessor.
TEST(GGUFTest, MutationsNeverCrash) {
  GGUFBuilder b;
  b.header(3, 2, 4);
  b.kvString("general.architecture", "llama");
  b.kvStrings("tokenizer.ggml.tokens", {"<unk>", "a", "b"});
  b.kvF32s("tokenizer.ggml.scores", {0, -1, -2});
  b.key("nested", kArray).u32(kArray).u64(1).u32(kI8).u64(2).u8(1).u8(2);
  b.tensor("a", {8}, kTypeF32, 0).tensor("b", {32}, kTypeQ8_0, 32);
  b.pad().data(32 + 34);
  const std::string valid = b.bytes;
  ASSERT_TRUE(bool(openBytes(valid)));

  std::mt19937 rng(1234);
  unsigned opened = 0;
  for (int iter = 0; iter < 5000; ++iter) {
    std::string bytes = valid;
    int edits = 1 + rng() % 4;
    for (int e = 0; e < edits; ++e) {
      size_t pos = rng() % bytes.size();
      switch (rng() % 3) {
      case 0:
        bytes[pos] = static_cast<char>(rng());
        break;
      case 1:
        bytes[pos] = static_cast<char>(0xFF);
        break;
      case 2:
        bytes.resize(pos);
        break;
      }
      if (bytes.empty())
        break;
    }
    auto fileOr = openBytes(bytes);
    if (!fileOr) {
      expectOneLineError(llvm::toString(fileOr.takeError()), "x.gguf");
      continue;
    }
    ++opened;
    const File &f = **fileOr;
    for (const std::string &key : f.getKeys()) {
      (void)f.getString(key);
      (void)f.getInt(key);
      (void)f.getFloat(key);
      (void)f.getBool(key);
      (void)f.getStringArray(key);
      (void)f.getFloatArray(key);
      (void)f.getIntArray(key);
      (void)f.getArrayInfo(key);
    }
    for (const TensorInfo &t : f.getTensors()) {
      llvm::ArrayRef<uint8_t> data = f.getTensorData(t);
      EXPECT_EQ(data.size(), t.nbytes);
      EXPECT_LE(t.offset + t.nbytes, f.getSize());
    }
  }
  EXPECT_GT(opened, 0u);
}

} // namespace
