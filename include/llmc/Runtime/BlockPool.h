//===- BlockPool.h - blocks of a paged KV cache -----------------*- C++ -*-===//
//
// Part of llmc. A paged KV cache (`!kv.cache<..., paged<B>>`) keeps keys and
// values in a pool of fixed-size blocks of B positions each. The pool is
// split in planes (one per layer, keys or values, and KV head), each
// holding every block's B rows: floats [plane][block][slot][row], so a
// sequence whose blocks are consecutive has its positions contiguous in
// every plane. A sequence is a block table, entry j naming the block that
// holds its positions [j * B, (j + 1) * B) in all planes. Blocks are reference
// counted, so sequences forked from one prompt share the prompt's blocks; a
// write into a shared block copies it first (copy-on-write). The compiled step
// functions only read the table (llmc_attention_paged_f32); this class
// decides which block each position lives in. docs/memory.md, "KV cache
// layout", has the whole design.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_RUNTIME_BLOCKPOOL_H
#define LLMC_RUNTIME_BLOCKPOOL_H

#include "llvm/Support/Error.h"
#include <cstdint>
#include <vector>

namespace llmc::runtime {

class BlockPool {
public:
  /// One sequence's view of the pool: its block table (kUnmapped past its
  /// blocks) and its length in positions.
  struct Sequence {
    std::vector<int32_t> table;
    int64_t length = 0;
  };
  static constexpr int32_t kUnmapped = -1;

  /// `blocks` blocks of `blockSize` positions of `rowFloats` floats in
  /// each of `planes` planes; a sequence maps at most `tableSize` blocks.
  /// Blocks are handed out lowest first, so a sequence that grows alone
  /// gets consecutive blocks.
  BlockPool(int64_t blocks, int64_t blockSize, int64_t rowFloats,
            int64_t planes, int64_t tableSize);

  /// An empty sequence (no block).
  Sequence newSequence() const;
  /// Makes positions [begin, end) of `seq` writable: maps a fresh block for
  /// every logical block not mapped yet, and copies every block it shares
  /// with another sequence into a private one first (copy-on-write). Fails,
  /// changing nothing, when the table or the pool is too small.
  llvm::Error prepareWrite(Sequence &seq, int64_t begin, int64_t end);
  /// A new sequence holding the first `prefix` positions of `from`: it
  /// shares the blocks that cover them (one more reference each).
  llvm::Expected<Sequence> fork(const Sequence &from, int64_t prefix);
  /// Gives back every block of `seq` (freed at reference count 0); `seq`
  /// becomes empty.
  void release(Sequence &seq);
  /// Drops the positions of `seq` from `length` on, giving back the blocks
  /// that then hold none of its positions.
  void truncate(Sequence &seq, int64_t length);

  int64_t getBlockSize() const { return blockSize; }
  int64_t getRowFloats() const { return rowFloats; }
  int64_t getPlanes() const { return planes; }
  int64_t getNumBlocks() const { return int64_t(refs.size()); }
  int64_t getTableSize() const { return tableSize; }
  /// Blocks referenced by at least one sequence.
  int64_t getUsedBlocks() const {
    return getNumBlocks() - int64_t(free.size());
  }
  int32_t getRefCount(int32_t block) const { return refs[size_t(block)]; }
  /// Copy-on-write copies made so far.
  int64_t getCopies() const { return copies; }
  float *data() { return storage.data(); }
  /// The B x rowFloats floats of `block` in `plane`.
  float *slice(int64_t plane, int32_t block) {
    return storage.data() +
           (plane * getNumBlocks() + block) * blockSize * rowFloats;
  }

private:
  int64_t blockSize, rowFloats, planes, tableSize;
  std::vector<float> storage;
  std::vector<int32_t> refs;
  /// Free blocks, the next one to hand out last.
  std::vector<int32_t> free;
  int64_t copies = 0;
};

} // namespace llmc::runtime

#endif // LLMC_RUNTIME_BLOCKPOOL_H
