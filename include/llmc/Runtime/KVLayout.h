//===- KVLayout.h - byte layout of a KIVI-quantized KV cache ----*- C++ -*-===//
//
// Part of llmc. The one definition of where a KIVI cache
// (`!kv.cache<..., #kv.kivi<bits = B, group = G, residual = R>>`) keeps its
// bytes, shared by the compiler (which sizes the cache buffer and records it
// for the runtime) and the kernel (llmc_attention_kivi) that reads and
// writes it. Header-only and dependency-free.
//
// Per layer, three 64-byte aligned sections over the C = KV_HEADS x HEAD_DIM
// channels of a position:
//  - keys, quantized per channel: for every group of G consecutive positions
//    (token group g) and channel c, a record {f16 scale, f16 min, G codes};
//    code i is position g*G + i. Record index g * C + c.
//  - values, quantized per token: for every position p and every run of G
//    consecutive channels j, a record {f16 scale, f16 min, G codes}; code i
//    is channel j*G + i. Record index p * (C / G) + j.
//  - the full-precision residual: a ring of R + G slots, slot p % (R + G)
//    holding position p's keys (C f32) then its values (C f32).
// Codes are B-bit unsigned, packed LSB-first (code i at bit i*B of the
// record's code bytes); a value is min + scale * code.
//
// After `len` positions, the first quantizedCount(len) = G * floor((len -
// R) / G) positions (0 while len <= R) live in the quantized sections and
// the rest (fewer than R + G) in the ring: the R most recent positions are
// always exact, and older ones are flushed a whole group at a time.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_RUNTIME_KVLAYOUT_H
#define LLMC_RUNTIME_KVLAYOUT_H

#include <cstdint>
#include <vector>

namespace llmc::runtime {

/// The undo log of one layer of a byte cache whose type carries
/// `rollback<N>` (speculative decoding): what each of the layer's last N
/// positions overwrote, so that rolling them back restores the layer's bytes
/// exactly. A 64-byte header (the positions the layer holds, then how many of
/// the latest ones the log can undo; int64 each), one entry per position
/// (entry p % N for position p) and, for KIVI layouts, F = ceil(N / G)
/// flush saves (save f % F for token group f: what quantizing group f
/// overwrote; flushes are G positions apart, so the F latest are distinct
/// and cover the last N positions). The log is part of the layout's bytes,
/// so a kernel handed a buffer learns from its size whether there is a log
/// and how deep (undoDepthFor).
struct UndoLog {
  /// Deepest log: calls of up to 16 rows are processed as that many
  /// one-row calls (kBatchInvariantRows), the most a verification has.
  static constexpr int64_t kMaxDepth = 16;
  static constexpr int64_t kHeaderBytes = 64;
  int64_t depth = 0, entryBytes = 0, flushSaves = 0, flushBytes = 0;

  static int64_t savesFor(int64_t depth, int64_t group) {
    return (depth + group - 1) / group;
  }
  int64_t entryOffset(int64_t position) const {
    return kHeaderBytes + position % depth * entryBytes;
  }
  int64_t flushOffset(int64_t group) const {
    return kHeaderBytes + depth * entryBytes + group % flushSaves * flushBytes;
  }
  int64_t bytes() const {
    return depth > 0
               ? kHeaderBytes + depth * entryBytes + flushSaves * flushBytes
               : 0;
  }
};

/// The undo depth (1..UndoLog::kMaxDepth) for which `layout` is `bytes`
/// long, or 0 (no log) when none is: how a kernel, which is told the
/// layout's parameters but not its depth, finds its log.
template <typename Layout> int64_t undoDepthFor(Layout layout, int64_t bytes) {
  for (int64_t depth = 1; depth <= UndoLog::kMaxDepth; ++depth) {
    layout.undoDepth = depth;
    if (layout.totalBytes() == bytes)
      return depth;
  }
  return 0;
}

struct KiviLayout {
  int64_t layers = 0, kvHeads = 0, capacity = 0, headDim = 0;
  int64_t bits = 4, group = 32, residual = 128;
  /// Depth of the undo log (`rollback<N>`: the last N positions of each
  /// layer can be undone; 0: no log). The layers' logs follow the last
  /// layer: an entry holds the ring slot the position overwrote (2C f32), a
  /// flush save the key records, then the value records, a flush overwrote.
  int64_t undoDepth = 0;

