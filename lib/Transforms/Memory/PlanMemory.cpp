//===- PlanMemory.cpp - one static arena per function ---------------------===//
//
// Part of llmc. Collects the temporary buffers of bufferized functions with
// their live ranges, places them with the planner in MemoryPlanner.cpp and
// rewrites each `memref.alloc` into a `memref.view` of the function's arena.
//
//===----------------------------------------------------------------------===//

#include "llmc/Transforms/Memory/MemoryPlanner.h"
#include "llmc/Transforms/Memory/Passes.h"
#include "mlir/Analysis/DataFlow/ConstantPropagationAnalysis.h"
#include "mlir/Analysis/DataFlow/DeadCodeAnalysis.h"
#include "mlir/Analysis/DataFlow/IntegerRangeAnalysis.h"
#include "mlir/Analysis/DataFlowFramework.h"
#include "mlir/Dialect/Bufferization/Transforms/BufferViewFlowAnalysis.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/LoopLikeInterface.h"
#include "mlir/Interfaces/DataLayoutInterfaces.h"
#include "llvm/Support/FormatVariadic.h"

namespace llmc {
#define GEN_PASS_DEF_PLANMEMORY
#include "llmc/Transforms/Memory/Passes.h.inc"
} // namespace llmc

using namespace mlir;
using namespace llmc;

namespace {

/// The most rows a computed dynamic size may be bounded by and still be
/// planned at its bound.
constexpr int64_t kMaxBoundedRows = 4096;

/// The per-row unit of a dynamic buffer: dimension `dim` of argument `arg`
/// (dim -1: the index argument `arg` itself).
struct Unit {
  int64_t arg = -1, dim = -1;
  bool valid() const { return arg >= 0; }
  bool operator==(const Unit &o) const { return arg == o.arg && dim == o.dim; }
};

struct Candidate {
  memref::AllocOp alloc;
  /// Bytes, or bytes per unit for a dynamic buffer.
  int64_t bytes = 0;
  Unit unit;
  bool perRow = false;
  memplan::Buffer buffer;
  SmallVector<Operation *> deallocs;
};

/// Pre-order numbers of every operation of a function, and the number of
/// the last operation nested in each.
struct Numbering {
  DenseMap<Operation *, int64_t> first, last;

  explicit Numbering(Operation *root) {
    int64_t counter = 0;
    std::function<void(Operation *)> visit = [&](Operation *op) {
      first[op] = counter++;
      for (Region &region : op->getRegions())
        for (Block &block : region)
          for (Operation &nested : block)
            visit(&nested);
      last[op] = counter - 1;
    };
    visit(root);
  }
};

class PlanMemoryPass : public llmc::impl::PlanMemoryBase<PlanMemoryPass> {
public:
  using PlanMemoryBase::PlanMemoryBase;

  void runOnOperation() override {
    if (alignment <= 0 || (alignment & (alignment - 1))) {
      emitError(getOperation().getLoc())
          << "llmc-plan-memory: alignment=" << int64_t(alignment)
          << " is not a power of two";
      return signalPassFailure();
    }
    memplan::Hierarchy levels = memplan::Hierarchy::flat(alignment);
    if (!hierarchy.empty()) {
      llvm::Expected<memplan::Hierarchy> parsed =
          memplan::Hierarchy::parse(hierarchy);
      if (!parsed) {
        emitError(getOperation().getLoc())
            << "llmc-plan-memory: hierarchy=" << hierarchy << ": "
            << llvm::toString(parsed.takeError());
        return signalPassFailure();
      }
      levels = std::move(*parsed);
    }
    ModuleOp module = getOperation();
    for (auto func : llvm::make_early_inc_range(module.getOps<func::FuncOp>()))
      if (!func.isExternal() && failed(planFunction(func, levels)))
        return signalPassFailure();
  }

private:
  /// The unit of `size` (a dynamic size of an allocation), if it is a
  /// dimension of an argument of `func` or an index argument.
  static Unit unitOf(func::FuncOp func, Value size) {
    Block &entry = func.getBody().front();
    if (auto arg = dyn_cast<BlockArgument>(size))
      return arg.getOwner() == &entry ? Unit{arg.getArgNumber(), -1} : Unit();
    auto dim = size.getDefiningOp<memref::DimOp>();
    if (!dim)
      return Unit();
    std::optional<int64_t> index = dim.getConstantIndex();
    auto arg = dyn_cast<BlockArgument>(dim.getSource());
    if (!index || !arg || arg.getOwner() != &entry)
      return Unit();
    return Unit{arg.getArgNumber(), *index};
  }

