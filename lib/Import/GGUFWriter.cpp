//===- GGUFWriter.cpp - streaming GGUF v3 writer --------------------------===//
//
// Part of llmc. The layout GGUF.cpp reads: "GGUF", version 3, tensor count,
// metadata count (u64), the key/value pairs, the tensor infos, padding to
// general.alignment, then each tensor's data at an aligned offset. All
// numbers little-endian. Metadata values are serialized when added, so
// begin() only concatenates.
//
//===----------------------------------------------------------------------===//

#include "llmc/Import/GGUFWriter.h"
#include "llvm/ADT/Twine.h"
#include "llvm/ADT/bit.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MathExtras.h"
#include "llvm/Support/raw_ostream.h"

using namespace llmc::gguf;
using llvm::StringRef;

namespace {

template <typename T> void put(std::string &out, T value) {
  char bytes[sizeof(T)];
  llvm::support::endian::write<T, llvm::endianness::little>(bytes, value);
  out.append(bytes, sizeof(T));
}

void putString(std::string &out, StringRef s) {
  put<uint64_t>(out, s.size());
  out.append(s.data(), s.size());
}

/// Serializes one integer as `type` (an integer type or Bool).
void putInt(std::string &out, ValueType type, int64_t v) {
  switch (type) {
  case ValueType::UInt8:
  case ValueType::Int8:
  case ValueType::Bool:
    put<uint8_t>(out, uint8_t(type == ValueType::Bool ? v != 0 : v));
    return;
  case ValueType::UInt16:
  case ValueType::Int16:
    put<uint16_t>(out, uint16_t(v));
    return;
  case ValueType::UInt32:
  case ValueType::Int32:
    put<uint32_t>(out, uint32_t(v));
    return;
  default:
    put<uint64_t>(out, uint64_t(v));
    return;
  }
}

bool isIntegerOrBool(ValueType t) {
  return isIntegerType(t) || t == ValueType::Bool;
}

llvm::Error makeError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

} // namespace

Writer::Writer(uint64_t alignment) : alignment(alignment) {
  if (!llvm::isPowerOf2_64(alignment))
    this->alignment = 32;
}

Writer::~Writer() { discard(); }

//===----------------------------------------------------------------------===//
// Metadata
//===----------------------------------------------------------------------===//

void Writer::setValue(StringRef key, ValueType type, std::string bytes) {
  std::string entry;
  put<uint32_t>(entry, uint32_t(type));
  entry += bytes;
  auto [it, inserted] = keyIndex.try_emplace(key, values.size());
  if (inserted)
    values.emplace_back(key.str(), std::move(entry));
  else
    values[it->second].second = std::move(entry);
}

void Writer::removeKey(StringRef key) {
  auto it = keyIndex.find(key);
  if (it == keyIndex.end())
    return;
  values.erase(values.begin() + it->second);
  keyIndex.clear();
  for (size_t i = 0; i < values.size(); ++i)
    keyIndex[values[i].first] = i;
}

#define LLMC_SCALAR(NAME, CTYPE, VTYPE, STORED)                                \
  void Writer::NAME(StringRef key, CTYPE value) {                              \
    std::string bytes;                                                         \
    put<STORED>(bytes, llvm::bit_cast<STORED>(value));                         \
    setValue(key, ValueType::VTYPE, std::move(bytes));                         \
  }
LLMC_SCALAR(addUInt8, uint8_t, UInt8, uint8_t)
LLMC_SCALAR(addInt8, int8_t, Int8, uint8_t)
LLMC_SCALAR(addUInt16, uint16_t, UInt16, uint16_t)
LLMC_SCALAR(addInt16, int16_t, Int16, uint16_t)
LLMC_SCALAR(addUInt32, uint32_t, UInt32, uint32_t)
LLMC_SCALAR(addInt32, int32_t, Int32, uint32_t)
LLMC_SCALAR(addUInt64, uint64_t, UInt64, uint64_t)
LLMC_SCALAR(addInt64, int64_t, Int64, uint64_t)
LLMC_SCALAR(addFloat32, float, Float32, uint32_t)
LLMC_SCALAR(addFloat64, double, Float64, uint64_t)
#undef LLMC_SCALAR

void Writer::addBool(StringRef key, bool value) {
  setValue(key, ValueType::Bool, std::string(1, value ? '\1' : '\0'));
}

void Writer::addString(StringRef key, StringRef value) {
  std::string bytes;
  putString(bytes, value);
  setValue(key, ValueType::String, std::move(bytes));
}

