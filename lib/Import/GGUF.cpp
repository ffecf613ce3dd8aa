//===- GGUF.cpp - GGUF model file reader ----------------------------------===//
//
// Part of llmc. Written from the GGUF format description: a little-endian
// header (magic, version, tensor count, metadata count), the metadata
// key/value pairs, the tensor infos, then the tensor data section aligned to
// general.alignment. The whole structure is validated once in Parser; the
// accessors afterwards decode values straight from the mapping.
//
//===----------------------------------------------------------------------===//

#include "llmc/Import/GGUF.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/Twine.h"
#include "llvm/ADT/bit.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/MathExtras.h"
#include "llvm/Support/raw_ostream.h"
#include <algorithm>
#include <cstring>
#include <limits>
#include <map>
#include <mutex>

using namespace llmc::gguf;
using llvm::StringRef;

//===----------------------------------------------------------------------===//
// Types
//===----------------------------------------------------------------------===//

namespace {
struct TypeEntry {
  GGMLType type;
  const char *name;
  uint32_t blockSize;
  uint32_t blockBytes;
};
// Block geometry of the ggml types, from the format description.
constexpr TypeEntry kTypes[] = {
    {GGMLType::F32, "F32", 1, 4},       {GGMLType::F16, "F16", 1, 2},
    {GGMLType::Q4_0, "Q4_0", 32, 18},   {GGMLType::Q4_1, "Q4_1", 32, 20},
    {GGMLType::Q5_0, "Q5_0", 32, 22},   {GGMLType::Q5_1, "Q5_1", 32, 24},
    {GGMLType::Q8_0, "Q8_0", 32, 34},   {GGMLType::Q8_1, "Q8_1", 32, 36},
    {GGMLType::Q2_K, "Q2_K", 256, 84},  {GGMLType::Q3_K, "Q3_K", 256, 110},
    {GGMLType::Q4_K, "Q4_K", 256, 144}, {GGMLType::Q5_K, "Q5_K", 256, 176},
    {GGMLType::Q6_K, "Q6_K", 256, 210}, {GGMLType::Q8_K, "Q8_K", 256, 292},
    {GGMLType::I8, "I8", 1, 1},         {GGMLType::I16, "I16", 1, 2},
    {GGMLType::I32, "I32", 1, 4},       {GGMLType::I64, "I64", 1, 8},
    {GGMLType::F64, "F64", 1, 8},       {GGMLType::BF16, "BF16", 1, 2},
};

const TypeEntry *findType(GGMLType type) {
  for (const TypeEntry &entry : kTypes)
    if (entry.type == type)
      return &entry;
  return nullptr;
}
} // namespace

StringRef llmc::gguf::ggmlTypeName(GGMLType type) {
  if (const TypeEntry *entry = findType(type))
    return entry->name;
  // Unknown numbers get a stable, interned "type N".
  static std::mutex mutex;
  static std::map<uint32_t, std::string> names;
  std::lock_guard<std::mutex> lock(mutex);
  uint32_t raw = static_cast<uint32_t>(type);
  auto it = names.find(raw);
  if (it == names.end())
    it = names.emplace(raw, "type " + std::to_string(raw)).first;
  return it->second;
}

std::optional<TypeTraits> llmc::gguf::getTypeTraits(GGMLType type) {
  if (const TypeEntry *entry = findType(type))
    return TypeTraits{entry->blockSize, entry->blockBytes};
  return std::nullopt;
}

StringRef llmc::gguf::valueTypeName(ValueType type) {
  switch (type) {
  case ValueType::UInt8:
    return "uint8";
  case ValueType::Int8:
    return "int8";
  case ValueType::UInt16:
    return "uint16";
  case ValueType::Int16:
    return "int16";
  case ValueType::UInt32:
    return "uint32";
  case ValueType::Int32:
    return "int32";
  case ValueType::Float32:
    return "float32";
  case ValueType::Bool:
    return "bool";
  case ValueType::String:
    return "string";
  case ValueType::Array:
    return "array";
  case ValueType::UInt64:
    return "uint64";
  case ValueType::Int64:
    return "int64";
  case ValueType::Float64:
    return "float64";
  }
  return "unknown";
}