  /// The largest value `size` can take by integer range analysis, if it is
  /// bounded (a speculative step's verified rows: at most k + 1).
  static std::optional<int64_t> boundOf(DataFlowSolver &solver, Value size) {
    auto *state = solver.lookupState<dataflow::IntegerValueRangeLattice>(size);
    if (!state || state->getValue().isUninitialized())
      return std::nullopt;
    const ConstantIntRanges &range = state->getValue().getValue();
    if (range.umax().getActiveBits() > 31)
      return std::nullopt;
    return int64_t(range.umax().getZExtValue());
  }

  /// The live range of `c`'s buffer, or failure when an alias of it
  /// escapes the function or a loop iteration. The range is taken in the
  /// innermost block that holds every use of every alias: the allocating
  /// block, or an enclosing one when an alias is yielded out of a
  /// conditional (scf.if); from the (ancestor of the) allocation to the end
  /// of the last (ancestor of a) use there.
  static LogicalResult liveRange(Candidate &c, const Numbering &numbers,
                                 const BufferViewFlowAnalysis &flow) {
    Block *scope = c.alloc->getBlock();
    SmallVector<Operation *> users;
    for (Value alias : flow.resolve(c.alloc.getResult()))
      for (Operation *user : alias.getUsers()) {
        if (isa<memref::DeallocOp>(user))
          c.deallocs.push_back(user);
        else
          users.push_back(user);
      }
    auto escapes = [&](Block *block) {
      for (Operation *user : users) {
        Operation *ancestor = block->findAncestorOpInBlock(*user);
        if (!ancestor || ancestor->hasTrait<OpTrait::IsTerminator>())
          return true;
      }
      return false;
    };
    while (escapes(scope)) {
      Operation *parent = scope->getParentOp();
      // A buffer carried out of a loop iteration (or the function) would
      // meet its next allocation at the same offset.
      if (!parent || isa<func::FuncOp, LoopLikeOpInterface>(parent) ||
          !parent->getBlock())
        return failure();
      scope = parent->getBlock();
    }
    int64_t start =
        numbers.first.lookup(scope->findAncestorOpInBlock(*c.alloc));
    int64_t end = start;
    for (Operation *user : users)
      end = std::max(end,
                     numbers.last.lookup(scope->findAncestorOpInBlock(*user)));
    c.buffer.start = start;
    c.buffer.end = end;
    c.buffer.traffic = c.bytes * std::max<int64_t>(users.size(), 1);
    return success();
  }

