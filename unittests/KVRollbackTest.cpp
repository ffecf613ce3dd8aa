//===- KVRollbackTest.cpp - undo logs of the byte-cache kernels -----------===//
//
// Part of llmc. Speculative decoding over KIVI and evicting caches: every
// byte-cache attention kernel (llmc_attention_kivi, _evict, _kivi_evict)
// with an undo log (`rollback<N>`, UndoLog in KVLayout.h), driven as the
// compiler drives it (the eviction kernels on one layer's region at a time,
// per-layer budgets included), against the same kernels fed one position at
// a time. Checked bitwise, for every layout and policy:
//  - a call of T <= 16 rows is T one-row calls (outputs and every byte,
//    logs included), with and without a log;
//  - verification steps (T rows, the first A of them the true sequence, the
//    rest wrong) followed by llmc_kv_rollback_* of T - A leave exactly the
//    bytes (outside the logs) and outputs of one-position decoding, also
//    after a layer-skipping draft wrote wrong positions to some layers
//    first (the verification call at a lower position rolls those back),
//    with one kernel thread and with three;
//  - rolling back more than the log holds changes nothing but the log.
//
//===----------------------------------------------------------------------===//

#include "lib/Runtime/Kernels/KernelsImpl.h"
#include "llmc/Runtime/KVLayout.h"
#include "llmc/Runtime/Kernels.h"
#include <algorithm>
#include <cmath>
#include <cstring>
#include <gtest/gtest.h>
#include <memory>
#include <random>
#include <string>
#include <vector>

using llmc::runtime::EvictLayout;
using llmc::runtime::KiviEvictLayout;
using llmc::runtime::KiviLayout;
using llmc::runtime::undoDepthFor;
using llmc::runtime::UndoLog;

namespace {

constexpr int64_t kWindow = 0, kH2O = 1, kSnapKV = 2;
constexpr int64_t kHeads = 4, kKvHeads = 2, kHeadDim = 8;
constexpr int64_t kWidth = kHeads * kHeadDim, kChannels = kKvHeads * kHeadDim;

/// The length a layer's undo log header records.
int64_t logLength(const std::vector<uint8_t> &buffer, int64_t logOffset) {
  int64_t length;
  std::memcpy(&length, buffer.data() + logOffset, sizeof(length));
  return length;
}

/// One byte cache of some layout, called as compiled code calls it.
class Cache {
public:
  virtual ~Cache() = default;
  virtual int64_t layers() const = 0;
  /// Attention of `rows` positions from `pos` in `layer`: q rows x kWidth,
  /// k and v rows x kChannels; returns out (rows x kWidth).
  virtual std::vector<float> attend(int64_t layer, int64_t pos, int64_t rows,
                                    const float *q, const float *k,
                                    const float *v) = 0;
  /// kv.rollback by `count`.
  virtual void rollback(int64_t count) = 0;
  /// Every byte outside the undo logs.
  virtual std::vector<uint8_t> state() const = 0;
  /// The positions each layer's log says it holds.
  virtual std::vector<int64_t> lengths() const = 0;
  virtual std::string name() const = 0;
  virtual std::unique_ptr<Cache> fresh(int64_t depth) const = 0;