  static constexpr int64_t align(int64_t n) { return (n + 63) & ~int64_t(63); }
  int64_t channels() const { return kvHeads * headDim; }
  int64_t ringSlots() const { return residual + group; }
  int64_t codeBytes() const { return group * bits / 8; }
  /// f16 scale, f16 min, then the codes.
  int64_t recordBytes() const { return 4 + codeBytes(); }
  int64_t tokenGroups() const { return (capacity + group - 1) / group; }
  int64_t keyBytes() const {
    return tokenGroups() * channels() * recordBytes();
  }
  int64_t valueBytes() const {
    return capacity * (channels() / group) * recordBytes();
  }
  int64_t ringBytes() const { return ringSlots() * 2 * channels() * 4; }
  int64_t layerBytes() const {
    return align(keyBytes()) + align(valueBytes()) + align(ringBytes());
  }
  /// The key records (and as many bytes of value records) of a token group.
  int64_t groupRecordBytes() const { return channels() * recordBytes(); }
  UndoLog undoLog() const {
    if (undoDepth <= 0)
      return {};
    return {undoDepth, 2 * channels() * 4, UndoLog::savesFor(undoDepth, group),
            2 * groupRecordBytes()};
  }
  int64_t undoOffset(int64_t layer) const {
    return layers * layerBytes() + layer * align(undoLog().bytes());
  }
  int64_t totalBytes() const {
    return layers * (layerBytes() + align(undoLog().bytes()));
  }
  int64_t keyOffset(int64_t layer) const { return layer * layerBytes(); }
  int64_t valueOffset(int64_t layer) const {
    return keyOffset(layer) + align(keyBytes());
  }
  int64_t ringOffset(int64_t layer) const {
    return valueOffset(layer) + align(valueBytes());
  }
  int64_t quantizedCount(int64_t len) const {
    return len > residual ? (len - residual) / group * group : 0;
  }
  /// Quantized bytes one position adds over all layers (keys and values,
  /// scales included), the ring excluded: the cost of a long context.
  double bytesPerPosition() const {
    double perChannel = double(bits) / 8.0 + 4.0 / double(group);
    return double(layers) * 2.0 * double(channels()) * perChannel;
  }
};

/// The byte layout of an f32 cache under an eviction policy
/// (`!kv.cache<L x H x SLOTS x D, f32, #kv.policy<...>>`): per layer, per KV
/// head, four arrays of that layer's slot count: keys (slots x D f32),
/// values (slots x D f32), the position a slot holds (i32) and its
/// accumulated attention mass (f32, H2O; SnapKV's pin flag). Layers are
/// back to back; with per-layer budgets (`layerSlots`, PyramidKV-style) each
/// layer has as many slots as its budget, else every layer has `slots`. A
/// layer with budget B holds min(len, B) positions after `len` (one is
/// evicted per new position once full). The kernel is handed one layer's
/// region at a time, so it sees a one-layer layout. With `rollback<N>` each
/// layer's region ends in its undo log: an entry holds, per KV head, the
/// slot the position took (i32), that slot's old position (i32) and score
/// (f32), keys (D f32) and values (D f32), and under H2O, whose rows add
/// attention mass to every slot, all the slots' old scores.
struct EvictLayout {
  int64_t layers = 0, kvHeads = 0, slots = 0, headDim = 0;
  /// Slots of each layer; empty = `slots` everywhere.
  std::vector<int64_t> layerSlots = {};
  int64_t undoDepth = 0;
  /// Whether log entries keep every slot's score (H2O).
  bool undoScores = false;

