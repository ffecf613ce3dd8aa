//===- SafetensorsTest.cpp - the safetensors reader -----------------------===//
//
// Part of llmc. Hand-built .safetensors images: a valid one read through
// every accessor, and malformed variants of each part (header length, JSON,
// dtype, shape, offsets, metadata), each failing with a one-line
// `PATH: problem` error; random mutations never crash the reader.
//
//===----------------------------------------------------------------------===//

#include "llmc/Import/Safetensors.h"
#include "GGUFBuilder.h"
#include "gtest/gtest.h"
#include <random>

using namespace llmc::safetensors;

namespace {

/// An image: the 8-byte length of `header`, `header`, then `dataBytes`
/// bytes valued 0, 1, 2, ...
std::string image(llvm::StringRef header, size_t dataBytes) {
  std::string bytes(8, '\0');
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i)
    bytes[i] = static_cast<char>(n >> (8 * i));
  bytes += header.str();
  for (size_t i = 0; i < dataBytes; ++i)
    bytes.push_back(static_cast<char>(i));
  return bytes;
}

/// One tensor entry of a header.
std::string tensor(llvm::StringRef name, llvm::StringRef dtype,
                   llvm::StringRef shape, uint64_t begin, uint64_t end) {
  return "\"" + name.str() + "\": {\"dtype\": \"" + dtype.str() +
         "\", \"shape\": " + shape.str() + ", \"data_offsets\": [" +
         std::to_string(begin) + ", " + std::to_string(end) + "]}";
}

/// F32 [2, 3] at 0, BF16 [4] at 24, a U8 scalar at 32, an empty F16 [0, 5]
/// at 33, metadata; 33 bytes of data.
const std::string kHeader = "{" + tensor("b.weight", "BF16", "[4]", 24, 32) +
                            ", " + tensor("a.weight", "F32", "[2, 3]", 0, 24) +
                            ", " + tensor("scalar", "U8", "[]", 32, 33) + ", " +
                            tensor("empty", "F16", "[0, 5]", 33, 33) +
                            ", \"__metadata__\": {\"format\": \"pt\"}}  ";

