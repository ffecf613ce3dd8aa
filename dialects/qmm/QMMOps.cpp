//===- QMMOps.cpp - qmm dialect, attributes, types and verifiers ----------===//
//
// Part of llmc.
//
//===----------------------------------------------------------------------===//

#include "dialects/qmm/QMMOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace llmc::qmm;

#include "dialects/qmm/QMMDialect.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "dialects/qmm/QMMAttrs.cpp.inc"

#define GET_TYPEDEF_CLASSES
#include "dialects/qmm/QMMTypes.cpp.inc"

#define GET_OP_CLASSES
#include "dialects/qmm/QMMOps.cpp.inc"

void QMMDialect::initialize() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "dialects/qmm/QMMAttrs.cpp.inc"
      >();
  addTypes<
#define GET_TYPEDEF_LIST
#include "dialects/qmm/QMMTypes.cpp.inc"
      >();
  addOperations<
#define GET_OP_LIST
#include "dialects/qmm/QMMOps.cpp.inc"
      >();
}

//===----------------------------------------------------------------------===//
// FormatAttr
//===----------------------------------------------------------------------===//

FormatInfo FormatAttr::getInfo() const {
  return FormatInfo{getKind(), getBits(), getGroup(), getSymmetric()};
}

LogicalResult FormatAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                 FormatKind kind, unsigned bits, unsigned group,
                                 bool symmetric) {
  if (std::optional<std::string> problem =
          FormatInfo{kind, bits, group, symmetric}.validate())
    return emitError() << *problem;
  return success();
}

// Syntax: `<` keyword (`,` `group` `=` int | `,` `sym` | `,` `asym`)* `>`
Attribute FormatAttr::parse(AsmParser &parser, Type) {
  SMLoc loc = parser.getCurrentLocation();
  StringRef keyword;
  if (parser.parseLess() || parser.parseKeyword(&keyword))
    return {};
  std::optional<FormatInfo> info = parseFormatKeyword(keyword);
  if (!info) {
    parser.emitError(loc) << "unknown quantization format '" << keyword
                          << "'; expected q8_0, q4_0, q4_k, q6_k, int2, "
                             "int3, int4, int8, fp8_e4m3, fp8_e5m2 or mxfp4";
    return {};
  }
  while (succeeded(parser.parseOptionalComma())) {
    SMLoc optLoc = parser.getCurrentLocation();
    StringRef option;
    if (parser.parseKeyword(&option))
      return {};
    if (option == "group") {
      if (parser.parseEqual() || parser.parseInteger(info->group))
        return {};
    } else if (option == "sym" || option == "asym") {
      info->symmetric = option == "sym";
    } else {
      parser.emitError(optLoc) << "unknown format option '" << option
                               << "'; expected group = N, sym or asym";
      return {};
    }
  }
  if (parser.parseGreater())
    return {};
  return getChecked([&] { return parser.emitError(loc); }, parser.getContext(),
                    info->kind, info->bits, info->group, info->symmetric);
}

void FormatAttr::print(AsmPrinter &printer) const {
  FormatInfo info = getInfo();
  printer << "<" << info.keyword();
  if (info.kind == FormatKind::Int) {
    printer << ", group = " << info.group;
    if (!info.symmetric)
      printer << ", asym";
  }
  printer << ">";
}

//===----------------------------------------------------------------------===//
// PackedType
//===----------------------------------------------------------------------===//

int64_t PackedType::getBlocksPerRow() const {
  return getFormat().getInfo().blocksFor(getCols());
}

int64_t PackedType::getPackedBytes() const {
  return getFormat().getInfo().matrixBytes(getRows(), getCols());
}

LogicalResult PackedType::verify(function_ref<InFlightDiagnostic()> emitError,
                                 ArrayRef<int64_t> shape, FormatAttr format,
                                 unsigned tile) {
  if (shape.size() != 2)
    return emitError() << "packed weights are 2-D (rows x cols), got rank "
                       << shape.size();
  if (shape[0] <= 0 || shape[1] <= 0)
    return emitError() << "packed weights need static positive dimensions";
  if (!format)
    return emitError() << "packed weights need a #qmm.format";
  if (tile == 0 || !llvm::isPowerOf2_32(tile) || tile > 64)
    return emitError() << "tile must be a power of two in [1, 64], got "
                       << tile;
  if (shape[0] % tile != 0)
    return emitError() << "tile " << tile << " does not divide the " << shape[0]
                       << " rows";
  return success();
}