uint64_t TensorInfo::getNumElements() const {
  uint64_t n = 1;
  for (uint64_t d : dims)
    n *= d; // Cannot overflow: checked when the file was opened.
  return n;
}

namespace {

bool isKnownValueType(uint32_t raw) { return raw <= 12; }

/// Bytes of a scalar value type; 0 for string and array.
uint64_t scalarSize(ValueType type) {
  switch (type) {
  case ValueType::UInt8:
  case ValueType::Int8:
  case ValueType::Bool:
    return 1;
  case ValueType::UInt16:
  case ValueType::Int16:
    return 2;
  case ValueType::UInt32:
  case ValueType::Int32:
  case ValueType::Float32:
    return 4;
  case ValueType::UInt64:
  case ValueType::Int64:
  case ValueType::Float64:
    return 8;
  case ValueType::String:
  case ValueType::Array:
    return 0;
  }
  return 0;
}

/// The fewest bytes one value of `type` occupies: used to reject element
/// counts that cannot fit in the rest of the file before looping over them.
uint64_t minValueSize(ValueType type) {
  if (type == ValueType::String)
    return 8; // length
  if (type == ValueType::Array)
    return 12; // element type + count
  return scalarSize(type);
}


/// Bounds-checked little-endian reads from a byte range. Every read returns
/// false (and leaves `pos` unchanged) when it would run past the end.
class Reader {
public:
  Reader(const uint8_t *data, uint64_t size, uint64_t pos = 0)
      : data(data), size(size), pos(pos) {}

  uint64_t getPos() const { return pos; }
  uint64_t remaining() const { return pos <= size ? size - pos : 0; }

