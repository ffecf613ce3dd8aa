//===- GGUFWriter.h - streaming GGUF v3 writer ------------------*- C++ -*-===//
//
// Part of llmc. Writes GGUF v3 files (the counterpart of GGUF.h): metadata
// of every value type, the tensor table, then the tensor data streamed in
// file order, so a multi-GB model never has to be held in memory.
//
//   gguf::Writer w;
//   w.addString("general.architecture", "llama");
//   w.addUInt32("llama.block_count", 22);
//   if (llvm::Error e = w.addTensor("token_embd.weight", {2048, 32000},
//                                   gguf::GGMLType::Q4_0)) ...
//   if (llvm::Error e = w.begin("out.gguf")) ...   // header + tables
//   w.writeTensorData(bytes) ...                     // in tensor order,
//   w.finish() ...                                   // any chunk sizes
//
// The file is written to a temporary name next to the destination and
// renamed by finish(), so a failed or abandoned write leaves no partial
// model behind. Errors are one line, `PATH: problem`.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_IMPORT_GGUFWRITER_H
#define LLMC_IMPORT_GGUFWRITER_H

#include "llmc/Import/GGUF.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace llvm {
class raw_fd_ostream;
namespace sys::fs {
class TempFile;
} // namespace sys::fs
} // namespace llvm

namespace llmc::gguf {

class Writer {
public:
  /// `alignment` (a power of two) aligns every tensor's data; it is written
  /// as general.alignment.
  explicit Writer(uint64_t alignment = 32);
  ~Writer();
  Writer(const Writer &) = delete;
  Writer &operator=(const Writer &) = delete;

  //===--------------------------------------------------------------------===//
  // Metadata. Keys are written in the order first added; adding a key again
  // replaces its value in place. Must precede begin().
  //===--------------------------------------------------------------------===//

  void addUInt8(llvm::StringRef key, uint8_t value);
  void addInt8(llvm::StringRef key, int8_t value);
  void addUInt16(llvm::StringRef key, uint16_t value);
  void addInt16(llvm::StringRef key, int16_t value);
  void addUInt32(llvm::StringRef key, uint32_t value);
  void addInt32(llvm::StringRef key, int32_t value);
  void addUInt64(llvm::StringRef key, uint64_t value);
  void addInt64(llvm::StringRef key, int64_t value);
  void addFloat32(llvm::StringRef key, float value);
  void addFloat64(llvm::StringRef key, double value);
  void addBool(llvm::StringRef key, bool value);
  void addString(llvm::StringRef key, llvm::StringRef value);
  void addStringArray(llvm::StringRef key, llvm::ArrayRef<std::string> values);
  /// An array of integers stored as `elementType` (an integer type or
  /// Bool); values that do not fit are truncated like a C cast.
  void addIntArray(llvm::StringRef key, ValueType elementType,
                   llvm::ArrayRef<int64_t> values);
  /// An array of reals stored as `elementType` (Float32 or Float64).
  void addFloatArray(llvm::StringRef key, ValueType elementType,
                     llvm::ArrayRef<double> values);

  /// Copies `key` of `file` with its value type (and array element type).
  /// Arrays of arrays are not supported.
  llvm::Error copyValue(const File &file, llvm::StringRef key);

  bool hasKey(llvm::StringRef key) const { return keyIndex.count(key); }
  void removeKey(llvm::StringRef key);

  //===--------------------------------------------------------------------===//
  // Tensors, in the order their data will be streamed. Must precede begin().
  //===--------------------------------------------------------------------===//

  /// `dims` in GGUF order (dims[0] innermost); dims[0] must be a multiple
  /// of the type's block size.
  llvm::Error addTensor(llvm::StringRef name, llvm::ArrayRef<uint64_t> dims,
                        GGMLType type);
  /// Bytes of the data of tensor `index` (without padding).
  uint64_t getTensorBytes(size_t index) const;
  size_t getNumTensors() const { return tensors.size(); }
  /// Size of the whole file once written.
  uint64_t getFileSize() const;

  //===--------------------------------------------------------------------===//
  // Writing.
  //===--------------------------------------------------------------------===//

  /// Creates `path` (through a temporary file) and writes the header, the
  /// metadata and the tensor table.
  llvm::Error begin(llvm::StringRef path);
  /// Appends bytes of the tensor data: the current tensor's bytes in order,
  /// moving on to the next tensor (after its alignment padding) once the
  /// current one is complete. A chunk may span tensors.
  llvm::Error writeTensorData(llvm::ArrayRef<uint8_t> bytes);
  /// The index of the tensor the next data byte belongs to
  /// (getNumTensors() when all data is written).
  size_t getCurrentTensor() const { return current; }
  /// Checks every tensor's data was written, then moves the file to its
  /// destination.
  llvm::Error finish();
  /// Abandons the file (also what the destructor does before finish()).
  void discard();

private:
  struct Tensor {
    std::string name;
    std::vector<uint64_t> dims;
    GGMLType type;
    uint64_t offset; // relative to the data section
    uint64_t nbytes;
  };
  void setValue(llvm::StringRef key, ValueType type, std::string bytes);
  llvm::Error writeError(const llvm::Twine &what);
  uint64_t getHeaderSize() const;
  llvm::Error pad(uint64_t bytes);

  uint64_t alignment;
  /// Key and serialized value (type tag included), in key order.
  std::vector<std::pair<std::string, std::string>> values;
  llvm::StringMap<size_t> keyIndex;
  std::vector<Tensor> tensors;
  uint64_t dataSize = 0;

  std::string path;
  std::unique_ptr<llvm::sys::fs::TempFile> temp;
  std::unique_ptr<llvm::raw_fd_ostream> os;
  size_t current = 0;
  /// Bytes of the current tensor already written.
  uint64_t written = 0;
  bool began = false;
};

} // namespace llmc::gguf

#endif // LLMC_IMPORT_GGUFWRITER_H
