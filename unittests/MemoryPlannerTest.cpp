//===- MemoryPlannerTest.cpp - static buffer placement --------------------===//
//
// Part of llmc. The planner behind llmc-plan-memory: placements never
// overlap buffers live at the same time, reuse what is free, stay within
// bounded levels of a memory hierarchy, and the lower bound is what is
// live at the busiest point.
//
//===----------------------------------------------------------------------===//

#include "llmc/Transforms/Memory/MemoryPlanner.h"
#include "gtest/gtest.h"
#include <random>

using namespace llmc::memplan;

namespace {

Buffer buffer(int64_t bytes, int64_t start, int64_t end) {
  Buffer b;
  b.bytes = bytes;
  b.start = start;
  b.end = end;
  return b;
}

/// No two buffers of one level that are live together share a byte, and
/// every buffer lies within its level's arena.
void expectValid(llvm::ArrayRef<Buffer> buffers, const Plan &plan,
                 const Hierarchy &hierarchy) {
  for (size_t i = 0; i < buffers.size(); ++i) {
    const Placement &p = plan.placements[i];
    int64_t alignment = hierarchy.levels[p.level].alignment;
    EXPECT_EQ(p.offset % alignment, 0);
    EXPECT_LE(p.offset + buffers[i].footprint(), plan.levels[p.level].peak);
    if (hierarchy.levels[p.level].capacity >= 0)
      EXPECT_LE(plan.levels[p.level].peak, hierarchy.levels[p.level].capacity);
    for (size_t j = i + 1; j < buffers.size(); ++j) {
      const Placement &q = plan.placements[j];
      if (p.level != q.level || !buffers[i].overlaps(buffers[j]))
        continue;
      bool disjoint = p.offset + buffers[i].footprint() <= q.offset ||
                      q.offset + buffers[j].footprint() <= p.offset;
      EXPECT_TRUE(disjoint) << "buffers " << i << " and " << j << " overlap";
    }
  }
}

TEST(MemoryPlannerTest, ReusesFreedBytes) {
  // a [0,2], b [1,4], c [3,5]: c takes a's bytes.
  std::vector<Buffer> buffers = {buffer(256, 0, 2), buffer(256, 1, 4),
                                 buffer(256, 3, 5)};
  auto plan = llmc::memplan::plan(buffers, Hierarchy::flat());
  ASSERT_TRUE(bool(plan)) << llvm::toString(plan.takeError());
  EXPECT_EQ(plan->levels[0].peak, 512);
  EXPECT_EQ(plan->levels[0].lowerBound, 512);
  EXPECT_EQ(plan->levels[0].noReuse, 768);
  EXPECT_EQ(plan->placements[0].offset, plan->placements[2].offset);
  expectValid(buffers, *plan, Hierarchy::flat());
}

TEST(MemoryPlannerTest, InclusiveRanges) {
  // A buffer read by the op that defines the next one overlaps it.
  std::vector<Buffer> buffers = {buffer(64, 0, 1), buffer(64, 1, 2)};
  auto plan = llmc::memplan::plan(buffers, Hierarchy::flat());
  ASSERT_TRUE(bool(plan));
  EXPECT_EQ(plan->levels[0].peak, 128);
  EXPECT_EQ(plan->levels[0].lowerBound, 128);
}

TEST(MemoryPlannerTest, BestFitGap) {
  // After the big buffers, the small late one fits the hole left by the
  // freed 128-byte buffer rather than growing the arena.
  std::vector<Buffer> buffers = {buffer(1024, 0, 10), buffer(128, 0, 2),
                                 buffer(512, 0, 10), buffer(128, 4, 6)};
  auto plan = llmc::memplan::plan(buffers, Hierarchy::flat());
  ASSERT_TRUE(bool(plan));
  EXPECT_EQ(plan->levels[0].peak, 1024 + 512 + 128);
  EXPECT_EQ(plan->placements[1].offset, plan->placements[3].offset);
  expectValid(buffers, *plan, Hierarchy::flat());
}

TEST(MemoryPlannerTest, RandomPlansAreValidAndNearTheBound) {
  // Random interval sets (not chains of layers, which the model's are): the
  // placement is valid and, on average, within 10% of the bound.
  std::mt19937 rng(7);
  double ratios = 0;
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<Buffer> buffers;
    int n = 1 + rng() % 40;
    for (int i = 0; i < n; ++i) {
      int64_t start = rng() % 100;
      buffers.push_back(
          buffer(64 * (1 + rng() % 16), start, start + rng() % 20));
    }
    auto plan = llmc::memplan::plan(buffers, Hierarchy::flat());
    ASSERT_TRUE(bool(plan));
    expectValid(buffers, *plan, Hierarchy::flat());
    EXPECT_GE(plan->levels[0].peak, plan->levels[0].lowerBound);
    EXPECT_LE(plan->levels[0].peak, plan->levels[0].noReuse);
    ratios += double(plan->levels[0].peak) / plan->levels[0].lowerBound;
  }
  EXPECT_LT(ratios / 200, 1.10);
}