  bool skip(uint64_t n) {
    if (n > remaining())
      return false;
    pos += n;
    return true;
  }
  bool readU8(uint8_t &v) {
    if (remaining() < 1)
      return false;
    v = data[pos++];
    return true;
  }
  bool readU16(uint16_t &v) {
    if (remaining() < 2)
      return false;
    v = llvm::support::endian::read16le(data + pos);
    pos += 2;
    return true;
  }
  bool readU32(uint32_t &v) {
    if (remaining() < 4)
      return false;
    v = llvm::support::endian::read32le(data + pos);
    pos += 4;
    return true;
  }
  bool readU64(uint64_t &v) {
    if (remaining() < 8)
      return false;
    v = llvm::support::endian::read64le(data + pos);
    pos += 8;
    return true;
  }
  /// A GGUF string: uint64 length then that many bytes.
  bool readString(StringRef &s) {
    uint64_t start = pos, len;
    if (!readU64(len))
      return false;
    if (len > remaining()) {
      pos = start;
      return false;
    }
    s = StringRef(reinterpret_cast<const char *>(data + pos), len);
    pos += len;
    return true;
  }

private:
  const uint8_t *data;
  uint64_t size;
  uint64_t pos;
};

/// A decoded scalar.
struct Scalar {
  enum Kind { Signed, Unsigned, Real, Boolean } kind;
  int64_t s = 0;
  uint64_t u = 0;
  double f = 0;
};

bool readScalar(Reader &r, ValueType type, Scalar &out) {
  uint8_t u8;
  uint16_t u16;
  uint32_t u32;
  uint64_t u64;
  switch (type) {
  case ValueType::UInt8:
    if (!r.readU8(u8))
      return false;
    out = {Scalar::Unsigned, 0, u8, 0};
    return true;
  case ValueType::Int8:
    if (!r.readU8(u8))
      return false;
    out = {Scalar::Signed, static_cast<int8_t>(u8), 0, 0};
    return true;
  case ValueType::UInt16:
    if (!r.readU16(u16))
      return false;
    out = {Scalar::Unsigned, 0, u16, 0};
    return true;
  case ValueType::Int16:
    if (!r.readU16(u16))
      return false;
    out = {Scalar::Signed, static_cast<int16_t>(u16), 0, 0};
    return true;
  case ValueType::UInt32:
    if (!r.readU32(u32))
      return false;
    out = {Scalar::Unsigned, 0, u32, 0};
    return true;
  case ValueType::Int32:
    if (!r.readU32(u32))
      return false;
    out = {Scalar::Signed, static_cast<int32_t>(u32), 0, 0};
    return true;
  case ValueType::UInt64:
    if (!r.readU64(u64))
      return false;
    out = {Scalar::Unsigned, 0, u64, 0};
    return true;
  case ValueType::Int64:
    if (!r.readU64(u64))
      return false;
    out = {Scalar::Signed, static_cast<int64_t>(u64), 0, 0};
    return true;
  case ValueType::Float32: {
    if (!r.readU32(u32))
      return false;
    float f;
    std::memcpy(&f, &u32, sizeof(f));
    out = {Scalar::Real, 0, 0, f};
    return true;
  }
  case ValueType::Float64: {
    if (!r.readU64(u64))
      return false;
    double d;
    std::memcpy(&d, &u64, sizeof(d));
    out = {Scalar::Real, 0, 0, d};
    return true;
  }
  case ValueType::Bool:
    if (!r.readU8(u8))
      return false;
    out = {Scalar::Boolean, 0, u8 != 0, 0};
    return true;
  case ValueType::String:
  case ValueType::Array:
    return false;
  }
  return false;
}

std::optional<int64_t> scalarToInt(const Scalar &v) {
  switch (v.kind) {
  case Scalar::Signed:
    return v.s;
  case Scalar::Unsigned:
  case Scalar::Boolean:
    if (v.u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      return std::nullopt;
    return static_cast<int64_t>(v.u);
  case Scalar::Real:
    return std::nullopt;
  }
  return std::nullopt;
}

std::optional<double> scalarToFloat(const Scalar &v) {
  switch (v.kind) {
  case Scalar::Signed:
    return static_cast<double>(v.s);
  case Scalar::Unsigned:
    return static_cast<double>(v.u);
  case Scalar::Real:
    return v.f;
  case Scalar::Boolean:
    return std::nullopt;
  }
  return std::nullopt;
}

/// A name from the file for a one-line message: quoted, non-printable
/// bytes escaped, long names cut.
std::string quote(StringRef name) {
  constexpr size_t kMaxShown = 80;
  std::string out = "'";
  llvm::raw_string_ostream os(out);
  llvm::printEscapedString(name.take_front(kMaxShown), os);
  os << (name.size() > kMaxShown ? "'..." : "'");
  return out;
}

constexpr unsigned kMaxArrayDepth = 16;
constexpr unsigned kMaxDims = 4;
constexpr uint64_t kMaxKeyLength = 65535;

} // namespace

//===----------------------------------------------------------------------===//
// Parser
//===----------------------------------------------------------------------===//

namespace llmc::gguf {

bool isIntegerType(ValueType type) {
  switch (type) {
  case ValueType::UInt8:
  case ValueType::Int8:
  case ValueType::UInt16:
  case ValueType::Int16:
  case ValueType::UInt32:
  case ValueType::Int32:
  case ValueType::UInt64:
  case ValueType::Int64:
    return true;
  default:
    return false;
  }
}

/// Validates a whole file and fills in a File. Each section sets `context`
/// so a read past the end says what was being read.
class Parser {
public:
  Parser(File &file)
      : file(file), reader(file.getData(), file.getSize()),
        size(file.getSize()) {}

  llvm::Error parse();

private:
  llvm::Error error(const llvm::Twine &message) const {
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   file.path + ": " + message.str());
  }
  llvm::Error truncated() const {
    return error("truncated: " + context + " runs past end of file");
  }

  llvm::Error parseHeader(uint64_t &numTensors, uint64_t &numKeys);
  llvm::Error parseMetadata(uint64_t numKeys);
  llvm::Error skipValue(ValueType type, unsigned depth);
  llvm::Error readAlignment();
  llvm::Error parseTensorInfos(uint64_t numTensors);
  llvm::Error checkTensor(TensorInfo &tensor, uint64_t relOffset);
  llvm::Error checkOverlaps() const;

  File &file;
  Reader reader;
  uint64_t size;
  std::string context = "header";
};

} // namespace llmc::gguf

