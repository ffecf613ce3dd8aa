//===- Safetensors.cpp - safetensors container reader ---------------------===//
//
// Part of llmc. Written from the safetensors format description: an 8-byte
// little-endian header length N, N bytes of JSON, then the tensor data. The
// whole header is validated in File::parse; afterwards every tensor's bytes
// are known to lie inside the file.
//
//===----------------------------------------------------------------------===//

#include "llmc/Import/Safetensors.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/raw_ostream.h"
#include <algorithm>
#include <limits>
#include <tuple>

using namespace llmc::safetensors;
using llvm::StringRef;

//===----------------------------------------------------------------------===//
// Types
//===----------------------------------------------------------------------===//

namespace {
struct DTypeEntry {
  DType type;
  const char *name;
  unsigned size;
};
constexpr DTypeEntry kDTypes[] = {
    {DType::BOOL, "BOOL", 1},       {DType::U8, "U8", 1},
    {DType::I8, "I8", 1},           {DType::F8_E5M2, "F8_E5M2", 1},
    {DType::F8_E4M3, "F8_E4M3", 1}, {DType::I16, "I16", 2},
    {DType::U16, "U16", 2},         {DType::F16, "F16", 2},
    {DType::BF16, "BF16", 2},       {DType::I32, "I32", 4},
    {DType::U32, "U32", 4},         {DType::F32, "F32", 4},
    {DType::F64, "F64", 8},         {DType::I64, "I64", 8},
    {DType::U64, "U64", 8},
};

const DTypeEntry &entryOf(DType type) {
  for (const DTypeEntry &entry : kDTypes)
    if (entry.type == type)
      return entry;
  return kDTypes[0]; // Unreachable: every enumerator is listed.
}
} // namespace

StringRef llmc::safetensors::dtypeName(DType type) {
  return entryOf(type).name;
}

std::optional<DType> llmc::safetensors::parseDType(StringRef name) {
  for (const DTypeEntry &entry : kDTypes)
    if (name == entry.name)
      return entry.type;
  return std::nullopt;
}

unsigned llmc::safetensors::dtypeSize(DType type) { return entryOf(type).size; }

uint64_t TensorInfo::getNumElements() const {
  uint64_t n = 1;
  for (int64_t d : shape)
    n *= uint64_t(d); // Cannot overflow: checked when the file was opened.
  return n;
}

//===----------------------------------------------------------------------===//
// JSON
//===----------------------------------------------------------------------===//

llvm::Expected<llvm::json::Value>
llmc::safetensors::parseJSON(StringRef text, const llvm::Twine &what,
                             unsigned maxDepth) {
  // Bracket depth outside strings; malformed text is left to the parser.
  unsigned depth = 0;
  bool inString = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (inString) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        inString = false;
    } else if (c == '"') {
      inString = true;
    } else if (c == '[' || c == '{') {
      if (++depth > maxDepth)
        return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                       what + ": nested deeper than " +
                                           llvm::Twine(maxDepth) + " levels");
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  llvm::Expected<llvm::json::Value> value = llvm::json::parse(text);
  if (!value)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   what + ": " +
                                       llvm::toString(value.takeError()));
  return value;
}

std::optional<int64_t>
llmc::safetensors::getJSONInteger(const llvm::json::Value &value) {
  // Integers written as such convert exactly; a double passes to
  // getAsInteger only below 2^63 (its bound double(INT64_MAX) is 2^63).
  if (std::optional<uint64_t> u = value.getAsUINT64()) {
    if (*u > uint64_t(std::numeric_limits<int64_t>::max()))
      return std::nullopt;
    return int64_t(*u);
  }
  std::optional<double> d = value.getAsNumber();
  if (!d || !(*d < 0x1p63))
    return std::nullopt;
  return value.getAsInteger();
}

//===----------------------------------------------------------------------===//
// File
//===----------------------------------------------------------------------===//

std::string llmc::safetensors::quote(StringRef name) {
  constexpr size_t kMaxShown = 80;
  std::string out = "'";
  llvm::raw_string_ostream os(out);
  llvm::printEscapedString(name.take_front(kMaxShown), os);
  os << (name.size() > kMaxShown ? "'..." : "'");
  return out;
}