// Syntax: `<` RxC `,` #qmm.format<...> (`,` `tile` `=` int)? `>`
Type PackedType::parse(AsmParser &parser) {
  SMLoc loc = parser.getCurrentLocation();
  SmallVector<int64_t> shape;
  FormatAttr format;
  unsigned tile = 1;
  if (parser.parseLess() ||
      parser.parseDimensionList(shape, /*allowDynamic=*/false,
                                /*withTrailingX=*/false) ||
      parser.parseComma() || parser.parseAttribute(format))
    return {};
  if (succeeded(parser.parseOptionalComma())) {
    if (parser.parseKeyword("tile") || parser.parseEqual() ||
        parser.parseInteger(tile))
      return {};
  }
  if (parser.parseGreater())
    return {};
  return getChecked([&] { return parser.emitError(loc); }, parser.getContext(),
                    shape, format, tile);
}

void PackedType::print(AsmPrinter &printer) const {
  printer << "<";
  llvm::interleave(getShape(), printer, "x");
  printer << ", " << getFormat();
  if (getTile() != 1)
    printer << ", tile = " << getTile();
  printer << ">";
}

//===----------------------------------------------------------------------===//
// Op verifiers
//===----------------------------------------------------------------------===//

static void printShape(InFlightDiagnostic &diag, ArrayRef<int64_t> shape) {
  llvm::interleave(
      shape,
      [&](int64_t d) {
        if (ShapedType::isDynamic(d))
          diag << "?";
        else
          diag << d;
      },
      [&] { diag << "x"; });
}

/// Checks that a float tensor has exactly the packed matrix's shape.
static LogicalResult verifySameMatrix(Operation *op, RankedTensorType tensor,
                                      PackedType packed, StringRef what) {
  if (tensor.getShape() == packed.getShape())
    return success();
  InFlightDiagnostic diag = op->emitOpError() << what << " shape ";
  printShape(diag, tensor.getShape());
  diag << " does not match the packed shape ";
  printShape(diag, packed.getShape());
  return diag;
}

LogicalResult QuantizeOp::verify() {
  return verifySameMatrix(*this, getInput().getType(), getResult().getType(),
                          "input");
}

LogicalResult DequantizeOp::verify() {
  return verifySameMatrix(*this, getResult().getType(), getInput().getType(),
                          "result");
}

LogicalResult MatmulOp::verify() {
  RankedTensorType lhs = getLhs().getType();
  RankedTensorType result = getResult().getType();
  PackedType rhs = getRhs().getType();
  if (lhs.getRank() != 2 || result.getRank() != 2)
    return emitOpError("expects 2-D activations and result, got ranks ")
           << lhs.getRank() << " and " << result.getRank();
  int64_t k = lhs.getDimSize(1);
  if (!ShapedType::isDynamic(k) && k != rhs.getCols())
    return emitOpError("reduction dimension of the activations (")
           << k << ") does not match K of the packed weights (" << rhs.getCols()
           << ")";
  int64_t n = result.getDimSize(1);
  if (!ShapedType::isDynamic(n) && n != rhs.getRows())
    return emitOpError("result has ")
           << n << " columns but the packed weights have " << rhs.getRows()
           << " rows";
  int64_t m = lhs.getDimSize(0), mOut = result.getDimSize(0);
  if (!ShapedType::isDynamic(m) && !ShapedType::isDynamic(mOut) && m != mOut)
    return emitOpError("result has ")
           << mOut << " rows but the activations have " << m;
  return success();
}

LogicalResult RepackOp::verify() {
  PackedType in = getInput().getType(), out = getResult().getType();
  if (in.getFormat() != out.getFormat())
    return emitOpError("changes only the layout, but the format changes from ")
           << in.getFormat() << " to " << out.getFormat();
  if (in.getShape() != out.getShape())
    return emitOpError("changes only the layout, but the shape changes");
  return success();
}