llvm::Error Parser::parse() {
  uint64_t numTensors, numKeys;
  if (llvm::Error err = parseHeader(numTensors, numKeys))
    return err;
  if (llvm::Error err = parseMetadata(numKeys))
    return err;
  if (llvm::Error err = readAlignment())
    return err;
  if (llvm::Error err = parseTensorInfos(numTensors))
    return err;
  return checkOverlaps();
}

llvm::Error Parser::parseHeader(uint64_t &numTensors, uint64_t &numKeys) {
  context = "header";
  static const char kMagic[4] = {'G', 'G', 'U', 'F'};
  uint64_t have = std::min<uint64_t>(size, 4);
  if (have != 0 && std::memcmp(file.getData(), kMagic, have) != 0)
    return error("bad magic: expected GGUF");
  uint32_t magic, version;
  if (!reader.readU32(magic) || !reader.readU32(version))
    return truncated();
  if (version != 2 && version != 3) {
    if (llvm::byteswap(version) == 2 || llvm::byteswap(version) == 3)
      return error("unsupported GGUF version " + llvm::Twine(version) +
                   " (a big-endian file; only little-endian files are "
                   "supported)");
    return error("unsupported GGUF version " + llvm::Twine(version) +
                 " (supported: 2, 3)");
  }
  file.version = version;
  if (!reader.readU64(numTensors) || !reader.readU64(numKeys))
    return truncated();
  // Each metadata entry needs at least a key length and a type tag plus a
  // one-byte value, each tensor info a name length, dim count, type and
  // offset: reject counts that cannot fit before reserving anything.
  if (numKeys > reader.remaining() / (8 + 4 + 1))
    return error("truncated: metadata count " + llvm::Twine(numKeys) +
                 " cannot fit in the file (" + llvm::Twine(size) + " bytes)");
  if (numTensors > reader.remaining() / (8 + 4 + 4 + 8))
    return error("truncated: tensor count " + llvm::Twine(numTensors) +
                 " cannot fit in the file (" + llvm::Twine(size) + " bytes)");
  return llvm::Error::success();
}

llvm::Error Parser::parseMetadata(uint64_t numKeys) {
  file.entries.reserve(numKeys);
  for (uint64_t i = 0; i < numKeys; ++i) {
    context = "metadata entry " + std::to_string(i);
    StringRef key;
    if (!reader.readString(key))
      return truncated();
    if (key.size() > kMaxKeyLength)
      return error("metadata entry " + llvm::Twine(i) + ": key of " +
                   llvm::Twine(key.size()) + " bytes is longer than " +
                   llvm::Twine(kMaxKeyLength));
    context += " (" + quote(key) + ")";
    uint32_t rawType;
    if (!reader.readU32(rawType))
      return truncated();
    if (!isKnownValueType(rawType))
      return error(context + ": unknown value type " + llvm::Twine(rawType));
    auto type = static_cast<ValueType>(rawType);
    uint64_t valueOffset = reader.getPos();
    if (llvm::Error err = skipValue(type, 0))
      return err;
    if (!file.index.try_emplace(key, file.entries.size()).second)
      return error("duplicate metadata key " + quote(key));
    file.entries.push_back({key.str(), type, valueOffset});
  }
  return llvm::Error::success();
}

llvm::Error Parser::skipValue(ValueType type, unsigned depth) {
  if (type == ValueType::String) {
    StringRef s;
    if (!reader.readString(s))
      return truncated();
    return llvm::Error::success();
  }
  if (type != ValueType::Array)
    return reader.skip(scalarSize(type)) ? llvm::Error::success() : truncated();
  if (depth >= kMaxArrayDepth)
    return error(context + ": arrays nested deeper than " +
                 llvm::Twine(kMaxArrayDepth));
  uint32_t rawElem;
  uint64_t count;
  if (!reader.readU32(rawElem) || !reader.readU64(count))
    return truncated();
  if (!isKnownValueType(rawElem))
    return error(context + ": unknown array element type " +
                 llvm::Twine(rawElem));
  auto elem = static_cast<ValueType>(rawElem);
  if (count > reader.remaining() / minValueSize(elem))
    return error("truncated: " + context + ": array of " + llvm::Twine(count) +
                 " " + valueTypeName(elem) + " values runs past end of file");
  if (elem != ValueType::String && elem != ValueType::Array)
    return reader.skip(count * scalarSize(elem)) ? llvm::Error::success()
                                                 : truncated();
  for (uint64_t i = 0; i < count; ++i)
    if (llvm::Error err = skipValue(elem, depth + 1))
      return err;
  return llvm::Error::success();
}