static std::string shapeStr(llvm::ArrayRef<int64_t> shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

llvm::Error File::parse() {
  auto error = [&](const llvm::Twine &message) {
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   path + ": " + message);
  };
  uint64_t size = getSize();
  if (size < 8)
    return error("truncated: " + llvm::Twine(size) +
                 " bytes, too short for the 8-byte header length");
  const char *data = buffer->getBufferStart();
  uint64_t headerSize =
      llvm::support::endian::read64le(reinterpret_cast<const uint8_t *>(data));
  if (headerSize > size - 8)
    return error("header length " + llvm::Twine(headerSize) +
                 " runs past the end of the file (" + llvm::Twine(size) +
                 " bytes)");
  if (headerSize > kMaxHeaderSize)
    return error("header length " + llvm::Twine(headerSize) +
                 " exceeds the limit of " + llvm::Twine(kMaxHeaderSize) +
                 " bytes");
  dataOffset = 8 + headerSize;
  uint64_t dataSize = size - dataOffset;

  StringRef text(data + 8, headerSize);
  llvm::Expected<llvm::json::Value> parsed =
      parseJSON(text, path + ": invalid JSON header");
  if (!parsed)
    return parsed.takeError();
  const llvm::json::Object *root = parsed->getAsObject();
  if (!root)
    return error("the header is not a JSON object");

  for (const auto &[key, value] : *root) {
    std::string name = key.str();
    if (name == "__metadata__") {
      const llvm::json::Object *entries = value.getAsObject();
      if (!entries)
        return error("__metadata__ is not an object of strings");
      for (const auto &[metaKey, metaValue] : *entries) {
        std::optional<StringRef> s = metaValue.getAsString();
        if (!s)
          return error("__metadata__ entry " + quote(metaKey) +
                       " is not a string");
        metadata[StringRef(metaKey)] = s->str();
      }
      continue;
    }
    auto fail = [&](const llvm::Twine &message) {
      return error("tensor " + quote(name) + ": " + message);
    };
    const llvm::json::Object *entry = value.getAsObject();
    if (!entry)
      return fail("expected an object with dtype, shape and data_offsets");
    std::optional<StringRef> dtypeText = entry->getString("dtype");
    if (!dtypeText)
      return fail("missing dtype");
    std::optional<DType> dtype = parseDType(*dtypeText);
    if (!dtype)
      return fail("unknown dtype " + quote(*dtypeText));
    const llvm::json::Array *shapeArray = entry->getArray("shape");
    if (!shapeArray)
      return fail("missing shape");
    TensorInfo info;
    info.name = name;
    info.dtype = *dtype;
    for (const llvm::json::Value &dim : *shapeArray) {
      std::optional<int64_t> d = getJSONInteger(dim);
      if (!d || *d < 0)
        return fail("shape must hold non-negative integers");
      info.shape.push_back(*d);
    }
    uint64_t elements = 1;
    for (int64_t d : info.shape)
      if (__builtin_mul_overflow(elements, uint64_t(d), &elements))
        return fail("element count of shape " + shapeStr(info.shape) +
                    " overflows");
    if (__builtin_mul_overflow(elements, uint64_t(dtypeSize(*dtype)),
                               &info.nbytes))
      return fail("byte size of " + dtypeName(*dtype) + " " +
                  shapeStr(info.shape) + " overflows");
    const llvm::json::Array *offsets = entry->getArray("data_offsets");
    std::optional<int64_t> begin, end;
    if (offsets && offsets->size() == 2) {
      begin = getJSONInteger((*offsets)[0]);
      end = getJSONInteger((*offsets)[1]);
    }
    if (!begin || !end || *begin < 0 || *end < *begin)
      return fail("data_offsets must be [begin, end] with 0 <= begin <= end");
    if (uint64_t(*end) > dataSize)
      return error("truncated: data of tensor " + quote(name) + " (bytes " +
                   llvm::Twine(*begin) + " to " + llvm::Twine(*end) +
                   " of the data) runs past the end of the file (" +
                   llvm::Twine(dataSize) + " bytes of data)");
    if (uint64_t(*end - *begin) != info.nbytes)
      return fail("data_offsets span " + llvm::Twine(*end - *begin) +
                  " bytes, but " + dtypeName(*dtype) + " " +
                  shapeStr(info.shape) + " needs " + llvm::Twine(info.nbytes));
    info.offset = dataOffset + uint64_t(*begin); // <= size: no overflow.
    tensors.push_back(std::move(info));
  }
  llvm::sort(tensors, [](const TensorInfo &a, const TensorInfo &b) {
    return std::tie(a.offset, a.name) < std::tie(b.offset, b.name);
  });
  // Each byte of the data belongs to at most one tensor.
  const TensorInfo *previous = nullptr;
  for (const TensorInfo &t : tensors) {
    if (t.nbytes == 0)
      continue;
    if (previous && previous->offset + previous->nbytes > t.offset)
      return error("data of tensors " + quote(previous->name) + " and " +
                   quote(t.name) + " overlap");
    previous = &t;
  }
  for (size_t i = 0; i < tensors.size(); ++i)
    tensorIndex[tensors[i].name] = i;
  return llvm::Error::success();
}

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
  if (llvm::Error err = file->parse())
    return std::move(err);
  return std::move(file);
}

uint64_t File::getSize() const { return buffer->getBufferSize(); }

const TensorInfo *File::findTensor(StringRef name) const {
  auto it = tensorIndex.find(name);
  return it == tensorIndex.end() ? nullptr : &tensors[it->second];
}

llvm::ArrayRef<uint8_t> File::getTensorData(const TensorInfo &tensor) const {
  return llvm::ArrayRef<uint8_t>(
      reinterpret_cast<const uint8_t *>(buffer->getBufferStart()) +
          tensor.offset,
      tensor.nbytes);
}