  std::vector<uint8_t> buffer;

protected:
  /// out = kernel(q, k, v) on the cache region [offset, offset + size).
  template <typename Kernel, typename... Params>
  std::vector<float> call(Kernel kernel, int64_t rows, const float *q,
                          const float *k, const float *v, int64_t offset,
                          int64_t size, Params... params) {
    std::vector<float> out(size_t(rows * kWidth), NAN);
    float *qm = const_cast<float *>(q), *km = const_cast<float *>(k),
          *vm = const_cast<float *>(v);
    kernel(qm, qm, 0, rows, kWidth, kWidth, 1, km, km, 0, rows, kChannels,
           kChannels, 1, vm, vm, 0, rows, kChannels, kChannels, 1,
           buffer.data(), buffer.data(), offset, size, 1, params..., out.data(),
           out.data(), 0, rows, kWidth, kWidth, 1);
    return out;
  }
  std::vector<uint8_t>
  bytes(const std::vector<std::pair<int64_t, int64_t>> &ranges) const {
    std::vector<uint8_t> b;
    for (auto [begin, end] : ranges)
      b.insert(b.end(), buffer.begin() + begin, buffer.begin() + end);
    return b;
  }
};

/// llmc_attention_kivi on the whole cache, layer by layer.
class KiviCache : public Cache {
public:
  KiviCache(int64_t bits, int64_t group, int64_t residual, int64_t depth)
      : layout{2, kKvHeads, 160, kHeadDim, bits, group, residual, depth} {
    buffer.assign(size_t(layout.totalBytes()), 0);
  }
  int64_t layers() const override { return layout.layers; }
  std::vector<float> attend(int64_t layer, int64_t pos, int64_t rows,
                            const float *q, const float *k,
                            const float *v) override {
    return call(llmc_attention_kivi, rows, q, k, v, 0, layout.totalBytes(),
                layer, pos, kHeads, 0.35f, int64_t(0), int64_t(1),
                layout.layers, layout.kvHeads, layout.capacity, layout.headDim,
                layout.bits, layout.group, layout.residual);
  }
  void rollback(int64_t count) override {
    llmc_kv_rollback_kivi(buffer.data(), buffer.data(), 0, layout.totalBytes(),
                          1, count, layout.layers, layout.kvHeads,
                          layout.capacity, layout.headDim, layout.bits,
                          layout.group, layout.residual, layout.undoDepth);
  }
  std::vector<uint8_t> state() const override {
    return bytes({{0, layout.layers * layout.layerBytes()}});
  }
  std::vector<int64_t> lengths() const override {
    std::vector<int64_t> l;
    for (int64_t layer = 0; layer < layout.layers; ++layer)
      l.push_back(logLength(buffer, layout.undoOffset(layer)));
    return l;
  }
  std::string name() const override {
    return "kivi" + std::to_string(layout.bits) + "-g" +
           std::to_string(layout.group) + "-r" +
           std::to_string(layout.residual) + " depth " +
           std::to_string(layout.undoDepth);
  }
  std::unique_ptr<Cache> fresh(int64_t depth) const override {
    return std::make_unique<KiviCache>(layout.bits, layout.group,
                                       layout.residual, depth);
  }

  KiviLayout layout;
};

/// llmc_attention_evict on each layer's region (layer 0 of 1), per-layer
/// budgets as the compiler passes them.
class EvictCache : public Cache {
public:
  EvictCache(int64_t policy, int64_t depth) : policy(policy) {
    layout = {2, kKvHeads, 12, kHeadDim, {12, 10}, depth, policy == kH2O};
    buffer.assign(size_t(layout.totalBytes()), 0);
  }
  int64_t layers() const override { return layout.layers; }
  int64_t sinks() const { return policy == kWindow ? 2 : 1; }
  std::vector<float> attend(int64_t layer, int64_t pos, int64_t rows,
                            const float *q, const float *k,
                            const float *v) override {
    int64_t slots = layout.slotsOf(layer);
    int64_t recent = policy == kH2O ? 4 : 0;
    int64_t observe = policy == kSnapKV ? 3 : 0;
    int64_t pool = policy == kSnapKV ? 3 : 1;
    return call(llmc_attention_evict, rows, q, k, v, layout.layerOffset(layer),
                layout.layerBytesOf(layer), int64_t(0), pos, kHeads, 0.35f,
                int64_t(1), layout.kvHeads, slots, layout.headDim, policy,
                sinks(), recent, slots, observe, pool);
  }
  void rollback(int64_t count) override {
    std::vector<int64_t> slots = {layout.slotsOf(0), layout.slotsOf(1)};
    llmc_kv_rollback_evict(buffer.data(), buffer.data(), 0, layout.totalBytes(),
                           1, count, layout.layers, layout.kvHeads,
                           layout.headDim, policy, layout.undoDepth,
                           slots.data(), slots.data(), 0, 2, 1);
  }
  std::vector<uint8_t> state() const override {
    std::vector<std::pair<int64_t, int64_t>> ranges;
    for (int64_t l = 0; l < layout.layers; ++l)
      ranges.push_back({layout.layerOffset(l),
                        layout.layerOffset(l) + layout.undoOffsetOf(l)});
    return bytes(ranges);
  }
  std::vector<int64_t> lengths() const override {
    std::vector<int64_t> l;
    for (int64_t layer = 0; layer < layout.layers; ++layer)
      l.push_back(logLength(buffer, layout.layerOffset(layer) +
                                        layout.undoOffsetOf(layer)));
    return l;
  }
  std::string name() const override {
    const char *names[] = {"window", "h2o", "snapkv"};
    return std::string(names[policy]) + " depth " +
           std::to_string(layout.undoDepth);
  }
  std::unique_ptr<Cache> fresh(int64_t depth) const override {
    return std::make_unique<EvictCache>(policy, depth);
  }