void Writer::addStringArray(StringRef key, llvm::ArrayRef<std::string> items) {
  std::string bytes;
  put<uint32_t>(bytes, uint32_t(ValueType::String));
  put<uint64_t>(bytes, items.size());
  for (const std::string &s : items)
    putString(bytes, s);
  setValue(key, ValueType::Array, std::move(bytes));
}

void Writer::addIntArray(StringRef key, ValueType elementType,
                         llvm::ArrayRef<int64_t> items) {
  if (!isIntegerOrBool(elementType))
    elementType = ValueType::Int64;
  std::string bytes;
  put<uint32_t>(bytes, uint32_t(elementType));
  put<uint64_t>(bytes, items.size());
  for (int64_t v : items)
    putInt(bytes, elementType, v);
  setValue(key, ValueType::Array, std::move(bytes));
}

void Writer::addFloatArray(StringRef key, ValueType elementType,
                           llvm::ArrayRef<double> items) {
  if (elementType != ValueType::Float64)
    elementType = ValueType::Float32;
  std::string bytes;
  put<uint32_t>(bytes, uint32_t(elementType));
  put<uint64_t>(bytes, items.size());
  for (double v : items) {
    if (elementType == ValueType::Float32)
      put<uint32_t>(bytes, llvm::bit_cast<uint32_t>(float(v)));
    else
      put<uint64_t>(bytes, llvm::bit_cast<uint64_t>(v));
  }
  setValue(key, ValueType::Array, std::move(bytes));
}

llvm::Error Writer::copyValue(const File &file, StringRef key) {
  std::optional<ValueType> type = file.getValueType(key);
  auto cannot = [&](const llvm::Twine &why) {
    return makeError(file.getPath() + ": cannot copy '" + key + "': " + why);
  };
  if (!type)
    return cannot("no such key");
  switch (*type) {
  case ValueType::String:
    addString(key, *file.getString(key));
    return llvm::Error::success();
  case ValueType::Float32:
    addFloat32(key, float(*file.getFloat(key)));
    return llvm::Error::success();
  case ValueType::Float64:
    addFloat64(key, *file.getFloat(key));
    return llvm::Error::success();
  case ValueType::Bool:
    addBool(key, *file.getBool(key));
    return llvm::Error::success();
  case ValueType::Array: {
    std::optional<std::pair<ValueType, uint64_t>> info = file.getArrayInfo(key);
    if (!info)
      return cannot("unreadable array");
    ValueType element = info->first;
    if (element == ValueType::String) {
      addStringArray(key, *file.getStringArray(key));
    } else if (element == ValueType::Float32 || element == ValueType::Float64) {
      addFloatArray(key, element, *file.getFloatArray(key));
    } else if (isIntegerOrBool(element)) {
      std::optional<std::vector<int64_t>> ints = file.getIntArray(key);
      if (!ints)
        return cannot("integer array with values above 2^63");
      addIntArray(key, element, *ints);
    } else {
      return cannot("arrays of " + valueTypeName(element) +
                    " are not supported");
    }
    return llvm::Error::success();
  }
  default: {
    // Integers: UInt64 values above INT64_MAX do not round-trip getInt.
    std::optional<int64_t> v = file.getInt(key);
    if (!v)
      return cannot("value above 2^63");
    std::string bytes;
    putInt(bytes, *type, *v);
    setValue(key, *type, std::move(bytes));
    return llvm::Error::success();
  }
  }
}

//===----------------------------------------------------------------------===//
// Tensors
//===----------------------------------------------------------------------===//

llvm::Error Writer::addTensor(StringRef name, llvm::ArrayRef<uint64_t> dims,
                              GGMLType type) {
  std::optional<TypeTraits> traits = getTypeTraits(type);
  if (!traits)
    return makeError("tensor '" + name + "': unknown type " +
                     ggmlTypeName(type));
  if (dims.empty() || dims.size() > 4)
    return makeError("tensor '" + name + "': expected 1 to 4 dimensions");
  if (dims[0] % traits->blockSize)
    return makeError("tensor '" + name + "': innermost dimension " +
                     llvm::Twine(dims[0]) + " is not a multiple of the " +
                     ggmlTypeName(type) + " block size " +
                     llvm::Twine(traits->blockSize));
  uint64_t elements = 1;
  for (uint64_t d : dims)
    elements *= d;
  Tensor t{name.str(), dims.vec(), type, 0,
           elements / traits->blockSize * traits->blockBytes};
  t.offset = llvm::alignTo(dataSize, alignment);
  dataSize = t.offset + t.nbytes;
  tensors.push_back(std::move(t));
  return llvm::Error::success();
}

uint64_t Writer::getTensorBytes(size_t index) const {
  return tensors[index].nbytes;
}

