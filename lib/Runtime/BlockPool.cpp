//===- BlockPool.cpp - blocks of a paged KV cache -------------------------===//
//
// Part of llmc.
//
//===----------------------------------------------------------------------===//

#include "llmc/Runtime/BlockPool.h"
#include "llvm/Support/FormatVariadic.h"
#include <algorithm>
#include <cstring>

using namespace llmc::runtime;

static llvm::Error fail(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

BlockPool::BlockPool(int64_t blocks, int64_t blockSize, int64_t rowFloats,
                     int64_t planes, int64_t tableSize)
    : blockSize(blockSize), rowFloats(rowFloats), planes(planes),
      tableSize(tableSize),
      storage(size_t(planes * blocks * blockSize * rowFloats), 0.0f),
      refs(size_t(blocks), 0) {
  // Hand out block 0 first.
  free.reserve(size_t(blocks));
  for (int64_t b = blocks - 1; b >= 0; --b)
    free.push_back(int32_t(b));
}

BlockPool::Sequence BlockPool::newSequence() const {
  Sequence seq;
  seq.table.assign(size_t(tableSize), kUnmapped);
  return seq;
}

llvm::Error BlockPool::prepareWrite(Sequence &seq, int64_t begin, int64_t end) {
  if (begin >= end)
    return llvm::Error::success();
  int64_t first = begin / blockSize, last = (end - 1) / blockSize;
  if (last >= tableSize)
    return fail(llvm::formatv("positions up to {0} need {1} blocks of {2}, "
                              "past the block table of {3} blocks",
                              end, last + 1, blockSize, tableSize));
  // Count first, so that a failure changes nothing.
  int64_t needed = 0;
  for (int64_t j = first; j <= last; ++j) {
    int32_t block = seq.table[size_t(j)];
    needed += block == kUnmapped || refs[size_t(block)] > 1;
  }
  if (needed > int64_t(free.size()))
    return fail(llvm::formatv(
        "the KV block pool is out of blocks: writing positions [{0}, {1}) "
        "needs {2} more blocks of {3} positions, {4} of {5} are free "
        "(release or truncate a sequence, or plan a larger pool)",
        begin, end, needed, blockSize, free.size(), getNumBlocks()));
  for (int64_t j = first; j <= last; ++j) {
    int32_t &entry = seq.table[size_t(j)];
    if (entry != kUnmapped && refs[size_t(entry)] == 1)
      continue;
    int32_t fresh = free.back();
    free.pop_back();
    refs[size_t(fresh)] = 1;
    if (entry != kUnmapped) {
      // Shared with another sequence: this one gets its own copy.
      for (int64_t plane = 0; plane < planes; ++plane)
        std::memcpy(slice(plane, fresh), slice(plane, entry),
                    size_t(blockSize * rowFloats) * sizeof(float));
      --refs[size_t(entry)];
      ++copies;
    }
    entry = fresh;
  }
  return llvm::Error::success();
}

llvm::Expected<BlockPool::Sequence> BlockPool::fork(const Sequence &from,
                                                    int64_t prefix) {
  if (prefix < 0 || prefix > from.length)
    return fail(llvm::formatv("cannot fork {0} positions of a sequence of {1}",
                              prefix, from.length));
  Sequence seq = newSequence();
  seq.length = prefix;
  for (int64_t j = 0, n = (prefix + blockSize - 1) / blockSize; j < n; ++j) {
    int32_t block = from.table[size_t(j)];
    seq.table[size_t(j)] = block;
    ++refs[size_t(block)];
  }
  return seq;
}

void BlockPool::truncate(Sequence &seq, int64_t length) {
  length = std::clamp<int64_t>(length, 0, seq.length);
  // Last block first, so that the free list hands them out again in order.
  for (int64_t j = tableSize - 1, keep = (length + blockSize - 1) / blockSize;
       j >= keep; --j) {
    int32_t &entry = seq.table[size_t(j)];
    if (entry == kUnmapped)
      continue;
    if (--refs[size_t(entry)] == 0)
      free.push_back(entry);
    entry = kUnmapped;
  }
  seq.length = length;
}

void BlockPool::release(Sequence &seq) { truncate(seq, 0); }