  int64_t policy;
  EvictLayout layout;
};

/// llmc_attention_kivi_evict on each layer's region, per-layer pools.
class KiviEvictCache : public Cache {
public:
  KiviEvictCache(int64_t policy, int64_t depth) : policy(policy) {
    layout = {2, kKvHeads, kHeadDim, 4, 8, 8, 2, 3, {2, 3}, depth};
    buffer.assign(size_t(layout.totalBytes()), 0);
  }
  int64_t layers() const override { return layout.layers; }
  std::vector<float> attend(int64_t layer, int64_t pos, int64_t rows,
                            const float *q, const float *k,
                            const float *v) override {
    int64_t observe = policy == kSnapKV ? 3 : 0;
    int64_t pool = policy == kSnapKV ? 3 : 1;
    return call(llmc_attention_kivi_evict, rows, q, k, v,
                layout.layerOffset(layer), layout.layerBytesOf(layer),
                int64_t(0), pos, kHeads, 0.35f, int64_t(1), layout.kvHeads,
                layout.headDim, layout.bits, layout.group, layout.residual,
                layout.sinks, layout.groupsOf(layer), policy, observe, pool);
  }
  void rollback(int64_t count) override {
    std::vector<int64_t> groups = {layout.groupsOf(0), layout.groupsOf(1)};
    llmc_kv_rollback_kivi_evict(
        buffer.data(), buffer.data(), 0, layout.totalBytes(), 1, count,
        layout.layers, layout.kvHeads, layout.headDim, layout.bits,
        layout.group, layout.residual, layout.sinks, layout.undoDepth,
        groups.data(), groups.data(), 0, 2, 1);
  }
  std::vector<uint8_t> state() const override {
    std::vector<std::pair<int64_t, int64_t>> ranges;
    for (int64_t l = 0; l < layout.layers; ++l)
      ranges.push_back(
          {layout.layerOffset(l),
           layout.layerOffset(l) + layout.undoOffset(layout.groupsOf(l))});
    return bytes(ranges);
  }
  std::vector<int64_t> lengths() const override {
    std::vector<int64_t> l;
    for (int64_t layer = 0; layer < layout.layers; ++layer)
      l.push_back(
          logLength(buffer, layout.layerOffset(layer) +
                                layout.undoOffset(layout.groupsOf(layer))));
    return l;
  }
  std::string name() const override {
    const char *names[] = {"kivi window", "kivi h2o", "kivi snapkv"};
    return std::string(names[policy]) + " depth " +
           std::to_string(layout.undoDepth);
  }
  std::unique_ptr<Cache> fresh(int64_t depth) const override {
    return std::make_unique<KiviEvictCache>(policy, depth);
  }

