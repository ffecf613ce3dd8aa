//===- KVCacheTypeTest.cpp - kv cache type helpers ------------------------===//
//
// Part of llmc. Storage accounting of !kv.cache and policy budgets.
//
//===----------------------------------------------------------------------===//

#include "dialects/kv/KVDialect.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/MLIRContext.h"
#include "gtest/gtest.h"

using namespace mlir;
using namespace llmc;

namespace {

struct KVCacheTypeTest : ::testing::Test {
  KVCacheTypeTest() { context.loadDialect<kv::KVDialect>(); }
  kv::CacheType cache(Attribute storage, int64_t block = 0,
                      kv::PolicyAttr policy = {}) {
    return kv::CacheType::get(&context, 5, 4, 512, 8, storage, block, policy);
  }
  MLIRContext context;
  Builder b{&context};
};

TEST_F(KVCacheTypeTest, FloatStorageBytes) {
  kv::CacheType f32 = cache(TypeAttr::get(b.getF32Type()));
  EXPECT_TRUE(f32.getFloatStorage());
  EXPECT_FALSE(f32.getQuantizedStorage());
  // stories260K: 2 (k, v) x 5 layers x 4 heads x 8 dims x 4 bytes.
  EXPECT_DOUBLE_EQ(f32.getBytesPerPosition(), 1280.0);
  kv::CacheType f16 = cache(TypeAttr::get(b.getF16Type()));
  EXPECT_DOUBLE_EQ(f16.getBytesPerPosition(), 640.0);
}

TEST_F(KVCacheTypeTest, QuantizedStorageBytes) {
  auto int4 = qmm::FormatAttr::get(&context, qmm::FormatKind::Int, 4, 32, true);
  kv::CacheType q = cache(int4);
  EXPECT_EQ(q.getQuantizedStorage(), int4);
  // 18 bytes per 32 elements = 4.5 bits per element.
  EXPECT_DOUBLE_EQ(q.getBitsPerElement(), 4.5);
  EXPECT_DOUBLE_EQ(q.getBytesPerPosition(), 2.0 * 5 * 4 * 8 * 4.5 / 8.0);
}

TEST_F(KVCacheTypeTest, WithStorageKeepsGeometry) {
  kv::CacheType f16 = cache(TypeAttr::get(b.getF16Type()), 16);
  auto q8 = qmm::FormatAttr::get(&context, qmm::FormatKind::Q8_0);
  kv::CacheType q = f16.withStorage(q8);
  EXPECT_EQ(q.getLayers(), 5);
  EXPECT_EQ(q.getBlockSize(), 16);
  EXPECT_TRUE(q.isPaged());
  EXPECT_EQ(q.withStorage(f16.getStorage()), f16);
}

TEST_F(KVCacheTypeTest, PolicyBudgets) {
  auto window = kv::PolicyAttr::get(&context, kv::PolicyKind::Window, 4, 124, 0,
                                    0, 1, {});
  EXPECT_EQ(window.getBudget(), 128);
  auto h2o =
      kv::PolicyAttr::get(&context, kv::PolicyKind::H2O, 0, 64, 64, 0, 1, {});
  EXPECT_EQ(h2o.getBudget(), 128);
  auto pyramid = kv::PolicyAttr::get(&context, kv::PolicyKind::H2O, 0, 16, 16,
                                     0, 1, {128, 96, 64, 48, 32});
  EXPECT_EQ(pyramid.getLayerBudget(0), 128);
  EXPECT_EQ(pyramid.getLayerBudget(4), 32);
  auto snap = kv::PolicyAttr::get(&context, kv::PolicyKind::SnapKV, 0, 0, 96,
                                  16, 7, {});
  EXPECT_EQ(snap.getBudget(), 112);
}

TEST_F(KVCacheTypeTest, VerifierRejectsBadGeometry) {
  // Diagnostics from getChecked go to the context's handler; count them.
  int errors = 0;
  context.getDiagEngine().registerHandler([&](Diagnostic &) {
    ++errors;
    return success();
  });
  auto emit = [&] { return mlir::emitError(UnknownLoc::get(&context)); };
  Attribute f32 = TypeAttr::get(b.getF32Type());
  int64_t layers = 5, heads = 4, headDim = 8, capacity = 512;
  int64_t oddCapacity = 100, block = 16, contiguous = 0;
  EXPECT_FALSE(kv::CacheType::getChecked(emit, &context, layers, heads,
                                         oddCapacity, headDim, f32, block,
                                         kv::PolicyAttr()));
  auto big = kv::PolicyAttr::get(&context, kv::PolicyKind::Window, 0, 1000, 0,
                                 0, 1, {});
  EXPECT_FALSE(kv::CacheType::getChecked(
      emit, &context, layers, heads, capacity, headDim, f32, contiguous, big));
  auto q4k = qmm::FormatAttr::get(&context, qmm::FormatKind::Q4_K);
  EXPECT_FALSE(kv::CacheType::getChecked(emit, &context, layers, heads,
                                         capacity, headDim, Attribute(q4k),
                                         contiguous, kv::PolicyAttr()));
  EXPECT_EQ(errors, 3);
}

} // namespace
