//===- MemoryPlanner.h - static buffer placement ----------------*- C++ -*-===//
//
// Part of llmc. The target-independent core of `llmc-plan-memory`: given
// buffers with sizes and live ranges over numbered program points, place
// them at offsets in one arena per memory level so that buffers live at the
// same time never overlap, using as few bytes as the greedy-by-size best-fit
// heuristic finds. A memory hierarchy (fastest level first, e.g. on-chip
// SRAM of a given size, then DRAM) lets the FPGA and accelerator back ends
// reuse the planner: buffers are assigned to the fastest level they fit in,
// by traffic per byte, and double-buffered (ping-pong) buffers take twice
// their size there. Dependency-free apart from LLVM's support library.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_TRANSFORMS_MEMORY_MEMORYPLANNER_H
#define LLMC_TRANSFORMS_MEMORY_MEMORYPLANNER_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace llmc::memplan {

/// Parses a byte count (memory budgets, level capacities): an integer or decimal with an optional suffix K, M,
/// G, T (or KiB, MiB, GiB, TiB: powers of 1024; KB, MB, GB, TB: powers of
/// 1000; B: bytes), e.g. "4G", "512MiB", "1.5GiB", "1000000". Returns
/// nullopt for anything else, zero or negative.
std::optional<int64_t> parseByteCount(llvm::StringRef text);

/// One buffer to place: `bytes` live over the program points [start, end]
/// (inclusive: a buffer read by the op that defines another still overlaps
/// it).
struct Buffer {
  int64_t bytes = 0;
  int64_t start = 0, end = 0;
  /// Bytes read and written over the buffer's life; decides which buffers
  /// get the fast levels of a hierarchy (traffic per byte). 0: `bytes`.
  int64_t traffic = 0;
  /// Ping-pong buffered (a tile loaded while the previous one is used):
  /// takes 2 x bytes.
  bool doubleBuffered = false;
  /// The level the buffer must live in, or -1: the planner chooses.
  int pinnedLevel = -1;

  int64_t footprint() const { return doubleBuffered ? 2 * bytes : bytes; }
  bool overlaps(const Buffer &other) const {
    return start <= other.end && other.start <= end;
  }
};

/// One level of a memory hierarchy.
struct Level {
  std::string name;
  /// Bytes the level holds; -1: unbounded (DRAM).
  int64_t capacity = -1;
  /// Alignment of every buffer's offset and size in the level.
  int64_t alignment = 64;
};

/// Memory levels, fastest first; the last is unbounded.
struct Hierarchy {
  std::vector<Level> levels;

  /// One unbounded level (a CPU's memory).
  static Hierarchy flat(int64_t alignment = 64);
  /// Parses `NAME[:BYTES][@ALIGN],...`, e.g. "sram:256K,dram": every level
  /// but the last needs a capacity (parseByteCount), the last has none. Errors name the offending part.
  static llvm::Expected<Hierarchy> parse(llvm::StringRef text);
  std::string str() const;
};

struct Placement {
  int level = 0;
  int64_t offset = 0;
};

struct LevelPlan {
  /// The arena: bytes of the level that the placement uses.
  int64_t peak = 0;
  /// The most bytes live at any point among the level's buffers (no
  /// placement can use fewer), and the sum of their sizes (no reuse).
  int64_t lowerBound = 0, noReuse = 0;
  int64_t buffers = 0;
};

struct Plan {
  /// One per buffer, in the order given.
  std::vector<Placement> placements;
  std::vector<LevelPlan> levels;
};

/// Offsets for `which` of `buffers` in one arena (greedy by size, best fit:
/// largest first, each at the lowest-waste gap among the buffers already
/// placed that overlap it in time); writes `offsets[i]` for each i in
/// `which` and returns the arena's size. Offsets and sizes are rounded up
/// to `alignment`.
int64_t assignOffsets(llvm::ArrayRef<Buffer> buffers,
                      llvm::ArrayRef<unsigned> which, int64_t alignment,
                      std::vector<int64_t> &offsets);

/// The most bytes (unrounded footprints) of `which` live at one point.
int64_t liveLowerBound(llvm::ArrayRef<Buffer> buffers,
                       llvm::ArrayRef<unsigned> which);

/// Places every buffer: pinned ones in their level, the others in the
/// fastest level whose arena still fits its capacity with them (by
/// decreasing traffic per byte), the rest in the last level. Fails when a
/// pinned buffer does not fit its level, naming the level.
llvm::Expected<Plan> plan(llvm::ArrayRef<Buffer> buffers,
                          const Hierarchy &hierarchy);

} // namespace llmc::memplan

#endif // LLMC_TRANSFORMS_MEMORY_MEMORYPLANNER_H
