//===- GGUF.h - GGUF model file reader --------------------------*- C++ -*-===//
//
// Part of llmc. A validating, zero-copy reader of GGUF v2/v3 files (the model
// format of the ggml ecosystem). The file is mapped read-only; metadata values
// are decoded on demand from the mapping and tensor data is never copied.
//
// Every structural property is checked when the file is opened (string
// lengths, array counts, nesting, tensor shapes, types, offsets, alignment),
// so a File that opened successfully can be read without further bounds
// checks. Errors are one line, `PATH: problem`.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_IMPORT_GGUF_H
#define LLMC_IMPORT_GGUF_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/MemoryBuffer.h"
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace llmc::gguf {

/// ggml tensor element types. Values are the on-disk numbers; a value not
/// listed here may still appear in a GGMLType (the raw number is kept).
enum class GGMLType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  BF16 = 30,
};

/// "F32", "Q4_K", ...; "type N" for a type this reader does not know.
llvm::StringRef ggmlTypeName(GGMLType type);

/// Storage geometry of a ggml type: `blockBytes` bytes hold `blockSize`
/// consecutive elements of the innermost dimension. Empty for an unknown type.
struct TypeTraits {
  uint32_t blockSize;
  uint32_t blockBytes;
};
std::optional<TypeTraits> getTypeTraits(GGMLType type);

/// GGUF metadata value types (on-disk numbers).
enum class ValueType : uint32_t {
  UInt8 = 0,
  Int8 = 1,
  UInt16 = 2,
  Int16 = 3,
  UInt32 = 4,
  Int32 = 5,
  Float32 = 6,
  Bool = 7,
  String = 8,
  Array = 9,
  UInt64 = 10,
  Int64 = 11,
  Float64 = 12,
};

/// "uint8", "string", "array", ...
llvm::StringRef valueTypeName(ValueType type);

/// Whether `type` is one of the eight integer types (not Bool).
bool isIntegerType(ValueType type);

struct TensorInfo {
  std::string name;
  /// GGUF order: dims[0] is the innermost (contiguous) dimension.
  std::vector<uint64_t> dims;
  GGMLType type;
  /// Absolute byte offset of the data in the file.
  uint64_t offset;
  uint64_t nbytes;

  /// Product of the dimensions (1 for a scalar).
  uint64_t getNumElements() const;
};

class File {
public:
  /// Maps `path` read-only and validates it.
  static llvm::Expected<std::unique_ptr<File>> open(llvm::StringRef path);
  /// Validates an in-memory image; `path` is only used in messages.
  static llvm::Expected<std::unique_ptr<File>>
  fromBuffer(std::unique_ptr<llvm::MemoryBuffer> buffer, llvm::StringRef path);

  uint32_t getVersion() const { return version; }
  llvm::StringRef getPath() const { return path; }
  const uint8_t *getData() const;
  uint64_t getSize() const;
  /// General alignment of tensor data (general.alignment, default 32).
  uint64_t getAlignment() const { return alignment; }
  /// Absolute offset of the tensor data section.
  uint64_t getDataOffset() const { return dataOffset; }

  // Typed metadata accessors. Each returns std::nullopt when the key is
  // missing or its value is of a kind the accessor does not convert.

  std::optional<std::string> getString(llvm::StringRef key) const;
  /// Any integer kind or bool (uint64 values above INT64_MAX: nullopt).
  std::optional<int64_t> getInt(llvm::StringRef key) const;
  /// float32/float64 and integers.
  std::optional<double> getFloat(llvm::StringRef key) const;
  std::optional<bool> getBool(llvm::StringRef key) const;
  std::optional<std::vector<std::string>>
  getStringArray(llvm::StringRef key) const;
  std::optional<std::vector<double>> getFloatArray(llvm::StringRef key) const;
  std::optional<std::vector<int64_t>> getIntArray(llvm::StringRef key) const;

  /// Metadata keys in file order.
  std::vector<std::string> getKeys() const;
  bool hasKey(llvm::StringRef key) const { return index.count(key); }
  /// The value type of `key`.
  std::optional<ValueType> getValueType(llvm::StringRef key) const;
  /// Element type and element count of an array value.
  std::optional<std::pair<ValueType, uint64_t>>
  getArrayInfo(llvm::StringRef key) const;

  const std::vector<TensorInfo> &getTensors() const { return tensors; }
  const TensorInfo *findTensor(llvm::StringRef name) const;
  /// The bytes of a tensor of this file.
  llvm::ArrayRef<uint8_t> getTensorData(const TensorInfo &tensor) const;

private:
  File() = default;

  /// A metadata entry: its value is decoded from the mapping on demand.
  struct Entry {
    std::string key;
    ValueType type;
    /// Absolute offset of the value bytes (after the type tag).
    uint64_t valueOffset;
  };
  const Entry *lookup(llvm::StringRef key) const;

  std::string path;
  std::unique_ptr<llvm::MemoryBuffer> buffer;
  uint32_t version = 0;
  uint64_t alignment = 32;
  uint64_t dataOffset = 0;
  std::vector<Entry> entries;
  llvm::StringMap<size_t> index;
  std::vector<TensorInfo> tensors;
  llvm::StringMap<size_t> tensorIndex;

  friend class Parser;
};

} // namespace llmc::gguf

#endif // LLMC_IMPORT_GGUF_H
