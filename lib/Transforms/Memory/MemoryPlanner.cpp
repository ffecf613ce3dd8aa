//===- MemoryPlanner.cpp - static buffer placement ------------------------===//
//
// Part of llmc.
//
//===----------------------------------------------------------------------===//

#include "llmc/Transforms/Memory/MemoryPlanner.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/Support/FormatVariadic.h"
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

using namespace llmc::memplan;

static int64_t roundUp(int64_t bytes, int64_t alignment) {
  return (bytes + alignment - 1) / alignment * alignment;
}

static llvm::Error fail(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

Hierarchy Hierarchy::flat(int64_t alignment) {
  Hierarchy h;
  h.levels.push_back({"memory", -1, alignment});
  return h;
}

std::optional<int64_t> llmc::memplan::parseByteCount(llvm::StringRef text) {
  text = text.trim();
  size_t digits = 0;
  while (digits < text.size() &&
         (llvm::isDigit(text[digits]) || text[digits] == '.'))
    ++digits;
  llvm::StringRef number = text.take_front(digits);
  llvm::StringRef suffix = text.drop_front(digits).trim();
  if (number.empty() || number.count('.') > 1 || number == ".")
    return std::nullopt;
  struct Unit {
    const char *name;
    double scale;
  };
  static const Unit units[] = {{"", 1},         {"b", 1},    {"k", 0x1p10},
                               {"kib", 0x1p10}, {"kb", 1e3}, {"m", 0x1p20},
                               {"mib", 0x1p20}, {"mb", 1e6}, {"g", 0x1p30},
                               {"gib", 0x1p30}, {"gb", 1e9}, {"t", 0x1p40},
                               {"tib", 0x1p40}, {"tb", 1e12}};
  std::string lower = suffix.lower();
  const Unit *unit = nullptr;
  for (const Unit &u : units)
    if (lower == u.name)
      unit = &u;
  if (!unit)
    return std::nullopt;
  if (!number.contains('.')) {
    // Exact for integers (a budget may be any byte count).
    uint64_t value = 0;
    if (number.getAsInteger(10, value) || value == 0)
      return std::nullopt;
    double bytes = double(value) * unit->scale;
    if (bytes >= 0x1p62)
      return std::nullopt;
    return int64_t(value) * int64_t(unit->scale);
  }
  double value = 0;
  if (number.getAsDouble(value))
    return std::nullopt;
  double bytes = std::floor(value * unit->scale);
  if (!(bytes >= 1) || bytes >= 0x1p62)
    return std::nullopt;
  return int64_t(bytes);
}

llvm::Expected<Hierarchy> Hierarchy::parse(llvm::StringRef text) {
  Hierarchy h;
  llvm::SmallVector<llvm::StringRef> parts;
  text.split(parts, ',');
  for (auto [i, part] : llvm::enumerate(parts)) {
    Level level;
    llvm::StringRef rest = part.trim();
    auto [head, align] = rest.split('@');
    if (!align.empty()) {
      if (align.getAsInteger(10, level.alignment) || level.alignment <= 0 ||
          (level.alignment & (level.alignment - 1)))
        return fail("memory level '" + part +
                    "': the alignment must be a power of two");
    }
    auto [name, capacity] = head.split(':');
    if (name.empty())
      return fail("memory level '" + part + "' has no name");
    level.name = name.str();
    bool last = i + 1 == parts.size();
    if (!capacity.empty()) {
      std::optional<int64_t> bytes = parseByteCount(capacity);
      if (!bytes)
        return fail("memory level '" + part + "': bad capacity '" + capacity +
                    "' (bytes, optionally with K, M or G)");
      if (last)
        return fail("memory level '" + part +
                    "': the last level is unbounded (give it no capacity)");
      level.capacity = *bytes;
    } else if (!last) {
      return fail("memory level '" + part +
                  "' needs a capacity (NAME:BYTES); only the last level is "
                  "unbounded");
    }
    for (const Level &other : h.levels)
      if (other.name == level.name)
        return fail("memory level '" + level.name + "' is given twice");
    h.levels.push_back(std::move(level));
  }
  return h;
}

std::string Hierarchy::str() const {
  std::string s;
  for (const Level &level : levels) {
    if (!s.empty())
      s += ",";
    s += level.name;
    if (level.capacity >= 0)
      s += ":" + std::to_string(level.capacity);
    if (level.alignment != 64)
      s += "@" + std::to_string(level.alignment);
  }
  return s;
}

int64_t llmc::memplan::assignOffsets(llvm::ArrayRef<Buffer> buffers,
                                     llvm::ArrayRef<unsigned> which,
                                     int64_t alignment,
                                     std::vector<int64_t> &offsets) {
  if (offsets.size() < buffers.size())
    offsets.resize(buffers.size(), 0);
  llvm::SmallVector<unsigned> order(which.begin(), which.end());
  // Largest first; among equals, the earliest first (a stable layout).
  llvm::sort(order, [&](unsigned a, unsigned b) {
    int64_t sa = buffers[a].footprint(), sb = buffers[b].footprint();
    if (sa != sb)
      return sa > sb;
    if (buffers[a].start != buffers[b].start)
      return buffers[a].start < buffers[b].start;
    return a < b;
  });
  llvm::SmallVector<unsigned> placed;
  int64_t arena = 0;
  for (unsigned i : order) {
    int64_t size = roundUp(buffers[i].footprint(), alignment);
    // The placed buffers live at the same time as i, by offset.
    llvm::SmallVector<unsigned> conflicts;
    for (unsigned j : placed)
      if (buffers[i].overlaps(buffers[j]))
        conflicts.push_back(j);
    llvm::sort(conflicts,
               [&](unsigned a, unsigned b) { return offsets[a] < offsets[b]; });
    int64_t best = -1, bestWaste = std::numeric_limits<int64_t>::max();
    int64_t cursor = 0;
    for (unsigned j : conflicts) {
      int64_t gap = offsets[j] - cursor;
      if (gap >= size && gap - size < bestWaste) {
        best = cursor;
        bestWaste = gap - size;
      }
      cursor = std::max(
          cursor, offsets[j] + roundUp(buffers[j].footprint(), alignment));
    }
    offsets[i] = best >= 0 ? best : cursor;
    arena = std::max(arena, offsets[i] + size);
    placed.push_back(i);
  }
  return arena;
}

int64_t llmc::memplan::liveLowerBound(llvm::ArrayRef<Buffer> buffers,
                                      llvm::ArrayRef<unsigned> which) {
  // Sweep: +bytes at start, -bytes after end; at equal points the starts
  // come first (ranges are inclusive).
  llvm::SmallVector<std::pair<int64_t, int64_t>> events;
  for (unsigned i : which) {
    events.push_back({2 * buffers[i].start, buffers[i].footprint()});
    events.push_back({2 * buffers[i].end + 1, -buffers[i].footprint()});
  }
  llvm::sort(events, [](auto a, auto b) {
    return a.first != b.first ? a.first < b.first : a.second > b.second;
  });
  int64_t live = 0, most = 0;
  for (auto [point, delta] : events) {
    live += delta;
    most = std::max(most, live);
  }
  return most;
}

llvm::Expected<Plan> llmc::memplan::plan(llvm::ArrayRef<Buffer> buffers,
                                         const Hierarchy &hierarchy) {
  if (hierarchy.levels.empty() || hierarchy.levels.back().capacity >= 0)
    return fail("a memory hierarchy needs an unbounded last level");
  size_t levels = hierarchy.levels.size();
  Plan result;
  result.placements.assign(buffers.size(), Placement());
  result.levels.assign(levels, LevelPlan());
  std::vector<llvm::SmallVector<unsigned>> members(levels);
  std::vector<int64_t> offsets(buffers.size(), 0);

  auto fits = [&](size_t level) {
    const Level &l = hierarchy.levels[level];
    if (l.capacity < 0)
      return true;
    std::vector<int64_t> scratch;
    return assignOffsets(buffers, members[level], l.alignment, scratch) <=
           l.capacity;
  };

  llvm::SmallVector<unsigned> free;
  for (auto [i, b] : llvm::enumerate(buffers)) {
    if (b.pinnedLevel < 0) {
      free.push_back(i);
      continue;
    }
    if (size_t(b.pinnedLevel) >= levels)
      return fail(llvm::formatv("buffer {0} is pinned to level {1}, but the "
                                "hierarchy '{2}' has {3} levels",
                                i, b.pinnedLevel, hierarchy.str(), levels));
    members[b.pinnedLevel].push_back(i);
  }
  for (size_t level = 0; level < levels; ++level)
    if (!fits(level))
      return fail(llvm::formatv(
          "the buffers pinned to memory level '{0}' need more than its {1} "
          "bytes",
          hierarchy.levels[level].name, hierarchy.levels[level].capacity));

  // Most traffic per byte first: those gain most from a fast level.
  auto density = [&](unsigned i) {
    const Buffer &x = buffers[i];
    return double(x.traffic > 0 ? x.traffic : x.bytes) /
           double(std::max<int64_t>(x.footprint(), 1));
  };
  llvm::sort(free, [&](unsigned a, unsigned b) {
    double da = density(a), db = density(b);
    return da != db ? da > db : a < b;
  });
  for (unsigned i : free) {
    for (size_t level = 0; level < levels; ++level) {
      members[level].push_back(i);
      if (fits(level))
        break;
      members[level].pop_back();
    }
  }

  for (size_t level = 0; level < levels; ++level) {
    LevelPlan &lp = result.levels[level];
    lp.peak = assignOffsets(buffers, members[level],
                            hierarchy.levels[level].alignment, offsets);
    lp.lowerBound = liveLowerBound(buffers, members[level]);
    lp.buffers = members[level].size();
    for (unsigned i : members[level]) {
      lp.noReuse += buffers[i].footprint();
      result.placements[i] = {int(level), offsets[i]};
    }
  }
  return result;
}
