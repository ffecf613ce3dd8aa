//===- KVPagedTest.cpp - paged KV caches: block pool, forks, e2e ----------===//
//
// Part of llmc. The block pool on its own (sharing, copy-on-write, release,
// running out of blocks), then stories260K compiled with a paged cache:
// greedy tokens equal the contiguous cache's, and sequences forked from one
// prompt continue exactly as independent runs while the prompt's full
// blocks are stored once.
//
//===----------------------------------------------------------------------===//

#include "StoriesModel.h"
#include "llmc/API/ModelCompiler.h"
#include "llmc/Runtime/BlockPool.h"
#include "llmc/Runtime/CompiledModel.h"
#include "llvm/Support/FileSystem.h"
#include "gtest/gtest.h"
#include <cstdlib>
#include <set>

using llmc::runtime::BlockPool;
using llmc::runtime::CompiledModel;

namespace {

/// The message of a failed Expected ("" on success).
template <typename T> std::string errorOf(llvm::Expected<T> value) {
  return value ? std::string() : llvm::toString(value.takeError());
}

/// A pool of `blocks` blocks of 4 positions of 2 floats in 3 planes; a
/// table of 8 blocks.
BlockPool smallPool(int64_t blocks) { return BlockPool(blocks, 4, 2, 3, 8); }

/// Fills `block` with value + plane in every plane.
void fillBlock(BlockPool &pool, int32_t block, float value) {
  for (int64_t plane = 0; plane < pool.getPlanes(); ++plane)
    for (int64_t i = 0; i < 4 * 2; ++i)
      pool.slice(plane, block)[i] = value + float(plane);
}

TEST(BlockPoolTest, ForkSharesThePrefixBlocks) {
  BlockPool pool = smallPool(8);
  BlockPool::Sequence a = pool.newSequence();
  ASSERT_FALSE(bool(pool.prepareWrite(a, 0, 10))); // blocks 0..2
  a.length = 10;
  EXPECT_EQ(pool.getUsedBlocks(), 3);
  auto b = pool.fork(a, 10);
  ASSERT_TRUE(bool(b));
  EXPECT_EQ(b->length, 10);
  for (int j = 0; j < 3; ++j) {
    EXPECT_EQ(b->table[j], a.table[j]);
    EXPECT_EQ(pool.getRefCount(a.table[j]), 2);
  }
  EXPECT_EQ(b->table[3], BlockPool::kUnmapped);
  EXPECT_EQ(pool.getUsedBlocks(), 3) << "a fork allocates nothing";
  // A shorter prefix shares only the blocks that cover it.
  auto c = pool.fork(a, 4);
  ASSERT_TRUE(bool(c));
  EXPECT_EQ(c->table[0], a.table[0]);
  EXPECT_EQ(c->table[1], BlockPool::kUnmapped);
  EXPECT_EQ(pool.getRefCount(a.table[0]), 3);
  EXPECT_EQ(errorOf(pool.fork(a, 11)),
            "cannot fork 11 positions of a sequence of 10");
}

TEST(BlockPoolTest, WriteIntoASharedPartialBlockCopiesIt) {
  BlockPool pool = smallPool(8);
  BlockPool::Sequence a = pool.newSequence();
  ASSERT_FALSE(bool(pool.prepareWrite(a, 0, 6))); // block 1 half full
  a.length = 6;
  fillBlock(pool, a.table[0], 1.0f);
  fillBlock(pool, a.table[1], 2.0f);
  auto b = pool.fork(a, 6);
  ASSERT_TRUE(bool(b));
  int32_t shared = a.table[1];
  // b writes position 6, in the shared partial block: b gets a copy.
  ASSERT_FALSE(bool(pool.prepareWrite(*b, 6, 7)));
  EXPECT_NE(b->table[1], shared);
  EXPECT_EQ(a.table[1], shared);
  EXPECT_EQ(pool.getRefCount(shared), 1);
  EXPECT_EQ(pool.getRefCount(b->table[1]), 1);
  for (int64_t plane = 0; plane < 3; ++plane)
    EXPECT_EQ(pool.slice(plane, b->table[1])[7], 2.0f + float(plane))
        << "the copy holds the prefix in plane " << plane;
  EXPECT_EQ(pool.getCopies(), 1);
  // The full block stays shared; a is the only owner of its block 1 now,
  // so its own write there copies nothing.
  EXPECT_EQ(b->table[0], a.table[0]);
  EXPECT_EQ(pool.getRefCount(a.table[0]), 2);
  ASSERT_FALSE(bool(pool.prepareWrite(a, 6, 7)));
  EXPECT_EQ(a.table[1], shared);
  EXPECT_EQ(pool.getCopies(), 1);
  EXPECT_EQ(pool.getUsedBlocks(), 3);
}

TEST(BlockPoolTest, ReleaseFreesBlocksAtRefCountZero) {
  BlockPool pool = smallPool(8);
  BlockPool::Sequence a = pool.newSequence();
  ASSERT_FALSE(bool(pool.prepareWrite(a, 0, 8)));
  a.length = 8;
  auto b = pool.fork(a, 8);
  ASSERT_TRUE(bool(b));
  ASSERT_FALSE(bool(pool.prepareWrite(*b, 8, 9)));
  b->length = 9;
  EXPECT_EQ(pool.getUsedBlocks(), 3);
  pool.release(a);
  EXPECT_EQ(a.length, 0);
  EXPECT_EQ(pool.getUsedBlocks(), 3) << "b still holds the prompt blocks";
  EXPECT_EQ(pool.getRefCount(b->table[0]), 1);
  pool.release(*b);
  EXPECT_EQ(pool.getUsedBlocks(), 0);
  // Truncating gives back the blocks past the new length only.
  BlockPool::Sequence c = pool.newSequence();
  ASSERT_FALSE(bool(pool.prepareWrite(c, 0, 12)));
  c.length = 12;
  pool.truncate(c, 5);
  EXPECT_EQ(c.length, 5);
  EXPECT_EQ(pool.getUsedBlocks(), 2);
  EXPECT_EQ(c.table[2], BlockPool::kUnmapped);
}

TEST(BlockPoolTest, OutOfBlocksIsAnErrorThatChangesNothing) {
  BlockPool pool = smallPool(3);
  BlockPool::Sequence a = pool.newSequence();
  ASSERT_FALSE(bool(pool.prepareWrite(a, 0, 10)));
  a.length = 10;
  auto b = pool.fork(a, 10);
  ASSERT_TRUE(bool(b));
  // b's write into the shared partial block needs a copy: no block left.
  llvm::Error error = pool.prepareWrite(*b, 10, 11);
  ASSERT_TRUE(bool(error));
  EXPECT_EQ(llvm::toString(std::move(error)),
            "the KV block pool is out of blocks: writing positions [10, 11) "
            "needs 1 more blocks of 4 positions, 0 of 3 are free (release or "
            "truncate a sequence, or plan a larger pool)");
  EXPECT_EQ(b->table[2], a.table[2]) << "nothing changed";
  EXPECT_EQ(pool.getRefCount(a.table[2]), 2);
  llvm::Error past = pool.prepareWrite(a, 30, 33);
  ASSERT_TRUE(bool(past));
  EXPECT_NE(llvm::toString(std::move(past)).find("past the block table of 8"),
            std::string::npos);
}

/// stories260K compiled (context 256) with `kv`.
std::unique_ptr<CompiledModel> compileStories(llvm::StringRef kv) {
  llmc::api::CompileOptions options;
  options.contextLength = 256;
  options.kv = kv.str();
  return llmc::test::compileStories(options);
}

using llmc::test::argmax;

/// Runs `tokens` on sequence `seq`, then `steps` greedy tokens; returns them.
std::vector<int32_t> greedy(CompiledModel &model, int64_t seq,
                            std::vector<int32_t> tokens, int steps) {
  int64_t vocab = model.getInfo().vocabSize;
  std::vector<int32_t> out;
  for (int i = 0; i < steps; ++i) {
    auto logits = model.forward(seq, tokens);
    if (!logits) {
      ADD_FAILURE() << llvm::toString(logits.takeError());
      return out;
    }
    out.push_back(argmax(logits->take_back(vocab)));
    tokens = {out.back()};
  }
  return out;
}

TEST(KVPagedTest, StoriesGreedyEqualsContiguous) {
  REQUIRE_STORIES();
  auto contiguous = compileStories("");
  auto paged = compileStories("paged-b16");
  ASSERT_TRUE(contiguous && paged);
  EXPECT_FALSE(contiguous->isPaged());
  ASSERT_TRUE(paged->isPaged());
  EXPECT_EQ(paged->getInfo().kvBlockSize, 16);
  EXPECT_EQ(paged->getInfo().kvBlocks, 16);
  // "Once upon a time"
  const std::vector<int32_t> prompt = {1, 403, 407, 261, 378};
  std::vector<int32_t> expected = greedy(*contiguous, 0, prompt, 64);
  EXPECT_EQ(greedy(*paged, 0, prompt, 64), expected);
  EXPECT_EQ(paged->getPosition(), 5 + 63);
  EXPECT_EQ(paged->getBlockPool()->getUsedBlocks(), 5); // ceil(68 / 16)
  // Alone, the sequence got consecutive blocks: attention reads them in
  // place (llmc_attention_paged_f32's fast path).
  EXPECT_EQ(paged->getSequence(0)->table[4],
            paged->getSequence(0)->table[0] + 4);
  // reset() gives the blocks back; the rerun is the same.
  paged->reset();
  EXPECT_EQ(greedy(*paged, 0, prompt, 64), expected);
  EXPECT_EQ(paged->getBlockPool()->getUsedBlocks(), 5);
  EXPECT_EQ(paged->getSequence(0)->table[4],
            paged->getSequence(0)->table[0] + 4);
  // A contiguous model has no sequences to fork.
  EXPECT_NE(errorOf(contiguous->fork(0, 3)).find("needs a paged KV cache"),
            std::string::npos);
}

TEST(KVPagedTest, ForkedSequencesShareThePrompt) {
  REQUIRE_STORIES();
  auto paged = compileStories("paged-b8");
  ASSERT_TRUE(paged);
  int64_t vocab = paged->getInfo().vocabSize;
  // A 21-token prompt: two full blocks of 8 and a partial one.
  std::vector<int32_t> prompt = {1, 403, 407, 261, 378};
  std::vector<int32_t> more = greedy(*paged, 0, prompt, 16);
  prompt.insert(prompt.end(), more.begin(), more.end());
  ASSERT_EQ(prompt.size(), 21u);
  paged->reset();
  auto logits = paged->forward(prompt);
  ASSERT_TRUE(bool(logits));
  std::vector<float> last(logits->end() - vocab, logits->end());
  // Three continuations, each starting with a different token.
  int32_t top = argmax(last);
  const int32_t firsts[3] = {top, (top + 1) % int32_t(vocab),
                             (top + 7) % int32_t(vocab)};
  int64_t seqs[3];
  for (int i = 0; i < 3; ++i) {
    auto id = paged->fork(0, int64_t(prompt.size()));
    ASSERT_TRUE(bool(id)) << llvm::toString(id.takeError());
    seqs[i] = *id;
  }
  const BlockPool &pool = *paged->getBlockPool();
  EXPECT_EQ(pool.getUsedBlocks(), 3) << "forks copy nothing";
  std::vector<int32_t> continued[3];
  for (int i = 0; i < 3; ++i)
    continued[i] = greedy(*paged, seqs[i], {firsts[i]}, 20);
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(paged->getPosition(seqs[i]), 21 + 20);
  // The two full prompt blocks are stored once, shared by all four
  // sequences; each fork copied the partial block on its first write.
  const std::vector<int32_t> &table = paged->getSequence(0)->table;
  for (int64_t seq : seqs) {
    const std::vector<int32_t> &own = paged->getSequence(seq)->table;
    EXPECT_EQ(own[0], table[0]);
    EXPECT_EQ(own[1], table[1]);
    EXPECT_NE(own[2], table[2]);
  }
  EXPECT_EQ(pool.getRefCount(table[0]), 4);
  EXPECT_EQ(pool.getRefCount(table[1]), 4);
  EXPECT_EQ(pool.getRefCount(table[2]), 1);
  EXPECT_EQ(pool.getCopies(), 3);
  // Sequence 0: 3 blocks; each fork: positions 16..40, blocks 2..5 own.
  EXPECT_EQ(pool.getUsedBlocks(), 3 + 3 * 4);

  // Each continuation equals an independent run: the prompt on a fresh
  // sequence, then the same first token.
  for (int i = 0; i < 3; ++i) {
    paged->reset();
    ASSERT_TRUE(bool(paged->forward(prompt)));
    EXPECT_EQ(greedy(*paged, 0, {firsts[i]}, 20), continued[i]) << "fork " << i;
  }
  // Releasing the forks frees their blocks; the prompt's stay with 0.
  for (int64_t seq : seqs)
    EXPECT_FALSE(bool(paged->release(seq)));
  EXPECT_EQ(pool.getUsedBlocks(), (21 + 20 + 7) / 8);
  EXPECT_EQ(paged->getPosition(seqs[0]), -1);
  EXPECT_EQ(errorOf(paged->forward(seqs[0], {1})),
            "no sequence " + std::to_string(seqs[0]));
}

TEST(KVPagedTest, TooManyForksRunOutOfBlocks) {
  REQUIRE_STORIES();
  auto paged = compileStories("paged-b64"); // 4 blocks of 64
  ASSERT_TRUE(paged);
  std::vector<int32_t> prompt = {1, 403, 407, 261, 378};
  ASSERT_TRUE(bool(paged->forward(prompt)));
  for (int i = 0; i < 3; ++i) {
    auto id = paged->fork(0, 5);
    ASSERT_TRUE(bool(id));
    ASSERT_TRUE(bool(paged->forward(*id, {378}))) << "fork " << i;
  }
  auto id = paged->fork(0, 5);
  ASSERT_TRUE(bool(id));
  EXPECT_NE(errorOf(paged->forward(*id, {378})).find("out of blocks"),
            std::string::npos);
}

} // namespace