llvm::Expected<std::unique_ptr<File>>
openBytes(llvm::StringRef bytes, llvm::StringRef name = "x.safetensors") {
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

/// The error of a file with `header` and `dataBytes` of data.
std::string headerError(llvm::StringRef header, size_t dataBytes = 64) {
  return errorOf(image(header, dataBytes));
}

/// Every error is exactly one line starting with the path.
void expectOneLineError(const std::string &message, llvm::StringRef path) {
  EXPECT_EQ(message.rfind(path.str() + ": ", 0), 0u) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
}

TEST(SafetensorsTest, DTypes) {
  struct Expect {
    const char *name;
    unsigned size;
  } all[] = {{"BOOL", 1},    {"U8", 1},  {"I8", 1},  {"F8_E5M2", 1},
             {"F8_E4M3", 1}, {"I16", 2}, {"U16", 2}, {"F16", 2},
             {"BF16", 2},    {"I32", 4}, {"U32", 4}, {"F32", 4},
             {"F64", 8},     {"I64", 8}, {"U64", 8}};
  for (const Expect &e : all) {
    std::optional<DType> type = parseDType(e.name);
    ASSERT_TRUE(type.has_value()) << e.name;
    EXPECT_EQ(dtypeName(*type), e.name);
    EXPECT_EQ(dtypeSize(*type), e.size) << e.name;
  }
  EXPECT_FALSE(parseDType("f32").has_value());
  EXPECT_FALSE(parseDType("Q8_0").has_value());
  EXPECT_FALSE(parseDType("").has_value());
}

TEST(SafetensorsTest, ValidFile) {
  std::string bytes = image(kHeader, 33);
  auto fileOr = openBytes(bytes);
  ASSERT_TRUE(bool(fileOr)) << llvm::toString(fileOr.takeError());
  const File &f = **fileOr;
  uint64_t data = 8 + kHeader.size();
  EXPECT_EQ(f.getDataOffset(), data);
  EXPECT_EQ(f.getSize(), bytes.size());
  EXPECT_EQ(f.getPath(), "x.safetensors");

  // In the order of their data (the empty tensor after the scalar).
  const std::vector<TensorInfo> &ts = f.getTensors();
  ASSERT_EQ(ts.size(), 4u);
  EXPECT_EQ(ts[0].name, "a.weight");
  EXPECT_EQ(ts[0].dtype, DType::F32);
  EXPECT_EQ(ts[0].shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(ts[0].offset, data);
  EXPECT_EQ(ts[0].nbytes, 24u);
  EXPECT_EQ(ts[0].getNumElements(), 6u);
  EXPECT_EQ(ts[1].name, "b.weight");
  EXPECT_EQ(ts[1].dtype, DType::BF16);
  EXPECT_EQ(ts[1].offset, data + 24);
  EXPECT_EQ(ts[1].nbytes, 8u);
  EXPECT_EQ(ts[2].name, "scalar");
  EXPECT_TRUE(ts[2].shape.empty());
  EXPECT_EQ(ts[2].getNumElements(), 1u);
  EXPECT_EQ(ts[2].nbytes, 1u);
  EXPECT_EQ(ts[3].name, "empty");
  EXPECT_EQ(ts[3].getNumElements(), 0u);
  EXPECT_EQ(ts[3].nbytes, 0u);

  const TensorInfo *b = f.findTensor("b.weight");
  ASSERT_NE(b, nullptr);
  llvm::ArrayRef<uint8_t> bytesB = f.getTensorData(*b);
  ASSERT_EQ(bytesB.size(), 8u);
  EXPECT_EQ(bytesB[0], 24u);
  EXPECT_EQ(bytesB[7], 31u);
  EXPECT_EQ(f.getTensorData(*f.findTensor("scalar"))[0], 32u);
  EXPECT_EQ(f.findTensor("missing"), nullptr);
  EXPECT_EQ(f.findTensor("__metadata__"), nullptr);

  ASSERT_EQ(f.getMetadata().size(), 1u);
  EXPECT_EQ(f.getMetadata().lookup("format"), "pt");
}

TEST(SafetensorsTest, EmptyHeaderObject) {
  auto fileOr = openBytes(image("{}", 0));
  ASSERT_TRUE(bool(fileOr)) << llvm::toString(fileOr.takeError());
  EXPECT_TRUE((*fileOr)->getTensors().empty());
  EXPECT_EQ((*fileOr)->getDataOffset(), 10u);
}

TEST(SafetensorsTest, OpenFromDisk) {
  llmc::testing::TempDir dir;
  ASSERT_TRUE(dir.ok());
  std::string path = dir.write("m.safetensors", image(kHeader, 33));
  auto fileOr = File::open(path);
  ASSERT_TRUE(bool(fileOr)) << llvm::toString(fileOr.takeError());
  EXPECT_EQ((*fileOr)->getTensors().size(), 4u);
  EXPECT_EQ((*fileOr)->getPath(), path);

  std::string missing = dir.path("missing.safetensors");
  fileOr = File::open(missing);
  ASSERT_FALSE(bool(fileOr));
  std::string message = llvm::toString(fileOr.takeError());
  EXPECT_NE(message.find("cannot open"), std::string::npos) << message;
  expectOneLineError(message, missing);
}

TEST(SafetensorsTest, BadHeaderLength) {
  EXPECT_EQ(errorOf(""), "x.safetensors: truncated: 0 bytes, too short for "
                         "the 8-byte header length");
  EXPECT_EQ(errorOf(llvm::StringRef("\x02\0\0\0", 4)),
            "x.safetensors: truncated: 4 bytes, too "
            "short for the 8-byte header length");
  std::string past = image("{}", 0);
  past[0] = 3;
  EXPECT_EQ(errorOf(past), "x.safetensors: header length 3 runs past the end "
                           "of the file (10 bytes)");
  std::string huge = image("{}", 0);
  huge[7] = '\x80';
  EXPECT_EQ(errorOf(huge), "x.safetensors: header length 9223372036854775810 "
                           "runs past the end of the file (10 bytes)");
}

TEST(SafetensorsTest, BadJSON) {
  EXPECT_EQ(headerError("{\"a\": "),
            "x.safetensors: invalid JSON header: [1:6, byte=6]: Unexpected "
            "EOF");
  EXPECT_EQ(headerError(""),
            "x.safetensors: invalid JSON header: [1:0, byte=0]: Unexpected "
            "EOF");
  EXPECT_EQ(headerError("[]"),
            "x.safetensors: the header is not a JSON object");
  EXPECT_EQ(headerError("{\"a\": 1}"),
            "x.safetensors: tensor 'a': expected an object with dtype, shape "
            "and data_offsets");
  std::string deep = std::string(40, '[') + std::string(40, ']');
  EXPECT_EQ(headerError(deep), "x.safetensors: invalid JSON header: nested "
                               "deeper than 32 levels");
  expectOneLineError(headerError("{\"a\xff\": 1}"), "x.safetensors");
}

TEST(SafetensorsTest, JSONDepthLimit) {
  auto nested = [](unsigned depth) {
    return std::string(depth, '[') + std::string(depth, ']');
  };
  EXPECT_TRUE(bool(parseJSON(nested(32), "t")));
  llvm::Expected<llvm::json::Value> tooDeep = parseJSON(nested(33), "t");
  ASSERT_FALSE(bool(tooDeep));
  EXPECT_EQ(llvm::toString(tooDeep.takeError()),
            "t: nested deeper than 32 levels");
  // Brackets inside strings, escaped quotes included, are not nesting.
  std::string text = "{\"k\": \"" + std::string(100, '[') + "\\\"[[[\"}";
  llvm::Expected<llvm::json::Value> inString = parseJSON(text, "t", 1);
  ASSERT_TRUE(bool(inString)) << llvm::toString(inString.takeError());
  llvm::Expected<llvm::json::Value> bad = parseJSON("{", "t");
  ASSERT_FALSE(bool(bad));
  EXPECT_EQ(llvm::toString(bad.takeError()),
            "t: [1:1, byte=1]: Expected object key");
}

TEST(SafetensorsTest, BadTensors) {
  auto one = [](llvm::StringRef body) {
    return headerError("{\"t\": {" + body.str() + "}}", 64);
  };
  const std::string offsets = ", \"data_offsets\": [0, 16]";
  EXPECT_EQ(one("\"shape\": [4]" + offsets),
            "x.safetensors: tensor 't': missing dtype");
  EXPECT_EQ(one("\"dtype\": 4, \"shape\": [4]" + offsets),
            "x.safetensors: tensor 't': missing dtype");
  EXPECT_EQ(one("\"dtype\": \"Q4_0\", \"shape\": [4]" + offsets),
            "x.safetensors: tensor 't': unknown dtype 'Q4_0'");
  EXPECT_EQ(one("\"dtype\": \"F32\"" + offsets),
            "x.safetensors: tensor 't': missing shape");
  EXPECT_EQ(one("\"dtype\": \"F32\", \"shape\": 4" + offsets),
            "x.safetensors: tensor 't': missing shape");
  for (const char *shape :
       {"[-4]", "[2.5]", "[\"4\"]", "[null]", "[18446744073709551615]"})
    EXPECT_EQ(
        one("\"dtype\": \"F32\", \"shape\": " + std::string(shape) + offsets),
        "x.safetensors: tensor 't': shape must hold non-negative "
        "integers")
        << shape;
  EXPECT_EQ(
      one("\"dtype\": \"F32\", \"shape\": [4294967296, 4294967296]" + offsets),
      "x.safetensors: tensor 't': element count of shape [4294967296, "
      "4294967296] overflows");
  EXPECT_EQ(
      one("\"dtype\": \"F32\", \"shape\": [4611686018427387904]" + offsets),
      "x.safetensors: tensor 't': byte size of F32 "
      "[4611686018427387904] overflows");
  // Zero anywhere makes an empty tensor, whatever the other dimensions.
  EXPECT_EQ(one("\"dtype\": \"F32\", \"shape\": [0, 4294967296, "
                "4294967296], \"data_offsets\": [0, 0]"),
            "");

  const std::string f32x4 = "\"dtype\": \"F32\", \"shape\": [4]";
  const std::string offsetsMessage =
      "x.safetensors: tensor 't': data_offsets must be [begin, end] with 0 <= "
      "begin <= end";
  for (const char *bad :
       {"", ", \"data_offsets\": [0]", ", \"data_offsets\": [0, 16, 32]",
        ", \"data_offsets\": [16, 0]", ", \"data_offsets\": [-16, 0]",
        ", \"data_offsets\": [\"0\", 16]",
        ", \"data_offsets\": {\"begin\": 0}"})
    EXPECT_EQ(one(f32x4 + bad), offsetsMessage) << bad;
  EXPECT_EQ(one(f32x4 + ", \"data_offsets\": [56, 72]"),
            "x.safetensors: truncated: data of tensor 't' (bytes 56 to 72 of "
            "the data) runs past the end of the file (64 bytes of data)");
  EXPECT_EQ(one(f32x4 + ", \"data_offsets\": [0, 12]"),
            "x.safetensors: tensor 't': data_offsets span 12 bytes, but F32 "
            "[4] needs 16");
  EXPECT_EQ(one(f32x4 + ", \"data_offsets\": [0, 9223372036854775807]"),
            "x.safetensors: truncated: data of tensor 't' (bytes 0 to "
            "9223372036854775807 of the data) runs past the end of the file "
            "(64 bytes of data)");
}

TEST(SafetensorsTest, Overlap) {
  std::string header = "{" + tensor("a", "F32", "[4]", 0, 16) + ", " +
                       tensor("b", "F32", "[4]", 8, 24) + "}";
  EXPECT_EQ(headerError(header),
            "x.safetensors: data of tensors 'a' and 'b' overlap");
  // Empty tensors share an offset with their neighbours harmlessly.
  header = "{" + tensor("a", "F32", "[4]", 0, 16) + ", " +
           tensor("e", "F32", "[0]", 8, 8) + ", " +
           tensor("b", "F32", "[4]", 16, 32) + "}";
  EXPECT_EQ(headerError(header), "");
}

TEST(SafetensorsTest, BadMetadata) {
  EXPECT_EQ(headerError("{\"__metadata__\": [\"a\"]}"),
            "x.safetensors: __metadata__ is not an object of strings");
  EXPECT_EQ(headerError("{\"__metadata__\": {\"n\": 4}}"),
            "x.safetensors: __metadata__ entry 'n' is not a string");
}

TEST(SafetensorsTest, NamesAreQuotedOnOneLine) {
  std::string message =
      headerError("{\"line\\nbreak\": {\"dtype\": \"X\\n\"}}");
  EXPECT_EQ(message,
            "x.safetensors: tensor 'line\\0Abreak': unknown dtype 'X\\0A'");
  std::string longName(200, 'n');
  message = headerError("{\"" + longName + "\": 1}");
  EXPECT_NE(message.find("'" + std::string(80, 'n') + "'..."),
            std::string::npos)
      << message;
  expectOneLineError(message, "x.safetensors");
}

TEST(SafetensorsTest, TruncatedAtEveryByte) {
  std::string bytes = image(kHeader, 33);
  ASSERT_TRUE(bool(openBytes(bytes)));
  for (size_t n = 0; n < bytes.size(); ++n) {
    std::string message = errorOf(llvm::StringRef(bytes).take_front(n));
    ASSERT_FALSE(message.empty()) << "prefix of " << n << " bytes opened";
    expectOneLineError(message, "x.safetensors");
  }
}

/// Random byte mutations of a valid file never crash the reader, and every
/// file that still opens has all its tensors inside the file.
TEST(SafetensorsTest, MutationsNeverCrash) {
  const std::string valid = image(kHeader, 33);
  ASSERT_TRUE(bool(openBytes(valid)));
  const char interesting[] = {'"', '[', ']',  '{',    '}',  ',', ':', '0',
                              '9', '-', '\\', '\xff', '\0', 'e', '.'};
  std::mt19937 rng(1234);
  unsigned opened = 0;
  for (int iter = 0; iter < 20000; ++iter) {
    std::string bytes = valid;
    int edits = 1 + rng() % 4;
    for (int e = 0; e < edits && !bytes.empty(); ++e) {
      size_t pos = rng() % bytes.size();
      switch (rng() % 4) {
      case 0:
        bytes[pos] = static_cast<char>(rng());
        break;
      case 1:
        bytes[pos] = interesting[rng() % sizeof(interesting)];
        break;
      case 2:
        bytes.insert(pos, 1, interesting[rng() % sizeof(interesting)]);
        break;
      case 3:
        bytes.erase(pos, 1 + rng() % 8);
        break;
      }
    }
    auto fileOr = openBytes(bytes);
    if (!fileOr) {
      expectOneLineError(llvm::toString(fileOr.takeError()), "x.safetensors");
      continue;
    }
    ++opened;
    const File &f = **fileOr;
    for (const TensorInfo &t : f.getTensors()) {
      EXPECT_GE(t.offset, f.getDataOffset());
      EXPECT_LE(t.offset + t.nbytes, f.getSize());
      EXPECT_EQ(t.nbytes, t.getNumElements() * dtypeSize(t.dtype));
      EXPECT_EQ(f.getTensorData(t).size(), t.nbytes);
      EXPECT_EQ(f.findTensor(t.name), &t);
    }
  }
  EXPECT_GT(opened, 0u);
}

} // namespace

// Found while fuzzing (fuzz/regressions/safetensors/): JSON numbers that are
// doubles at 2^63 reached llvm::json's getAsInteger, whose int64_t
// conversion of 2^63 is undefined (UBSan aborted).
TEST(SafetensorsTest, IntegersBeyondInt64) {
  for (const char *n : {"9223372036854775807.0", "9.223372036854775807e18",
                        "9223372036854775808", "1e300", "2.5"}) {
    std::string shape = std::string("[") + n + "]";
    EXPECT_NE(headerError("{" + tensor("t", "U8", shape, 0, 1) + "}")
                  .find("shape must hold non-negative integers"),
              std::string::npos)
        << n;
    std::string offsets = std::string("{\"t\": {\"dtype\": \"U8\", \"shape\": "
                                      "[1], \"data_offsets\": [0, ") +
                          n + "]}}";
    EXPECT_NE(headerError(offsets).find("data_offsets must be"),
              std::string::npos)
        << n;
  }
  auto integer = [](llvm::StringRef text) {
    llvm::Expected<llvm::json::Value> value = llvm::json::parse(text);
    EXPECT_TRUE(bool(value)) << text.str();
    return value ? getJSONInteger(*value) : std::nullopt;
  };
  EXPECT_EQ(integer("9223372036854775807"), INT64_MAX);
  EXPECT_EQ(integer("-9223372036854775808"), INT64_MIN);
  EXPECT_EQ(integer("4.0"), 4);
  EXPECT_EQ(integer("-4e3"), -4000);
  EXPECT_EQ(integer("9223372036854775807.0"), std::nullopt);
  EXPECT_EQ(integer("18446744073709551615"), std::nullopt);
  EXPECT_EQ(integer("0.5"), std::nullopt);
  EXPECT_EQ(integer("\"1\""), std::nullopt);
}