uint64_t Writer::getHeaderSize() const {
  uint64_t size = 4 + 4 + 8 + 8;
  for (const auto &[key, value] : values)
    size += 8 + key.size() + value.size();
  // general.alignment is added by begin() when missing.
  if (!keyIndex.count("general.alignment"))
    size += 8 + StringRef("general.alignment").size() + 4 + 4;
  for (const Tensor &t : tensors)
    size += 8 + t.name.size() + 4 + 8 * t.dims.size() + 4 + 8;
  return llvm::alignTo(size, alignment);
}

uint64_t Writer::getFileSize() const {
  return getHeaderSize() + llvm::alignTo(dataSize, alignment);
}

//===----------------------------------------------------------------------===//
// Writing
//===----------------------------------------------------------------------===//

llvm::Error Writer::writeError(const llvm::Twine &what) {
  std::string message = (path + ": " + what).str();
  discard();
  return makeError(message);
}

llvm::Error Writer::begin(StringRef destination) {
  if (began)
    return makeError(destination + ": writer already started");
  path = destination.str();
  began = true;
  if (!keyIndex.count("general.alignment"))
    addUInt32("general.alignment", uint32_t(alignment));

  llvm::Expected<llvm::sys::fs::TempFile> created =
      llvm::sys::fs::TempFile::create(path + ".tmp-%%%%%%");
  if (!created) {
    std::string reason = llvm::toString(created.takeError());
    return makeError(path + ": cannot create: " + reason);
  }
  temp = std::make_unique<llvm::sys::fs::TempFile>(std::move(*created));
  os = std::make_unique<llvm::raw_fd_ostream>(temp->FD, /*shouldClose=*/false);
  os->SetBufferSize(1 << 20);

  std::string header;
  header += "GGUF";
  put<uint32_t>(header, 3);
  put<uint64_t>(header, tensors.size());
  put<uint64_t>(header, values.size());
  for (const auto &[key, value] : values) {
    putString(header, key);
    header += value;
  }
  for (const Tensor &t : tensors) {
    putString(header, t.name);
    put<uint32_t>(header, uint32_t(t.dims.size()));
    for (uint64_t d : t.dims)
      put<uint64_t>(header, d);
    put<uint32_t>(header, uint32_t(t.type));
    put<uint64_t>(header, t.offset);
  }
  header.resize(llvm::alignTo(header.size(), alignment), '\0');
  *os << header;
  current = 0;
  written = 0;
  // Leading empty tensors (none in practice) are complete already.
  while (current < tensors.size() && tensors[current].nbytes == 0)
    ++current;
  if (os->has_error())
    return writeError(os->error().message());
  return llvm::Error::success();
}

llvm::Error Writer::pad(uint64_t bytes) {
  static const char zeros[64] = {};
  while (bytes) {
    uint64_t n = std::min<uint64_t>(bytes, sizeof(zeros));
    os->write(zeros, n);
    bytes -= n;
  }
  return llvm::Error::success();
}

llvm::Error Writer::writeTensorData(llvm::ArrayRef<uint8_t> bytes) {
  if (!os)
    return makeError(path + ": tensor data written before begin()");
  while (!bytes.empty()) {
    if (current == tensors.size())
      return writeError("more tensor data than the tensors hold");
    const Tensor &t = tensors[current];
    uint64_t n = std::min<uint64_t>(bytes.size(), t.nbytes - written);
    os->write(reinterpret_cast<const char *>(bytes.data()), n);
    bytes = bytes.drop_front(n);
    written += n;
    while (current < tensors.size() && written == tensors[current].nbytes) {
      uint64_t end = tensors[current].offset + tensors[current].nbytes;
      ++current;
      written = 0;
      uint64_t next = current < tensors.size() ? tensors[current].offset
                                               : llvm::alignTo(end, alignment);
      if (llvm::Error e = pad(next - end))
        return e;
    }
  }
  if (os->has_error())
    return writeError(os->error().message());
  return llvm::Error::success();
}

llvm::Error Writer::finish() {
  if (!os)
    return makeError(path + ": finish() before begin()");
  if (current != tensors.size())
    return writeError("tensor data missing from '" + tensors[current].name +
                      "' on");
  os->flush();
  if (os->has_error())
    return writeError(os->error().message());
  os.reset();
  if (llvm::Error e = temp->keep(path)) {
    std::string reason = llvm::toString(std::move(e));
    return writeError("cannot write: " + reason);
  }
  temp.reset();
  return llvm::Error::success();
}

void Writer::discard() {
  if (os) {
    os->clear_error();
    os.reset();
  }
  if (temp) {
    llvm::consumeError(temp->discard());
    temp.reset();
  }
}