llvm::Error Parser::readAlignment() {
  const File::Entry *entry = file.lookup("general.alignment");
  if (!entry)
    return llvm::Error::success();
  if (!isIntegerType(entry->type))
    return error("general.alignment must be an integer, found " +
                 valueTypeName(entry->type));
  std::optional<int64_t> value = file.getInt("general.alignment");
  if (!value || *value <= 0 || !llvm::isPowerOf2_64(*value) ||
      *value > (int64_t(1) << 30))
    return error("general.alignment must be a power of two in [1, 2^30], "
                 "found " +
                 (value ? llvm::Twine(*value) : llvm::Twine("a huge value")));
  file.alignment = static_cast<uint64_t>(*value);
  return llvm::Error::success();
}

llvm::Error Parser::parseTensorInfos(uint64_t numTensors) {
  file.tensors.reserve(numTensors);
  std::vector<uint64_t> relOffsets;
  relOffsets.reserve(numTensors);
  for (uint64_t i = 0; i < numTensors; ++i) {
    context = "tensor info " + std::to_string(i);
    StringRef name;
    if (!reader.readString(name))
      return truncated();
    context += " (" + quote(name) + ")";
    uint32_t numDims;
    if (!reader.readU32(numDims))
      return truncated();
    if (numDims > kMaxDims)
      return error(context + ": " + llvm::Twine(numDims) +
                   " dimensions (at most " + llvm::Twine(kMaxDims) +
                   " are supported)");
    TensorInfo tensor;
    tensor.name = name.str();
    tensor.dims.resize(numDims);
    for (uint64_t &d : tensor.dims)
      if (!reader.readU64(d))
        return truncated();
    uint32_t rawType;
    uint64_t relOffset;
    if (!reader.readU32(rawType) || !reader.readU64(relOffset))
      return truncated();
    tensor.type = static_cast<GGMLType>(rawType);
    tensor.offset = 0;
    tensor.nbytes = 0;
    if (!file.tensorIndex.try_emplace(name, i).second)
      return error("duplicate tensor name " + quote(name));
    file.tensors.push_back(std::move(tensor));
    relOffsets.push_back(relOffset);
  }

  // The data section starts at the next multiple of the alignment.
  uint64_t end = reader.getPos();
  uint64_t padding = (file.alignment - end % file.alignment) % file.alignment;
  file.dataOffset = end + padding; // end <= size, so this cannot overflow.

  for (uint64_t i = 0; i < numTensors; ++i) {
    context = "tensor info " + std::to_string(i) + " (" +
              quote(file.tensors[i].name) + ")";
    if (llvm::Error err = checkTensor(file.tensors[i], relOffsets[i]))
      return err;
  }
  return llvm::Error::success();
}