  int64_t policy;
  KiviEvictLayout layout;
};

/// Every cache kind under test, with an undo log of `depth` positions.
std::vector<std::unique_ptr<Cache>> allCaches(int64_t depth) {
  std::vector<std::unique_ptr<Cache>> caches;
  caches.push_back(std::make_unique<KiviCache>(4, 8, 4, depth));
  caches.push_back(std::make_unique<KiviCache>(2, 8, 0, depth));
  caches.push_back(std::make_unique<KiviCache>(8, 16, 5, depth));
  for (int64_t policy : {kWindow, kH2O, kSnapKV}) {
    caches.push_back(std::make_unique<EvictCache>(policy, depth));
    caches.push_back(std::make_unique<KiviEvictCache>(policy, depth));
  }
  return caches;
}

/// The rows of position `pos` of `layer`: q, k, v of the true sequence
/// (`wrong` = 0) or of a wrong draft (each `wrong` value another one).
struct Rows {
  std::vector<float> q, k, v;
  void add(int64_t layer, int64_t pos, unsigned wrong) {
    std::mt19937 rng(unsigned(pos * 131 + layer * 17) + wrong * 7919u);
    std::normal_distribution<float> dist(0.0f, 1.0f);
    for (int64_t i = 0; i < kWidth; ++i)
      q.push_back(dist(rng));
    for (int64_t i = 0; i < kChannels; ++i)
      k.push_back(dist(rng));
    for (int64_t i = 0; i < kChannels; ++i)
      v.push_back(dist(rng));
  }
};

/// A prompt longer than kBatchInvariantRows (KIVI's batched path, SnapKV's
/// prompt selection), then one-position decoding up to `total`: every
/// output row and the state after each position.
struct Reference {
  std::vector<std::vector<std::vector<float>>> out; // [pos][layer]
  std::vector<std::vector<uint8_t>> state;          // after pos + 1
};

constexpr int64_t kPrompt = 44, kTotal = 110;

void prompt(Cache &cache, std::vector<std::vector<float>> *outs) {
  for (int64_t l = 0; l < cache.layers(); ++l) {
    Rows r;
    for (int64_t p = 0; p < kPrompt; ++p)
      r.add(l, p, 0);
    std::vector<float> out =
        cache.attend(l, 0, kPrompt, r.q.data(), r.k.data(), r.v.data());
    if (outs)
      outs->push_back(out);
  }
}

Reference reference(const Cache &like) {
  std::unique_ptr<Cache> cache = like.fresh(0);
  Reference ref;
  prompt(*cache, nullptr);
  ref.out.resize(kTotal);
  ref.state.resize(kTotal);
  for (int64_t p = kPrompt; p < kTotal; ++p) {
    for (int64_t l = 0; l < cache->layers(); ++l) {
      Rows r;
      r.add(l, p, 0);
      ref.out[size_t(p)].push_back(
          cache->attend(l, p, 1, r.q.data(), r.k.data(), r.v.data()));
    }
    ref.state[size_t(p)] = cache->state();
  }
  return ref;
}

TEST(KVRollbackTest, LogDepthIsReadFromTheBufferSize) {
  KiviLayout kivi{2, 2, 64, 8, 4, 8, 4};
  EvictLayout evict{2, 2, 12, 8, {12, 10}, 0, true};
  KiviEvictLayout both{2, 2, 8, 4, 8, 8, 2, 3, {2, 3}};
  EXPECT_EQ(undoDepthFor(kivi, kivi.totalBytes()), 0);
  EXPECT_EQ(undoDepthFor(evict, evict.totalBytes()), 0);
  EXPECT_EQ(undoDepthFor(both, both.totalBytes()), 0);
  for (int64_t depth = 1; depth <= UndoLog::kMaxDepth; ++depth) {
    KiviLayout k = kivi;
    EvictLayout e = evict;
    KiviEvictLayout b = both;
    k.undoDepth = e.undoDepth = b.undoDepth = depth;
    EXPECT_EQ(undoDepthFor(kivi, k.totalBytes()), depth);
    EXPECT_EQ(undoDepthFor(evict, e.totalBytes()), depth);
    EXPECT_EQ(undoDepthFor(both, b.totalBytes()), depth);
    // The log comes after what the layout held without it.
    EXPECT_EQ(k.keyOffset(1), kivi.keyOffset(1));
    EXPECT_EQ(k.undoOffset(0), 2 * kivi.layerBytes());
    EXPECT_EQ(e.undoOffsetOf(1), evict.layerBytesOf(1));
    EXPECT_EQ(b.undoOffset(3), both.regionBytes(3));
  }
}

// A call of T <= 16 rows is T one-row calls: the same outputs and bytes
// (logs included), with a log and without.
TEST(KVRollbackTest, RowsOfACallAreOneRowCalls) {
  for (int64_t depth : {int64_t(0), UndoLog::kMaxDepth}) {
    for (const std::unique_ptr<Cache> &kind : allCaches(depth)) {
      SCOPED_TRACE(kind->name());
      std::unique_ptr<Cache> batched = kind->fresh(depth),
                             single = kind->fresh(depth);
      prompt(*batched, nullptr);
      prompt(*single, nullptr);
      int64_t pos = kPrompt;
      for (int64_t rows : {16, 1, 7, 16, 3, 12, 16}) {
        for (int64_t l = 0; l < kind->layers(); ++l) {
          Rows r;
          for (int64_t t = 0; t < rows; ++t)
            r.add(l, pos + t, 0);
          std::vector<float> got =
              batched->attend(l, pos, rows, r.q.data(), r.k.data(), r.v.data());
          for (int64_t t = 0; t < rows; ++t) {
            std::vector<float> want = single->attend(
                l, pos + t, 1, r.q.data() + t * kWidth,
                r.k.data() + t * kChannels, r.v.data() + t * kChannels);
            ASSERT_TRUE(
                std::equal(want.begin(), want.end(), got.begin() + t * kWidth))
                << "row " << t << " of " << rows << " at " << pos << ", layer "
                << l;
          }
        }
        pos += rows;
        ASSERT_EQ(batched->buffer, single->buffer) << "after " << pos;
      }
    }
  }
}

/// Speculative steps on `cache`: every `draftEvery`-th step first drafts
/// T - 1 wrong positions into layer 0 only (a draft that skips layer 1),
/// then verifies T rows (A true, T - A wrong) in every layer and rolls back
/// T - A. Compares accepted rows and the state with `ref`.
void speculate(Cache &cache, const Reference &ref, int64_t maxRows,
               int64_t draftEvery, unsigned seed) {
  std::mt19937 rng(seed);
  prompt(cache, nullptr);
  int64_t pos = kPrompt;
  for (int64_t step = 1; pos < kTotal; ++step) {
    int64_t rows = std::uniform_int_distribution<int64_t>(1, maxRows)(rng);
    int64_t accepted = std::min(
        kTotal - pos, std::uniform_int_distribution<int64_t>(1, rows)(rng));
    unsigned wrong = unsigned(step);
    if (draftEvery > 0 && step % draftEvery == 0)
      for (int64_t t = 0; t + 1 < rows; ++t) {
        Rows r;
        r.add(0, pos + t, wrong + 1000);
        cache.attend(0, pos + t, 1, r.q.data(), r.k.data(), r.v.data());
      }
    for (int64_t l = 0; l < cache.layers(); ++l) {
      Rows r;
      for (int64_t t = 0; t < rows; ++t)
        r.add(l, pos + t, t < accepted ? 0 : wrong);
      std::vector<float> out =
          cache.attend(l, pos, rows, r.q.data(), r.k.data(), r.v.data());
      for (int64_t t = 0; t < accepted; ++t) {
        const std::vector<float> &want = ref.out[size_t(pos + t)][size_t(l)];
        ASSERT_TRUE(
            std::equal(want.begin(), want.end(), out.begin() + t * kWidth))
            << "step " << step << ": row " << t << " (position " << pos + t
            << ") of layer " << l;
      }
    }
    cache.rollback(rows - accepted);
    pos += accepted;
    ASSERT_EQ(cache.lengths(), std::vector<int64_t>(2, pos)) << "step " << step;
    ASSERT_TRUE(cache.state() == ref.state[size_t(pos - 1)])
        << "step " << step << ": state differs after rolling back "
        << rows - accepted << " of " << rows << " rows to " << pos;
  }
}

TEST(KVRollbackTest, VerifyThenRollbackIsOnePositionDecoding) {
  int64_t previous = llmc_kernels_get_threads();
  for (int64_t threads : {1, 3}) {
    llmc_kernels_set_threads(threads);
    for (const std::unique_ptr<Cache> &kind : allCaches(UndoLog::kMaxDepth)) {
      SCOPED_TRACE(kind->name() + ", threads " + std::to_string(threads));
      Reference ref = reference(*kind);
      std::unique_ptr<Cache> cache = kind->fresh(UndoLog::kMaxDepth);
      speculate(*cache, ref, UndoLog::kMaxDepth, /*draftEvery=*/0, 1);
    }
  }
  llmc_kernels_set_threads(previous);
}

TEST(KVRollbackTest, VerificationRollsBackADraftFirst) {
  for (const std::unique_ptr<Cache> &kind : allCaches(UndoLog::kMaxDepth)) {
    SCOPED_TRACE(kind->name());
    Reference ref = reference(*kind);
    std::unique_ptr<Cache> cache = kind->fresh(UndoLog::kMaxDepth);
    speculate(*cache, ref, UndoLog::kMaxDepth, /*draftEvery=*/2, 2);
  }
}

TEST(KVRollbackTest, ShallowLog) {
  for (const std::unique_ptr<Cache> &kind : allCaches(3)) {
    SCOPED_TRACE(kind->name());
    Reference ref = reference(*kind);
    std::unique_ptr<Cache> cache = kind->fresh(3);
    speculate(*cache, ref, 3, /*draftEvery=*/3, 3);
  }
}

// Past the log nothing can be restored: the state stays as it is, the log
// is forgotten, and later calls go on from the position they are given.
TEST(KVRollbackTest, RollingBackPastTheLogKeepsTheState) {
  for (const std::unique_ptr<Cache> &kind : allCaches(4)) {
    SCOPED_TRACE(kind->name());
    std::unique_ptr<Cache> cache = kind->fresh(4);
    prompt(*cache, nullptr);
    for (int64_t p = kPrompt; p < kPrompt + 6; ++p)
      for (int64_t l = 0; l < cache->layers(); ++l) {
        Rows r;
        r.add(l, p, 0);
        cache->attend(l, p, 1, r.q.data(), r.k.data(), r.v.data());
      }
    std::vector<uint8_t> before = cache->state();
    cache->rollback(5);
    EXPECT_TRUE(cache->state() == before);
    EXPECT_EQ(cache->lengths(), std::vector<int64_t>(2, kPrompt + 1));
    // Invalid arguments change nothing at all.
    std::vector<uint8_t> bytes = cache->buffer;
    cache->rollback(0);
    cache->rollback(-3);
    EXPECT_EQ(cache->buffer, bytes);
  }
}

} // namespace
