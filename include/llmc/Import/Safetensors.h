//===- Safetensors.h - safetensors container reader -------------*- C++ -*-===//
//
// Part of llmc. A validating, zero-copy reader of .safetensors files (the
// Hugging Face weight container):
//
//   uint64 N (little endian) | N bytes of JSON header | tensor data
//
// The header maps each tensor name to {"dtype", "shape", "data_offsets":
// [begin, end]} (offsets relative to the data, which starts at 8 + N) and may
// hold a "__metadata__" object of strings. The file is mapped read-only and
// every property is checked when it is opened (header length, JSON, dtypes,
// shapes, offsets against the file size and the byte count the dtype and
// shape need, no two tensors sharing bytes), so a File that opened
// successfully can be read without further bounds checks. Errors are one
// line, `PATH: problem`.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_IMPORT_SAFETENSORS_H
#define LLMC_IMPORT_SAFETENSORS_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace llmc::safetensors {

/// Element types of the safetensors format.
enum class DType {
  BOOL,
  U8,
  I8,
  F8_E5M2,
  F8_E4M3,
  I16,
  U16,
  F16,
  BF16,
  I32,
  U32,
  F32,
  F64,
  I64,
  U64,
};

/// "F32", "BF16", ... (the spelling of the header).
llvm::StringRef dtypeName(DType type);
/// The dtype spelled `name`; empty for an unknown spelling.
std::optional<DType> parseDType(llvm::StringRef name);
/// Bytes per element.
unsigned dtypeSize(DType type);

struct TensorInfo {
  std::string name;
  DType dtype;
  /// Outermost first (row-major); empty for a scalar.
  std::vector<int64_t> shape;
  /// Absolute byte offset of the data in the file.
  uint64_t offset;
  uint64_t nbytes;

  /// Product of the dimensions (1 for a scalar).
  uint64_t getNumElements() const;
};

class File {
public:
  /// Longest header accepted (the limit of the reference implementation).
  static constexpr uint64_t kMaxHeaderSize = 100'000'000;

  /// Maps `path` read-only and validates it.
  static llvm::Expected<std::unique_ptr<File>> open(llvm::StringRef path);
  /// Validates an in-memory image; `path` is only used in messages.
  static llvm::Expected<std::unique_ptr<File>>
  fromBuffer(std::unique_ptr<llvm::MemoryBuffer> buffer, llvm::StringRef path);

  llvm::StringRef getPath() const { return path; }
  uint64_t getSize() const;
  /// Absolute offset of the data section (8 + header length).
  uint64_t getDataOffset() const { return dataOffset; }

  /// Tensors in the order of their data.
  const std::vector<TensorInfo> &getTensors() const { return tensors; }
  const TensorInfo *findTensor(llvm::StringRef name) const;
  /// The bytes of a tensor of this file.
  llvm::ArrayRef<uint8_t> getTensorData(const TensorInfo &tensor) const;
  /// The "__metadata__" entries.
  const llvm::StringMap<std::string> &getMetadata() const { return metadata; }

private:
  File() = default;
  llvm::Error parse();

  std::string path;
  std::unique_ptr<llvm::MemoryBuffer> buffer;
  uint64_t dataOffset = 0;
  std::vector<TensorInfo> tensors;
  llvm::StringMap<size_t> tensorIndex;
  llvm::StringMap<std::string> metadata;
};

/// A name read from a model file, for a one-line message: quoted,
/// non-printable bytes escaped, long names cut.
std::string quote(llvm::StringRef name);

/// Parses the JSON text of a model file, refusing nesting deeper than
/// `maxDepth` first (llvm::json recurses once per level, so hostile input
/// could otherwise exhaust the stack). Errors are `WHAT: problem`, with
/// `what` such as "PATH: invalid JSON".
llvm::Expected<llvm::json::Value> parseJSON(llvm::StringRef text,
                                            const llvm::Twine &what,
                                            unsigned maxDepth = 32);

/// The value of a JSON number that is an integer in int64_t's range. Use it
/// rather than llvm::json::Value::getAsInteger on untrusted JSON, which
/// converts the double 2^63 to int64_t (undefined behaviour).
std::optional<int64_t> getJSONInteger(const llvm::json::Value &value);

} // namespace llmc::safetensors

#endif // LLMC_IMPORT_SAFETENSORS_H