llvm::Error Parser::checkTensor(TensorInfo &tensor, uint64_t relOffset) {
  const std::string where = "tensor " + quote(tensor.name);
  uint64_t elements = 1;
  for (uint64_t d : tensor.dims)
    if (__builtin_mul_overflow(elements, d, &elements) ||
        elements > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      return error(where + ": element count overflows (dims " +
                   llvm::join(llvm::map_range(
                                  tensor.dims,
                                  [](uint64_t v) { return std::to_string(v); }),
                              " x ") +
                   ")");
  std::optional<TypeTraits> traits = getTypeTraits(tensor.type);
  if (!traits)
    return error(where + ": unknown ggml type " +
                 llvm::Twine(static_cast<uint32_t>(tensor.type)));
  uint64_t inner = tensor.dims.empty() ? 1 : tensor.dims[0];
  if (inner % traits->blockSize != 0)
    return error(where + ": innermost dimension " + llvm::Twine(inner) +
                 " is not a multiple of the " + ggmlTypeName(tensor.type) +
                 " block size " + llvm::Twine(traits->blockSize));
  uint64_t nbytes;
  if (__builtin_mul_overflow(elements / traits->blockSize, traits->blockBytes,
                             &nbytes))
    return error(where + ": byte size overflows");
  if (relOffset % file.alignment != 0)
    return error(where + ": data offset " + llvm::Twine(relOffset) +
                 " is not a multiple of the alignment " +
                 llvm::Twine(file.alignment));
  uint64_t begin, end;
  if (__builtin_add_overflow(file.dataOffset, relOffset, &begin) ||
      __builtin_add_overflow(begin, nbytes, &end) || end > size)
    return error("truncated: data of " + where + " (" + llvm::Twine(nbytes) +
                 " bytes at data offset " + llvm::Twine(relOffset) +
                 ") runs past end of file (" + llvm::Twine(size) + " bytes)");
  tensor.offset = begin;
  tensor.nbytes = nbytes;
  return llvm::Error::success();
}

llvm::Error Parser::checkOverlaps() const {
  std::vector<const TensorInfo *> sorted;
  for (const TensorInfo &t : file.tensors)
    if (t.nbytes != 0)
      sorted.push_back(&t);
  llvm::sort(sorted, [](const TensorInfo *a, const TensorInfo *b) {
    return a->offset < b->offset;
  });
  for (size_t i = 1; i < sorted.size(); ++i)
    if (sorted[i - 1]->offset + sorted[i - 1]->nbytes > sorted[i]->offset)
      return error("data of tensors " + quote(sorted[i - 1]->name) + " and " +
                   quote(sorted[i]->name) + " overlap");
  return llvm::Error::success();
}

//===----------------------------------------------------------------------===//
// File
//===----------------------------------------------------------------------===//

llvm::Expected<std::unique_ptr<File>> File::open(StringRef path) {
  auto bufferOr = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                              /*RequiresNullTerminator=*/false,
                                              /*IsVolatile=*/false);
  if (!bufferOr)
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        path + ": cannot open: " + bufferOr.getError().message());
  return fromBuffer(std::move(*bufferOr), path);
}

llvm::Expected<std::unique_ptr<File>>
File::fromBuffer(std::unique_ptr<llvm::MemoryBuffer> buffer, StringRef path) {
  std::unique_ptr<File> file(new File());
  file->path = path.str();
  file->buffer = std::move(buffer);
  Parser parser(*file);
  if (llvm::Error err = parser.parse())
    return std::move(err);
  return std::move(file);
}

const uint8_t *File::getData() const {
  return reinterpret_cast<const uint8_t *>(buffer->getBufferStart());
}

uint64_t File::getSize() const { return buffer->getBufferSize(); }

const File::Entry *File::lookup(StringRef key) const {
  auto it = index.find(key);
  return it == index.end() ? nullptr : &entries[it->second];
}

std::vector<std::string> File::getKeys() const {
  std::vector<std::string> keys;
  keys.reserve(entries.size());
  for (const Entry &e : entries)
    keys.push_back(e.key);
  return keys;
}

std::optional<ValueType> File::getValueType(StringRef key) const {
  if (const Entry *e = lookup(key))
    return e->type;
  return std::nullopt;
}

std::optional<std::pair<ValueType, uint64_t>>
File::getArrayInfo(StringRef key) const {
  const Entry *e = lookup(key);
  if (!e || e->type != ValueType::Array)
    return std::nullopt;
  Reader r(getData(), getSize(), e->valueOffset);
  uint32_t elem;
  uint64_t count;
  if (!r.readU32(elem) || !r.readU64(count))
    return std::nullopt;
  return std::make_pair(static_cast<ValueType>(elem), count);
}

std::optional<std::string> File::getString(StringRef key) const {
  const Entry *e = lookup(key);
  if (!e || e->type != ValueType::String)
    return std::nullopt;
  Reader r(getData(), getSize(), e->valueOffset);
  StringRef s;
  if (!r.readString(s))
    return std::nullopt;
  return s.str();
}

std::optional<int64_t> File::getInt(StringRef key) const {
  const Entry *e = lookup(key);
  if (!e || !(isIntegerType(e->type) || e->type == ValueType::Bool))
    return std::nullopt;
  Reader r(getData(), getSize(), e->valueOffset);
  Scalar v;
  if (!readScalar(r, e->type, v))
    return std::nullopt;
  return scalarToInt(v);
}