  LogicalResult planFunction(func::FuncOp func,
                             const memplan::Hierarchy &levels) {
    DataLayout layout = DataLayout::closest(func);
    Numbering numbers(func);
    BufferViewFlowAnalysis flow(func);
    DataFlowSolver solver;
    solver.load<dataflow::DeadCodeAnalysis>();
    solver.load<dataflow::SparseConstantPropagation>();
    solver.load<dataflow::IntegerRangeAnalysis>();
    if (failed(solver.initializeAndRun(func)))
      return func.emitError() << "llmc-plan-memory: integer range analysis "
                                 "failed on @"
                              << func.getSymName();

    bool asArgument = arenaArgument && func.isPublic() &&
                      SymbolTable::symbolKnownUseEmpty(func, getOperation());
    SmallVector<Candidate> candidates;
    int64_t unplanned = 0;
    Unit rows;
    func.walk([&](memref::AllocOp alloc) {
      MemRefType type = alloc.getType();
      Candidate c;
      c.alloc = alloc;
      int64_t elementBytes =
          type.getElementType().isIntOrIndexOrFloat()
              ? int64_t(layout.getTypeSize(type.getElementType()))
              : 0;
      bool plannable = elementBytes > 0 && type.getLayout().isIdentity() &&
                       !type.getMemorySpace() &&
                       alloc.getSymbolOperands().empty() &&
                       type.getNumDynamicDims() <= 1;
      if (plannable) {
        c.bytes = elementBytes;
        for (int64_t d : type.getShape())
          if (!ShapedType::isDynamic(d))
            c.bytes *= d;
        if (type.getNumDynamicDims() == 1) {
          c.perRow = true;
          Value size = alloc.getDynamicSizes()[0];
          c.unit = unitOf(func, size);
          if (!c.unit.valid()) {
            // Not an argument's: planned at its largest size, if bounded.
            // (A bound far above any real step, say from a 32-bit count,
            // would only inflate the arena.)
            std::optional<int64_t> bound = boundOf(solver, size);
            c.perRow = false;
            plannable = bound && *bound <= kMaxBoundedRows;
            c.bytes *= plannable ? *bound : 0;
          } else {
            if (!rows.valid())
              rows = c.unit;
            plannable = c.unit == rows;
          }
        }
      }
      if (plannable)
        plannable = succeeded(liveRange(c, numbers, flow));
      if (!plannable) {
        ++unplanned;
        return;
      }
      c.buffer.bytes = c.bytes;
      if (alloc->hasAttr("llmc.double_buffer"))
        c.buffer.doubleBuffered = true;
      candidates.push_back(std::move(c));
    });
    if (candidates.empty())
      return success();

    // Static buffers over the hierarchy; per-row buffers in the last level
    // after its static ones, planned in bytes per row.
    SmallVector<memplan::Buffer> fixedBuffers, rowBuffers;
    SmallVector<unsigned> slot; // candidate -> its index in its list
    for (Candidate &c : candidates) {
      SmallVector<memplan::Buffer> &list = c.perRow ? rowBuffers : fixedBuffers;
      slot.push_back(list.size());
      list.push_back(c.buffer);
    }
    llvm::Expected<memplan::Plan> fixedPlan =
        memplan::plan(fixedBuffers, levels);
    if (!fixedPlan)
      return func.emitError() << "llmc-plan-memory: @" << func.getSymName()
                              << ": " << llvm::toString(fixedPlan.takeError());
    llvm::Expected<memplan::Plan> rowPlan =
        memplan::plan(rowBuffers, memplan::Hierarchy::flat(alignment));
    if (!rowPlan)
      return func.emitError() << "llmc-plan-memory: @" << func.getSymName()
                              << ": " << llvm::toString(rowPlan.takeError());
    size_t lastLevel = levels.levels.size() - 1;
    const memplan::LevelPlan &fixedMain = fixedPlan->levels[lastLevel];
    const memplan::LevelPlan &rowMain = rowPlan->levels[0];
    int64_t fixedBytes = fixedMain.peak;

    // The arenas: bounded levels allocate theirs; the last level's is an
    // argument or an allocation of FIXED + PER_ROW x rows bytes.
    OpBuilder builder(func.getContext());
    Block &entry = func.getBody().front();
    Location loc = func.getLoc();
    builder.setInsertionPointToStart(&entry);
    SmallVector<Value> arenas;
    for (size_t level = 0; level < lastLevel; ++level) {
      auto type = MemRefType::get(
          {std::max<int64_t>(fixedPlan->levels[level].peak, 1)},
          builder.getI8Type());
      auto arena = memref::AllocOp::create(
          builder, loc, type, builder.getI64IntegerAttr(alignment));
      arena->setAttr("llmc.memory_level",
                     builder.getStringAttr(levels.levels[level].name));
      arenas.push_back(arena);
    }
    auto dynamicBytes =
        MemRefType::get({ShapedType::kDynamic}, builder.getI8Type());
    Value main;
    if (asArgument) {
      unsigned index = func.getNumArguments();
      if (failed(func.insertArgument(
              index, dynamicBytes,
              builder.getDictionaryAttr(
                  builder.getNamedAttr(kArenaAttr, builder.getUnitAttr())),
              loc)))
        return func.emitError()
               << "llmc-plan-memory: cannot add the arena argument";
      main = func.getArgument(index);
      // The caller sized the arena; check it.
      Value count;
      if (rowMain.peak > 0) {
        Value arg = func.getArgument(rows.arg);
        count = rows.dim < 0 ? arg
                             : memref::DimOp::create(builder, loc, arg,
                                                     rows.dim)
                                   .getResult();
      }
      Value need = arith::ConstantIndexOp::create(builder, loc, fixedBytes);
      if (count)
        need = arith::AddIOp::create(
            builder, loc, need,
            arith::MulIOp::create(
                builder, loc, count,
                arith::ConstantIndexOp::create(builder, loc, rowMain.peak)));
      Value have = memref::DimOp::create(builder, loc, main, 0);
      cf::AssertOp::create(
          builder, loc,
          arith::CmpIOp::create(builder, loc, arith::CmpIPredicate::ule, need,
                                have),
          ("llmc: the activation arena passed to @" + func.getSymName() +
           " is too small")
              .str());
    } else {
      Value size = arith::ConstantIndexOp::create(builder, loc, fixedBytes);
      if (rowMain.peak > 0) {
        Value arg = func.getArgument(rows.arg);
        Value count = rows.dim < 0 ? arg
                                   : memref::DimOp::create(builder, loc, arg,
                                                           rows.dim)
                                         .getResult();
        Value perRow =
            arith::ConstantIndexOp::create(builder, loc, rowMain.peak);
        size = arith::AddIOp::create(
            builder, loc, size,
            arith::MulIOp::create(builder, loc, count, perRow));
      }
      main = memref::AllocOp::create(builder, loc, dynamicBytes,
                                     ValueRange{size}, ValueRange{},
                                     builder.getI64IntegerAttr(alignment));
    }
    arenas.push_back(main);

    // Each allocation becomes a view at its offset: OFFSET in its level's
    // arena, or FIXED + OFFSET x rows for a per-row buffer.
    for (auto [i, c] : llvm::enumerate(candidates)) {
      builder.setInsertionPoint(c.alloc);
      Location at = c.alloc.getLoc();
      Value arena, shift;
      if (c.perRow) {
        int64_t offset = rowPlan->placements[slot[i]].offset;
        arena = main;
        shift = arith::AddIOp::create(
            builder, at, arith::ConstantIndexOp::create(builder, at, fixedBytes),
            arith::MulIOp::create(
                builder, at, c.alloc.getDynamicSizes()[0],
                arith::ConstantIndexOp::create(builder, at, offset)));
      } else {
        const memplan::Placement &p = fixedPlan->placements[slot[i]];
        arena = arenas[p.level];
        shift = arith::ConstantIndexOp::create(builder, at, p.offset);
      }
      auto view = memref::ViewOp::create(builder, at, c.alloc.getType(), arena,
                                         shift, c.alloc.getDynamicSizes());
      if (!c.perRow && fixedPlan->placements[slot[i]].level != int(lastLevel))
        view->setAttr("llmc.memory_level",
                      builder.getStringAttr(
                          levels.levels[fixedPlan->placements[slot[i]].level]
                              .name));
      c.alloc.getResult().replaceAllUsesWith(view.getResult());
      for (Operation *dealloc : c.deallocs)
        dealloc->erase();
      c.alloc->erase();
    }

    // The plan, for reports and the runtime.
    auto pair = [&](int64_t fixed, int64_t perRow) {
      return builder.getDenseI64ArrayAttr({fixed, perRow});
    };
    SmallVector<NamedAttribute> plan = {
        builder.getNamedAttr("arena", pair(fixedBytes, rowMain.peak)),
        builder.getNamedAttr("lower_bound",
                             pair(fixedMain.lowerBound, rowMain.lowerBound)),
        builder.getNamedAttr("no_reuse",
                             pair(fixedMain.noReuse, rowMain.noReuse)),
        builder.getNamedAttr("buffers",
                             builder.getI64IntegerAttr(candidates.size())),
        builder.getNamedAttr("unplanned",
                             builder.getI64IntegerAttr(unplanned))};
    if (asArgument)
      plan.push_back(
          builder.getNamedAttr("arena_argument", builder.getUnitAttr()));
    if (rowMain.buffers > 0)
      plan.push_back(builder.getNamedAttr("rows", pair(rows.arg, rows.dim)));
    if (lastLevel > 0) {
      SmallVector<Attribute> perLevel;
      for (size_t level = 0; level <= lastLevel; ++level) {
        const memplan::LevelPlan &lp = fixedPlan->levels[level];
        perLevel.push_back(builder.getDictionaryAttr(
            {builder.getNamedAttr(
                 "name", builder.getStringAttr(levels.levels[level].name)),
             builder.getNamedAttr("arena",
                                  builder.getI64IntegerAttr(lp.peak)),
             builder.getNamedAttr("lower_bound",
                                  builder.getI64IntegerAttr(lp.lowerBound)),
             builder.getNamedAttr("buffers",
                                  builder.getI64IntegerAttr(lp.buffers))}));
      }
      plan.push_back(
          builder.getNamedAttr("levels", builder.getArrayAttr(perLevel)));
    }
    func->setAttr(kMemoryPlanAttr, builder.getDictionaryAttr(plan));

    if (report) {
      InFlightDiagnostic remark = mlir::emitRemark(func.getLoc());
      remark << llvm::formatv(
          "@{0}: {1} buffers in an arena of {2} bytes + {3} per row; lower "
          "bound {4} + {5} per row; no reuse {6} + {7} per row; {8} left to "
          "the allocator",
          func.getSymName(), candidates.size(), fixedBytes,
          rowMain.peak, fixedMain.lowerBound, rowMain.lowerBound,
          fixedMain.noReuse, rowMain.noReuse, unplanned);
      for (size_t level = 0; level < lastLevel; ++level)
        remark << llvm::formatv("; {0}: {1} buffers in {2} of {3} bytes",
                                levels.levels[level].name,
                                fixedPlan->levels[level].buffers,
                                fixedPlan->levels[level].peak,
                                levels.levels[level].capacity);
    }
    return success();
  }
};

} // namespace
