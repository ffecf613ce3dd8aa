//===- QMMFormat.cpp - quantization format arithmetic ---------------------===//
//
// Part of llmc. Sizes of ggml blocks follow the GGUF specification:
//   Q8_0: f16 scale + 32 x int8                      = 34 bytes / 32
//   Q4_0: f16 scale + 32 x 4-bit                     = 18 bytes / 32
//   Q4_K: 2 x f16 + 12 bytes of 6-bit scales + 128   = 144 bytes / 256
//   Q6_K: 128 low + 64 high bits + 16 x int8 + f16   = 210 bytes / 256
// mxfp4 (OCP MX): one E8M0 scale + 32 x fp4          = 17 bytes / 32
// intN group g: packed N-bit codes + f16 scale (+ f16 zero point if asym).
//
//===----------------------------------------------------------------------===//

#include "dialects/qmm/QMMFormat.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringSwitch.h"

#include "dialects/qmm/QMMEnums.cpp.inc"

using namespace llmc::qmm;

FormatInfo FormatInfo::canonical(FormatKind kind, unsigned bits, unsigned group,
                                 bool symmetric) {
  switch (kind) {
  case FormatKind::Q8_0:
    return {kind, 8, 32, true};
  case FormatKind::Q4_0:
    return {kind, 4, 32, true};
  case FormatKind::Q4_K:
    return {kind, 4, 256, false};
  case FormatKind::Q6_K:
    return {kind, 6, 256, true};
  case FormatKind::Int:
    return {kind, bits, group, symmetric};
  case FormatKind::FP8E4M3:
  case FormatKind::FP8E5M2:
    return {kind, 8, 1, true};
  case FormatKind::MXFP4:
    return {kind, 4, 32, true};
  }
  return {kind, bits, group, symmetric};
}

std::optional<std::string> FormatInfo::validate() const {
  if (kind == FormatKind::Int) {
    if (bits != 2 && bits != 3 && bits != 4 && bits != 8)
      return "integer formats take 2, 3, 4 or 8 bits, got " +
             std::to_string(bits);
    if (group != 32 && group != 64 && group != 128)
      return "integer formats take a group of 32, 64 or 128 elements, got " +
             std::to_string(group);
    return std::nullopt;
  }
  FormatInfo canon = canonical(kind);
  if (group != canon.group && canon.group == 1)
    return "format " + keyword() +
           " is element-wise and takes no group, got group = " +
           std::to_string(group);
  if (group != canon.group)
    return "format " + keyword() + " has a fixed block of " +
           std::to_string(canon.group) +
           " elements, got group = " + std::to_string(group);
  if (bits != canon.bits || symmetric != canon.symmetric)
    return "format " + keyword() +
           " has fixed bits and symmetry; only intN formats take sym/asym";
  return std::nullopt;
}

int64_t FormatInfo::blockElements() const { return group; }

int64_t FormatInfo::blockBytes() const {
  switch (kind) {
  case FormatKind::Q8_0:
    return 34;
  case FormatKind::Q4_0:
    return 18;
  case FormatKind::Q4_K:
    return 144;
  case FormatKind::Q6_K:
    return 210;
  case FormatKind::Int:
    return (int64_t(group) * bits + 7) / 8 + 2 + (symmetric ? 0 : 2);
  case FormatKind::FP8E4M3:
  case FormatKind::FP8E5M2:
    return 1;
  case FormatKind::MXFP4:
    return 17;
  }
  return 0;
}

std::string FormatInfo::keyword() const {
  if (kind == FormatKind::Int)
    return "int" + std::to_string(bits);
  return stringifyFormatKind(kind).str();
}

std::optional<FormatInfo> llmc::qmm::parseFormatKeyword(llvm::StringRef kw) {
  if (kw.consume_front("int")) {
    unsigned bits;
    if (kw.getAsInteger(10, bits))
      return std::nullopt;
    return FormatInfo::canonical(FormatKind::Int, bits, 32, true);
  }
  std::optional<FormatKind> kind = symbolizeFormatKind(kw);
  if (!kind || *kind == FormatKind::Int)
    return std::nullopt;
  return FormatInfo::canonical(*kind);
}

std::optional<FormatInfo> llmc::qmm::parseFormatSpec(llvm::StringRef spec,
                                                     std::string &error) {
  llvm::SmallVector<llvm::StringRef, 3> parts;
  spec.split(parts, '-');
  std::optional<FormatInfo> info = parseFormatKeyword(parts.front());
  if (!info) {
    error = "unknown format '" + parts.front().str() +
            "' (expected q8_0, q4_0, q4_k, q6_k, int2, int3, int4, int8, "
            "fp8_e4m3, fp8_e5m2 or mxfp4)";
    return std::nullopt;
  }
  for (llvm::StringRef part : llvm::ArrayRef<llvm::StringRef>(parts).drop_front()) {
    unsigned group;
    if (info->kind != FormatKind::Int) {
      error = "format " + info->keyword() + " takes no '-" + part.str() +
              "' (only intN formats take a group and sym/asym)";
      return std::nullopt;
    }
    if (part == "sym" || part == "asym") {
      info->symmetric = part == "sym";
    } else if (part.consume_front("g") && !part.getAsInteger(10, group)) {
      info->group = group;
    } else {
      error = "format '" + spec.str() + "': expected -gN, -sym or -asym, got '" +
              part.str() + "'";
      return std::nullopt;
    }
  }
  if (std::optional<std::string> invalid = info->validate()) {
    error = "format '" + spec.str() + "': " + *invalid;
    return std::nullopt;
  }
  return info;
}

std::string llmc::qmm::formatSpec(const FormatInfo &info) {
  std::string spec = info.keyword();
  if (info.kind == FormatKind::Int) {
    if (info.group != 32)
      spec += "-g" + std::to_string(info.group);
    if (!info.symmetric)
      spec += "-asym";
  }
  return spec;
}