std::optional<double> File::getFloat(StringRef key) const {
  const Entry *e = lookup(key);
  if (!e || !(isIntegerType(e->type) || e->type == ValueType::Float32 ||
              e->type == ValueType::Float64))
    return std::nullopt;
  Reader r(getData(), getSize(), e->valueOffset);
  Scalar v;
  if (!readScalar(r, e->type, v))
    return std::nullopt;
  return scalarToFloat(v);
}

std::optional<bool> File::getBool(StringRef key) const {
  const Entry *e = lookup(key);
  if (!e || e->type != ValueType::Bool)
    return std::nullopt;
  Reader r(getData(), getSize(), e->valueOffset);
  Scalar v;
  if (!readScalar(r, e->type, v))
    return std::nullopt;
  return v.u != 0;
}

namespace {
/// Positions `r` at the first element of the array value of `e` if its
/// elements satisfy `accept`; returns the element type and count.
template <typename Accept>
std::optional<std::pair<ValueType, uint64_t>>
openArray(Reader &r, ValueType entryType, Accept accept) {
  if (entryType != ValueType::Array)
    return std::nullopt;
  uint32_t elem;
  uint64_t count;
  if (!r.readU32(elem) || !r.readU64(count) || !isKnownValueType(elem) ||
      !accept(static_cast<ValueType>(elem)))
    return std::nullopt;
  return std::make_pair(static_cast<ValueType>(elem), count);
}
} // namespace

std::optional<std::vector<std::string>>
File::getStringArray(StringRef key) const {
  const Entry *e = lookup(key);
  if (!e)
    return std::nullopt;
  Reader r(getData(), getSize(), e->valueOffset);
  auto info =
      openArray(r, e->type, [](ValueType t) { return t == ValueType::String; });
  if (!info)
    return std::nullopt;
  std::vector<std::string> values;
  values.reserve(info->second);
  for (uint64_t i = 0; i < info->second; ++i) {
    StringRef s;
    if (!r.readString(s))
      return std::nullopt;
    values.push_back(s.str());
  }
  return values;
}

std::optional<std::vector<double>> File::getFloatArray(StringRef key) const {
  const Entry *e = lookup(key);
  if (!e)
    return std::nullopt;
  Reader r(getData(), getSize(), e->valueOffset);
  auto info = openArray(r, e->type, [](ValueType t) {
    return isIntegerType(t) || t == ValueType::Float32 ||
           t == ValueType::Float64;
  });
  if (!info)
    return std::nullopt;
  std::vector<double> values;
  values.reserve(info->second);
  for (uint64_t i = 0; i < info->second; ++i) {
    Scalar v;
    if (!readScalar(r, info->first, v))
      return std::nullopt;
    values.push_back(*scalarToFloat(v));
  }
  return values;
}

std::optional<std::vector<int64_t>> File::getIntArray(StringRef key) const {
  const Entry *e = lookup(key);
  if (!e)
    return std::nullopt;
  Reader r(getData(), getSize(), e->valueOffset);
  auto info = openArray(r, e->type, [](ValueType t) {
    return isIntegerType(t) || t == ValueType::Bool;
  });
  if (!info)
    return std::nullopt;
  std::vector<int64_t> values;
  values.reserve(info->second);
  for (uint64_t i = 0; i < info->second; ++i) {
    Scalar v;
    if (!readScalar(r, info->first, v))
      return std::nullopt;
    std::optional<int64_t> value = scalarToInt(v);
    if (!value)
      return std::nullopt;
    values.push_back(*value);
  }
  return values;
}

const TensorInfo *File::findTensor(StringRef name) const {
  auto it = tensorIndex.find(name);
  return it == tensorIndex.end() ? nullptr : &tensors[it->second];
}

llvm::ArrayRef<uint8_t> File::getTensorData(const TensorInfo &tensor) const {
  if (tensor.offset > getSize() || tensor.nbytes > getSize() - tensor.offset)
    return {};
  return llvm::ArrayRef<uint8_t>(getData() + tensor.offset, tensor.nbytes);
}
