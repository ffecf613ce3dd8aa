//===- GGUFBuilder.h - writes small GGUF images for tests -------*- C++ -*-===//
//
// Part of llmc. Byte-level GGUF writer for unit tests: valid files are built
// with the typed helpers, malformed ones by writing raw fields (any count,
// length, type or offset) in any order.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_UNITTESTS_GGUFBUILDER_H
#define LLMC_UNITTESTS_GGUFBUILDER_H

#include "llvm/ADT/StringRef.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace llmc::testing {

/// GGUF metadata value type tags.
enum GGUFTag : uint32_t {
  kU8 = 0,
  kI8 = 1,
  kU16 = 2,
  kI16 = 3,
  kU32 = 4,
  kI32 = 5,
  kF32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kU64 = 10,
  kI64 = 11,
  kF64 = 12,
};

class GGUFBuilder {
public:
  std::string bytes;

  // Raw little-endian fields.
  GGUFBuilder &u8(uint8_t v) { return raw(&v, 1); }
  GGUFBuilder &u16(uint16_t v) { return raw(&v, 2); }
  GGUFBuilder &u32(uint32_t v) { return raw(&v, 4); }
  GGUFBuilder &u64(uint64_t v) { return raw(&v, 8); }
  GGUFBuilder &f32(float v) { return raw(&v, 4); }
  GGUFBuilder &f64(double v) { return raw(&v, 8); }
  GGUFBuilder &str(llvm::StringRef s) {
    u64(s.size());
    bytes.append(s.data(), s.size());
    return *this;
  }

  /// magic, version, tensor count, metadata count.
  GGUFBuilder &header(uint32_t version, uint64_t numTensors, uint64_t numKeys) {
    bytes.append("GGUF", 4);
    return u32(version).u64(numTensors).u64(numKeys);
  }
  /// Key and type tag; the caller writes the value.
  GGUFBuilder &key(llvm::StringRef k, uint32_t tag) { return str(k).u32(tag); }
  GGUFBuilder &kvString(llvm::StringRef k, llvm::StringRef v) {
    return key(k, kString).str(v);
  }
  GGUFBuilder &kvU32(llvm::StringRef k, uint32_t v) {
    return key(k, kU32).u32(v);
  }
  GGUFBuilder &kvF32(llvm::StringRef k, float v) { return key(k, kF32).f32(v); }
  GGUFBuilder &kvBool(llvm::StringRef k, bool v) {
    return key(k, kBool).u8(v ? 1 : 0);
  }
  GGUFBuilder &kvStrings(llvm::StringRef k,
                         const std::vector<std::string> &values) {
    key(k, kArray).u32(kString).u64(values.size());
    for (const std::string &v : values)
      str(v);
    return *this;
  }
  GGUFBuilder &kvF32s(llvm::StringRef k, const std::vector<float> &values) {
    key(k, kArray).u32(kF32).u64(values.size());
    for (float v : values)
      f32(v);
    return *this;
  }
  GGUFBuilder &kvI32s(llvm::StringRef k, const std::vector<int32_t> &values) {
    key(k, kArray).u32(kI32).u64(values.size());
    for (int32_t v : values)
      u32(static_cast<uint32_t>(v));
    return *this;
  }
  /// A tensor info; `offset` is relative to the data section.
  GGUFBuilder &tensor(llvm::StringRef name, const std::vector<uint64_t> &dims,
                      uint32_t type, uint64_t offset) {
    str(name).u32(static_cast<uint32_t>(dims.size()));
    for (uint64_t d : dims)
      u64(d);
    return u32(type).u64(offset);
  }
  /// Zero bytes up to the next multiple of `alignment`.
  GGUFBuilder &pad(uint64_t alignment = 32) {
    while (bytes.size() % alignment)
      bytes.push_back('\0');
    return *this;
  }
  /// `n` bytes of data, byte i = (seed + i) mod 256.
  GGUFBuilder &data(uint64_t n, uint8_t seed = 0) {
    for (uint64_t i = 0; i < n; ++i)
      bytes.push_back(static_cast<char>(seed + i));
    return *this;
  }

private:
  GGUFBuilder &raw(const void *p, size_t n) {
    // The tests run on little-endian hosts, like GGUF itself.
    bytes.append(static_cast<const char *>(p), n);
    return *this;
  }
};

/// A temporary directory removed (with its files) at scope exit.
class TempDir {
public:
  TempDir() {
    if (llvm::sys::fs::createUniqueDirectory("llmc-test", dir))
      dir.clear();
  }
  ~TempDir() {
    if (!dir.empty())
      llvm::sys::fs::remove_directories(dir);
  }
  bool ok() const { return !dir.empty(); }
  std::string path(llvm::StringRef name) const {
    llvm::SmallString<128> p(dir);
    llvm::sys::path::append(p, name);
    return std::string(p);
  }
  /// Writes `contents` to `name` and returns its path.
  std::string write(llvm::StringRef name, llvm::StringRef contents) const {
    std::string p = path(name);
    std::error_code ec;
    llvm::raw_fd_ostream os(p, ec);
    os << contents;
    return p;
  }

private:
  llvm::SmallString<128> dir;
};

} // namespace llmc::testing

#endif // LLMC_UNITTESTS_GGUFBUILDER_H