  int64_t slotsOf(int64_t layer) const {
    return layerSlots.empty() ? slots : layerSlots[static_cast<std::size_t>(layer)];
  }
  int64_t headBytes() const { return slots * (2 * headDim + 2) * 4; }
  /// One KV head's part of a log entry of a layer with `slots` slots.
  int64_t headEntryBytes(int64_t slots) const {
    return 12 + 8 * headDim + (undoScores ? 4 * slots : 0);
  }
  UndoLog undoLogOf(int64_t layer) const {
    if (undoDepth <= 0)
      return {};
    return {undoDepth, kvHeads * headEntryBytes(slotsOf(layer)), 0, 0};
  }
  /// Where the layer's log starts inside its region.
  int64_t undoOffsetOf(int64_t layer) const {
    return kvHeads * kvHeadBytesOf(layer);
  }
  /// A layer's bytes with uniform slots.
  int64_t layerBytes() const {
    UndoLog log{undoDepth, kvHeads * headEntryBytes(slots), 0, 0};
    return kvHeads * headBytes() + (undoDepth > 0 ? log.bytes() : 0);
  }
  int64_t layerBytesOf(int64_t layer) const {
    return kvHeads * slotsOf(layer) * (2 * headDim + 2) * 4 +
           undoLogOf(layer).bytes();
  }
  int64_t layerOffset(int64_t layer) const {
    int64_t offset = 0;
    for (int64_t l = 0; l < layer; ++l)
      offset += layerBytesOf(l);
    return offset;
  }
  int64_t totalBytes() const { return layerOffset(layers); }
  int64_t headOffset(int64_t layer, int64_t kvHead) const {
    return layerOffset(layer) + kvHead * kvHeadBytesOf(layer);
  }
  int64_t kvHeadBytesOf(int64_t layer) const {
    return slotsOf(layer) * (2 * headDim + 2) * 4;
  }
  /// Byte offsets of the four arrays inside a head's section (uniform
  /// slots, as the kernel sees one layer).
  int64_t keysOffset() const { return 0; }
  int64_t valuesOffset() const { return slots * headDim * 4; }
  int64_t positionsOffset() const { return 2 * slots * headDim * 4; }
  int64_t scoresOffset() const { return (2 * headDim + 1) * slots * 4; }
};

/// KIVI storage under an eviction policy (`!kv.cache<..., #kv.kivi<...>,
/// #kv.policy<...>>`). Eviction works on whole token groups, because a
/// key record quantizes one channel over G positions together. Per layer:
///  - a pool of P token-group slots in KiviLayout's sections (one layer of
///    capacity P x G: key records, value records, then the residual ring
///    of R + G full-precision slots), slot i in place of token group i;
///  - the `sinks` first positions of the sequence in full precision
///    (keys C f32 then values C f32 each), never evicted nor quantized;
///  - the accumulated attention mass of every ring slot (f32, H2O);
///  - per pool slot, the first position of the group it holds (i32) and its
///    accumulated attention mass (f32; for SnapKV 1 if the prompt selection
///    pinned it, else 0).
/// Positions past the sinks form a stream (position p is stream index
/// p - sinks) that flows through the ring as in KiviLayout; each group
/// flushed out of the ring takes a free pool slot, or the policy's victim's
/// slot, or is dropped if it is itself the victim. A layer with P slots holds
/// the sinks, at most P groups and R to R + G - 1 ring positions; P = (budget
/// - sinks - R) / G rounded down (`groupsFor`). Layers are back to back and
/// may have different P (per-layer budgets); the kernel is handed one
/// layer's region. With `rollback<N>` the region ends in its undo log: an
/// entry holds the sink or ring row the position overwrote (2C f32) and
/// every ring slot's and pool slot's old mass (the row's attention adds to
/// them all); a flush save the pool slot the flush took (i32, -1 if the
/// group was dropped), that slot's old first position (i32), key records
/// and value records.
struct KiviEvictLayout {
  int64_t layers = 0, kvHeads = 0, headDim = 0;
  int64_t bits = 4, group = 32, residual = 128, sinks = 0;
  /// Pool slots of every layer, unless `layerGroups` gives one per layer
  /// (per-layer budgets).
  int64_t groups = 0;
  std::vector<int64_t> layerGroups = {};
  int64_t undoDepth = 0;

  static int64_t groupsFor(int64_t budget, int64_t sinks, int64_t residual,
                           int64_t group) {
    int64_t room = budget - sinks - residual;
    return room >= group ? room / group : 0;
  }
  int64_t groupsOf(int64_t layer) const {
    return layerGroups.empty() ? groups
                               : layerGroups[static_cast<std::size_t>(layer)];
  }
  /// The quantized sections and the ring of a layer with `groups` slots.
  KiviLayout pool(int64_t groups) const {
    return {1, kvHeads, groups * group, headDim, bits, group, residual};
  }
  int64_t channels() const { return kvHeads * headDim; }
  // Offsets inside one layer's region, for a layer with `groups` slots.
  int64_t sinkOffset(int64_t groups) const {
    return pool(groups).layerBytes();
  }
  int64_t ringScoreOffset(int64_t groups) const {
    return sinkOffset(groups) + KiviLayout::align(sinks * 2 * channels() * 4);
  }
  int64_t firstsOffset(int64_t groups) const {
    return ringScoreOffset(groups) +
           KiviLayout::align(pool(groups).ringSlots() * 4);
  }
  int64_t groupScoreOffset(int64_t groups) const {
    return firstsOffset(groups) + KiviLayout::align(groups * 4);
  }
  int64_t undoOffset(int64_t groups) const {
    return groupScoreOffset(groups) + KiviLayout::align(groups * 4);
  }
  UndoLog undoLog(int64_t groups) const {
    if (undoDepth <= 0)
      return {};
    KiviLayout p = pool(groups);
    return {undoDepth, (2 * channels() + p.ringSlots() + groups) * 4,
            UndoLog::savesFor(undoDepth, group), 8 + 2 * p.groupRecordBytes()};
  }
  int64_t regionBytes(int64_t groups) const {
    return undoOffset(groups) + KiviLayout::align(undoLog(groups).bytes());
  }
  int64_t layerBytesOf(int64_t layer) const {
    return regionBytes(groupsOf(layer));
  }
  int64_t layerOffset(int64_t layer) const {
    if (layerGroups.empty())
      return layer * regionBytes(groups);
    int64_t offset = 0;
    for (int64_t l = 0; l < layer; ++l)
      offset += layerBytesOf(l);
    return offset;
  }
  int64_t totalBytes() const { return layerOffset(layers); }
};

} // namespace llmc::runtime

#endif // LLMC_RUNTIME_KVLAYOUT_H