TEST(MemoryPlannerTest, ParsesHierarchies) {
  auto h = Hierarchy::parse("sram:256K,dram");
  ASSERT_TRUE(bool(h)) << llvm::toString(h.takeError());
  ASSERT_EQ(h->levels.size(), 2u);
  EXPECT_EQ(h->levels[0].name, "sram");
  EXPECT_EQ(h->levels[0].capacity, 256 * 1024);
  EXPECT_EQ(h->levels[1].capacity, -1);
  EXPECT_EQ(h->str(), "sram:262144,dram");
  auto aligned = Hierarchy::parse("bram:64K@128,uram:1M,ddr");
  ASSERT_TRUE(bool(aligned));
  EXPECT_EQ(aligned->levels[0].alignment, 128);
  for (const char *bad : {"sram,dram", "sram:0,dram", "sram:1K,dram:1G",
                          "sram:1K,sram", ":1K,dram", "sram:1K@3,dram"}) {
    auto parsed = Hierarchy::parse(bad);
    EXPECT_FALSE(bool(parsed)) << bad;
    if (!parsed)
      llvm::consumeError(parsed.takeError());
  }
}

TEST(MemoryPlannerTest, TwoLevelHierarchy) {
  // 1 KiB of SRAM: the busiest buffers per byte go there while they fit,
  // a double-buffered tile takes twice its bytes, the rest goes to DRAM.
  auto h = Hierarchy::parse("sram:1K,dram");
  ASSERT_TRUE(bool(h));
  std::vector<Buffer> buffers = {buffer(4096, 0, 9), buffer(256, 0, 9),
                                 buffer(256, 2, 5), buffer(512, 6, 9)};
  buffers[1].traffic = 256 * 8;
  buffers[2].traffic = 256 * 4;
  buffers[2].doubleBuffered = true;
  buffers[3].traffic = 512 * 2;
  auto plan = llmc::memplan::plan(buffers, *h);
  ASSERT_TRUE(bool(plan)) << llvm::toString(plan.takeError());
  expectValid(buffers, *plan, *h);
  EXPECT_EQ(plan->placements[0].level, 1); // too big for SRAM
  EXPECT_EQ(plan->placements[1].level, 0);
  EXPECT_EQ(plan->placements[2].level, 0); // 512 bytes double-buffered
  EXPECT_EQ(plan->placements[3].level, 0); // reuses the tile's bytes
  EXPECT_EQ(plan->levels[0].peak, 768);
  EXPECT_EQ(plan->levels[1].peak, 4096);

  // Pinned buffers must fit their level.
  buffers[0].pinnedLevel = 0;
  auto pinned = llmc::memplan::plan(buffers, *h);
  ASSERT_FALSE(bool(pinned));
  EXPECT_EQ(llvm::toString(pinned.takeError()),
            "the buffers pinned to memory level 'sram' need more than its "
            "1024 bytes");
}

} // namespace
