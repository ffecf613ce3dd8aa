//===- Kernels.h - CPU microkernels called by compiled models ---*- C++ -*-===//
//
// Part of llmc. The hot loops of a compiled model (matrix products over
// float or block-quantized weights, attention over the KV cache) are
// hand-written microkernels in the shared library libllmc_kernels.so, which
// the CPU pipeline selects and calls (as IREE's ukernels are) and every
// compiled model links against. They run on one persistent thread pool that
// the runtime sizes once (llmc_kernels_set_threads); a kernel call creates
// no thread and allocates nothing. Kernels are called from one host thread
// at a time (the pool and the decode scratch are per process), which is how
// the runtime drives a model.
//
// Batch invariance: a matmul (llmc_matmul_<fmt>, llmc_matmul_packed) or
// causal attention call (llmc_attention_f32 and the byte-cache kernels
// llmc_attention_kivi, _evict, _kivi_evict, which then also leave the
// cache as the T one-row calls would) of T <= 16 rows gives every row
// bitwise the result a call of that row alone (T = 1, attention at the
// row's position) gives, with every implementation LLMC_KERNELS selects
// and any thread count; so does every row-wise op (llmc_rmsnorm, llmc_rope,
// llmc_swiglu, llmc_add) at any T. Speculative decoding verifies k draft
// tokens in one call of k + 1 <= 16 rows and stays token-for-token equal to
// greedy decoding because of it. Larger calls (prefill) may sum in another
// order (kBatchInvariantRows in lib/Runtime/Kernels/KernelsImpl.h).
//
// Calling convention: the compiled code passes memrefs as MLIR's expanded
// descriptors (allocated pointer, aligned pointer, offset, sizes...,
// strides...), so each memref argument below is a run of scalars. The names
// and argument lists are the contract with lib/Conversion/LLMToLinalg/
// Microkernels.cpp.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_RUNTIME_KERNELS_H
#define LLMC_RUNTIME_KERNELS_H

#include <cstdint>

/// A 2-D f32 memref descriptor, expanded.
#define LLMC_MEMREF2(T, name)                                                  \
  T *name##Allocated, T *name, int64_t name##Offset, int64_t name##Rows,       \
      int64_t name##Cols, int64_t name##RowStride, int64_t name##ColStride
/// A 1-D byte memref descriptor, expanded.
#define LLMC_MEMREF1(T, name)                                                  \
  T *name##Allocated, T *name, int64_t name##Offset, int64_t name##Size,       \
      int64_t name##Stride
/// A 5-D memref descriptor, expanded.
#define LLMC_MEMREF5(T, name)                                                  \
  T *name##Allocated, T *name, int64_t name##Offset, int64_t name##Size0,      \
      int64_t name##Size1, int64_t name##Size2, int64_t name##Size3,           \
      int64_t name##Size4, int64_t name##Stride0, int64_t name##Stride1,       \
      int64_t name##Stride2, int64_t name##Stride3, int64_t name##Stride4

/// Declares `y[t, n] = sum_k x[t, k] * W[n, k]` for one weight format: x is
/// T x K f32 (any strides with unit column stride), W is N x K stored at
/// byte `weightOffset` of the weights range `w` (row-major; block formats pack
/// each row into ceil(K / block) blocks), y is T x N f32, row-major.
#define LLMC_DECLARE_MATMUL(fmt)                                               \
  void llmc_matmul_##fmt(LLMC_MEMREF2(float, x), LLMC_MEMREF1(uint8_t, w),    \
                         int64_t weightOffset, LLMC_MEMREF2(float, y))

extern "C" {

/// Sets the number of threads kernels run on (the caller plus n - 1
/// workers, created here, once); n < 1 means one per core. Not to be called
/// while a kernel runs.
void llmc_kernels_set_threads(int64_t n);
/// The current thread count.
int64_t llmc_kernels_get_threads();
/// How many buffers the compiled step functions' allocator
/// (`_mlir_memref_to_llvm_alloc`, lib/Runtime/Kernels/Allocator.cpp) has
/// taken from the system; it recycles freed buffers by size, so this stops
/// growing once a step has run.
int64_t llmc_kernels_system_allocations();
/// How many buffers anything asked that allocator for (from the system or
/// recycled). Step functions planned by llmc-plan-memory ask for none: their
/// temporaries live in the arena the runtime passes.
int64_t llmc_kernels_allocator_calls();
/// Which implementation the kernels use on this CPU ("avx2", "avx512" or
/// "scalar"); LLMC_KERNELS=scalar|avx2|avx512 in the environment chooses.
const char *llmc_kernels_isa();

/// Activation statistics for calibration (AWQ-style quantization): while
/// recording, every matmul (llmc_matmul_<fmt>, llmc_matmul_packed) adds
/// |x[t, k]| of its T x K input to per-channel sums kept for its weight,
/// keyed by the weight's byte offset in the weights range, and counts the
/// T rows. enable = 1 clears previous sums and starts; 0 stops (the sums
/// stay readable). Recording allocates; off, it costs a matmul one branch.
void llmc_kernels_record_activations(int64_t enable);
/// Copies the k per-channel sums of |x| recorded for the weight at
/// `weightOffset` into sumAbs[0, k) and returns the rows they cover, or -1
/// (writing nothing) when none were recorded or the weight's K is not k.
int64_t llmc_kernels_activation_stats(int64_t weightOffset, double *sumAbs,
                                      int64_t k);
/// The K of the weight at `weightOffset` recorded since recording last
/// started, or -1 when no matmul read it.
int64_t llmc_kernels_activation_channels(int64_t weightOffset);

LLMC_DECLARE_MATMUL(f32);
LLMC_DECLARE_MATMUL(f16);
LLMC_DECLARE_MATMUL(bf16);
LLMC_DECLARE_MATMUL(q8_0);
LLMC_DECLARE_MATMUL(q4_0);
LLMC_DECLARE_MATMUL(q4_k);
LLMC_DECLARE_MATMUL(q6_k);

/// Quantization to and from the qmm formats, and a matmul over any of them.
/// A format is (kind, bits, group, symmetric) as qmm::FormatInfo holds it,
/// kind numbered as qmm::FormatKind (0 q8_0, 1 q4_0, 2 q4_k, 3 q6_k, 4 intN,
/// 5 fp8_e4m3, 6 fp8_e5m2, 7 mxfp4); fixed formats take exactly their
/// canonical bits/group/symmetric (q4_k: 4, 256, 0; fp8: 8, 1, 1), intN
/// bits 2/3/4/8, group 32/64/128, symmetric 0/1. A rows x cols matrix is
/// row-major, each row packed into ceil(cols / group) blocks of
/// FormatInfo::blockBytes bytes, the ragged last block zero padded. The
/// block layouts are described in lib/Runtime/Kernels/Quantize.cpp (the ggml
/// ones are those llmc_matmul_q8_0/q4_0/q4_k/q6_k read). These two use no
/// thread pool, so any thread may call them.

/// Quantizes `rows` rows of `cols` f32 values (row r at src + r * cols) into
/// the packed layout of the format at dst (rows * ceil(cols / group) *
/// blockBytes bytes). Codes round to nearest (ties to even). Returns 0, or
/// -1 (writing nothing) for parameters that name no format or a negative
/// size.
int64_t llmc_quantize_rows(int64_t kind, int64_t bits, int64_t group,
                           int64_t symmetric, const float *src, int64_t rows,
                           int64_t cols, uint8_t *dst);
/// The inverse: unpacks rows x cols values into dst (row-major f32).
/// Returns 0, or -1 as llmc_quantize_rows.
int64_t llmc_dequantize_rows(int64_t kind, int64_t bits, int64_t group,
                             int64_t symmetric, const uint8_t *src,
                             int64_t rows, int64_t cols, float *dst);
/// Converts n floats between f32 (type 0), IEEE f16 (1) and bf16 (2),
/// rounding to nearest even (overflow to f16 gives infinity; NaN stays
/// NaN). Returns 0, or -1 (writing nothing) for an unknown type.
int64_t llmc_convert_floats(const void *src, int64_t srcType, void *dst,
                            int64_t dstType, int64_t n);
/// y = x @ W^T for a weight W (N x K) packed in any format, with the memref
/// conventions of LLMC_DECLARE_MATMUL; the kernel of the formats without a
/// llmc_matmul_<fmt> (intN, fp8, mxfp4). Decodes weight rows a few blocks
/// at a time into a stack buffer and accumulates in f32; parallel over N on
/// the pool. Parameters that name no format fill y with NaN.
void llmc_matmul_packed(LLMC_MEMREF2(float, x), LLMC_MEMREF1(uint8_t, w),
                        int64_t weightOffset, int64_t kind, int64_t bits,
                        int64_t group, int64_t symmetric,
                        LLMC_MEMREF2(float, y));

/// Attention of T queries over the first pos + T positions of one layer of
/// an f32 cache [2, L, KVH, C, D] (keys, values) that already holds this
/// step's keys and values: out[t, h*D + d] = softmax_s(scale * q_h . k_s)
/// . v_s, with KV head h / (H / KVH), query t at position pos + t, causal
/// (s <= pos + t) when `causal`, and s > pos + t - window when window > 0.
/// Online softmax; no score matrix is materialized.
void llmc_attention_f32(LLMC_MEMREF2(float, q), LLMC_MEMREF5(float, cache),
                        int64_t layer, int64_t pos, int64_t heads, float scale,
                        int64_t window, int64_t causal,
                        LLMC_MEMREF2(float, out));

/// llmc_attention_f32 over a paged f32 cache: `pool` is the flat block pool,
/// floats [layer][k/v][kv head][block][slot][dim] (blocks of blockSize
/// positions), and `table` the sequence's block table (position p is slot
/// p % blockSize of block table[p / blockSize]). k and v are T x (KVH*D),
/// the keys and values of positions pos .. pos + T - 1; the call stores
/// them at their slots, then attends exactly as llmc_attention_f32 (bitwise
/// the same result as the contiguous cache): in place when the sequence's
/// blocks are consecutive in the pool, else over a gathered copy. Every
/// block the step writes must be private to the sequence (the runtime's
/// copy-on-write); an entry outside the pool aborts with a message.
void llmc_attention_paged_f32(LLMC_MEMREF2(float, q), LLMC_MEMREF2(float, k),
                              LLMC_MEMREF2(float, v),
                              LLMC_MEMREF1(float, pool),
                              LLMC_MEMREF1(int32_t, table), int64_t layer,
                              int64_t pos, int64_t heads, float scale,
                              int64_t window, int64_t causal, int64_t layers,
                              int64_t kvHeads, int64_t blockSize,
                              int64_t headDim, LLMC_MEMREF2(float, out));

/// Appends T positions to layer `layer` of a KIVI-quantized cache and runs
/// attention over it, with the masks and head mapping of llmc_attention_f32.
/// `cache` holds the whole cache in the layout llmc::runtime::KiviLayout
/// {layers, kvHeads, capacity, headDim, bits, group, residual} describes
/// (include/llmc/Runtime/KVLayout.h). q is T x (H*D); k and v are T x
/// (KVH*D), the (RoPE'd) keys and values of positions pos .. pos + T - 1.
/// The call moves the token groups that leave the residual window into the
/// quantized sections (keys per channel, values per token, asymmetric
/// round-to-nearest codes with f16 scale and min), then stores the new rows
/// in the ring. Attention reads this step's rows in full precision, older
/// ones from where the layout keeps them; quantized records are used in
/// place (no dequantized copy). A causal call of T <= 16 rows is instead
/// exactly T one-row calls (each row appended, then attended), so that
/// every row sees what a decode step at its position would. Parameters the
/// layout cannot hold (bits not 2/4/8, group not a multiple of 8 or not
/// dividing KVH*D, pos + T > capacity, a cache buffer smaller than the
/// layout, mismatched shapes) make it return at once, writing nothing.
void llmc_attention_kivi(LLMC_MEMREF2(float, q), LLMC_MEMREF2(float, k),
                         LLMC_MEMREF2(float, v), LLMC_MEMREF1(uint8_t, cache),
                         int64_t layer, int64_t pos, int64_t heads, float scale,
                         int64_t window, int64_t causal, int64_t layers,
                         int64_t kvHeads, int64_t capacity, int64_t headDim,
                         int64_t bits, int64_t group, int64_t residual,
                         LLMC_MEMREF2(float, out));

/// Appends T positions to layer `layer` of an f32 cache that evicts under a
/// policy, and runs causal attention over what the cache holds, with the
/// head mapping of llmc_attention_f32. `cache` holds the whole cache in the
/// layout llmc::runtime::EvictLayout {layers, kvHeads, slots, headDim}
/// describes (include/llmc/Runtime/KVLayout.h); this layer uses `budget`
/// (1..slots) slots per KV head and, before position p arrives, holds
/// min(p, budget) positions in slots [0, min(p, budget)). q is T x (H*D); k
/// and v are T x (KVH*D), the (RoPE'd) keys and values of positions pos ..
/// pos + T - 1, inserted one row at a time, each row then attending over
/// the slots in use (all at positions <= its own). Once the budget is full
/// a new position replaces: with policy 0 (window, StreamingLLM) the oldest
/// position >= `sinks`; with policy 1 (H2O) the position >= `sinks` and
/// older than the `recent` latest with the least accumulated attention
/// (ties to the older; the window rule when none qualifies); with policy 2
/// (SnapKV) the oldest position >= `sinks` whose score is 0 (not pinned;
/// the window rule when none qualifies). H2O adds each row's attention
/// probabilities, summed over the query heads of a KV head, to the slots'
/// scores (a new slot starts at 0); the window policy and SnapKV do not.
///
/// SnapKV compresses a prompt: a call at pos 0 with T > budget attends
/// every row causally over the call's own rows 0..t (nothing evicted), then
/// per KV head sums the attention probabilities of its query heads' last
/// `observe` rows on each position p < T - observe (the votes),
/// max-pools them over [p - pool/2, p + pool/2] within [0, T - observe), and
/// keeps the sinks, the budget - sinks - observe positions in [sinks, T -
/// observe) with the largest pooled votes (ties to the older) and the last
/// `observe` positions: slots [0, budget) in increasing position order,
/// scores 1 (pinned for the rest of the sequence) except the observation
/// window's 0. Any other SnapKV call (decode, a prompt that fits the
/// budget, later chunks) inserts row by row as above. observe and pool are
/// read by SnapKV only (pass 0 and 1 otherwise).
///
/// Parameters the layout cannot hold (policy not 0..2, budget outside
/// 1..slots, layer out of range, a cache buffer smaller than the layout or
/// not 4-byte aligned, mismatched shapes; for SnapKV observe < 1, an even
/// or non-positive pool, or sinks + observe >= budget) make it return at
/// once, writing nothing.
void llmc_attention_evict(LLMC_MEMREF2(float, q), LLMC_MEMREF2(float, k),
                          LLMC_MEMREF2(float, v), LLMC_MEMREF1(uint8_t, cache),
                          int64_t layer, int64_t pos, int64_t heads,
                          float scale, int64_t layers, int64_t kvHeads,
                          int64_t slots, int64_t headDim, int64_t policy,
                          int64_t sinks, int64_t recent, int64_t budget,
                          int64_t observe, int64_t pool,
                          LLMC_MEMREF2(float, out));

/// Causal attention of T rows over one layer of a KIVI cache under an
/// eviction policy (KiviEvictLayout in include/llmc/Runtime/KVLayout.h,
/// {layers, kvHeads, headDim, bits, group, residual, sinks, groups} with
/// `groups` pool slots in every layer; the compiler hands over one layer's
/// region with layer 0 of 1). Each row in turn is stored (a sink, or a ring
/// slot; the token group leaving the ring is quantized into a free pool
/// slot or replaces the policy's victim, 0 window / 1 h2o / 2 snapkv, or is
/// dropped), then attends over the sinks, the pooled groups (read from the
/// codes in place) and the ring; H2O adds the row's attention to the
/// masses. A SnapKV prompt (pos 0) whose groups do not all fit is attended
/// in full and its best-voted groups kept (`observe` voting rows, max-pool
/// width `pool`). Invalid parameters make it return at once, writing
/// nothing.
void llmc_attention_kivi_evict(
    LLMC_MEMREF2(float, q), LLMC_MEMREF2(float, k), LLMC_MEMREF2(float, v),
    LLMC_MEMREF1(uint8_t, cache), int64_t layer, int64_t pos, int64_t heads,
    float scale, int64_t layers, int64_t kvHeads, int64_t headDim,
    int64_t bits, int64_t group, int64_t residual, int64_t sinks,
    int64_t groups, int64_t policy, int64_t observe, int64_t pool,
    LLMC_MEMREF2(float, out));

/// Undo logs (speculative decoding). A byte cache whose type carries
/// `rollback<N>` is as long as its layout with an undo log of depth N
/// (llmc::runtime::UndoLog in include/llmc/Runtime/KVLayout.h), and the
/// three attention kernels above find the log from the buffer's size (a
/// buffer of exactly the layout's size without a log has none). With a log,
/// a causal call of T <= 16 rows is exactly T one-row calls, each logging
/// what it overwrites first, and a call at a position below a layer's length
/// first rolls that layer back to the position. The rollback helpers drop
/// the last `count` positions of the cache (the longest layer's length minus
/// count; no layer keeps more), undoing them latest first so that every
/// byte is as it was before they were added; positions the log no longer
/// holds are not undone (the log is then forgotten and the state kept as
/// it is; the compiler never asks for that). Their layout arguments are
/// those of the attention kernels for the whole cache, with the per-layer
/// slot (eviction) or pool group (KIVI with eviction) counts in a table of
/// `layers` entries, and `depth` = N. Invalid arguments change nothing.
void llmc_kv_rollback_kivi(LLMC_MEMREF1(uint8_t, cache), int64_t count,
                           int64_t layers, int64_t kvHeads, int64_t capacity,
                           int64_t headDim, int64_t bits, int64_t group,
                           int64_t residual, int64_t depth);
void llmc_kv_rollback_evict(LLMC_MEMREF1(uint8_t, cache), int64_t count,
                            int64_t layers, int64_t kvHeads, int64_t headDim,
                            int64_t policy, int64_t depth,
                            LLMC_MEMREF1(int64_t, layerSlots));
void llmc_kv_rollback_kivi_evict(LLMC_MEMREF1(uint8_t, cache), int64_t count,
                                 int64_t layers, int64_t kvHeads,
                                 int64_t headDim, int64_t bits, int64_t group,
                                 int64_t residual, int64_t sinks, int64_t depth,
                                 LLMC_MEMREF1(int64_t, layerGroups));

/// Row-wise ops on T x N f32 rows (any row stride), results written to y
/// (row-major), with the semantics of the llm ops of the same names:
/// rms_norm by a weight at byte `weightOffset` of `w` (weightFormat 0 f32,
/// 1 f16, 2 bf16); rope of rows at positions pos.. (pairs (2i, 2i+1), or
/// (i, i + rotary/2) with halfSplit; angle (pos + t) * freqScale *
/// theta^(-2i/rotary)); swiglu silu(gate) * up; add.
void llmc_rmsnorm(LLMC_MEMREF2(float, x), LLMC_MEMREF1(uint8_t, w),
                  int64_t weightOffset, int64_t weightFormat, float eps,
                  LLMC_MEMREF2(float, y));
void llmc_rope(LLMC_MEMREF2(float, x), int64_t pos, int64_t headDim,
               int64_t rotary, double theta, double freqScale,
               int64_t halfSplit, LLMC_MEMREF2(float, y));
void llmc_swiglu(LLMC_MEMREF2(float, g), LLMC_MEMREF2(float, u),
                 LLMC_MEMREF2(float, y));
void llmc_add(LLMC_MEMREF2(float, a), LLMC_MEMREF2(float, b),
              LLMC_MEMREF2(float, y));

/// Speculative decoding (the lowering of llm.ngram_draft and
/// llm.spec_accept; see those ops). llmc_ngram_draft writes up to `max`
/// tokens that followed the latest earlier occurrence of the last `ngram`
/// (then fewer, down to 1) tokens of history[0, length) into `draft`
/// (zero-filled) and returns how many. llmc_spec_accept accepts draft
/// tokens against the target's logits (count + 1 rows): at temperature 0
/// (or top_k 1) the longest draft prefix agreeing with each row's argmax
/// plus the target's next token, else the speculative sampling rule with
/// random numbers from `seed`; it writes the emitted tokens into `tokens`
/// (zero-filled) and returns their number (1 to count + 1). Sizes are
/// clamped to the buffers; neither reads or writes past them.
int64_t llmc_ngram_draft(LLMC_MEMREF1(int32_t, history), int64_t length,
                         int64_t ngram, int64_t max,
                         LLMC_MEMREF1(int32_t, draft));
int64_t llmc_spec_accept(LLMC_MEMREF1(int32_t, draft), int64_t count,
                         LLMC_MEMREF2(float, logits), double temperature,
                         int64_t topK, double topP, int64_t seed,
                         LLMC_MEMREF1(int32_t, tokens));

/// Token trees (lib/Runtime/Kernels/TokenTree.cpp; llm.rope and
/// llm.attention with a tree, kv.compact, llm.ngram_tree_draft and
/// llm.spec_accept_tree): every row computed exactly as a one-row step
/// along its path (row t's parent row is parents[t], -1 for a root).
/// llmc_rope_tree rotates row t at pos + depth(t).
/// llmc_attention_tree_f32 attends row t over positions [0, pos) and its
/// path's rows, as a
/// one-row llmc_attention_f32 at pos + depth(t); the step's rows are in the
/// cache at pos + row and stay there. llmc_kv_compact_f32 moves row
/// rows[j] to position pos + j for j < count in every layer.
/// llmc_ngram_tree_draft writes a trie of prompt-lookup continuations
/// (node i = draft[i] is verification row i + 1, its parent's row
/// parents[i], 0 for the last token; parents first) of at most `width`
/// branches and returns its size. llmc_spec_accept_tree walks the tree
/// from row 0: greedy, or the multi-candidate rejection rule at
/// temperature > 0; writes the emitted tokens, the rows of the accepted
/// path (row 0 first) into `path`, and returns the number emitted.
void llmc_rope_tree(LLMC_MEMREF2(float, x), int64_t pos,
                    LLMC_MEMREF1(int32_t, parents), int64_t headDim,
                    int64_t rotary, double theta, double freqScale,
                    int64_t halfSplit, LLMC_MEMREF2(float, y));
void llmc_attention_tree_f32(LLMC_MEMREF2(float, q),
                             LLMC_MEMREF5(float, cache), int64_t layer,
                             int64_t pos, int64_t heads, float scale,
                             LLMC_MEMREF1(int32_t, parents),
                             LLMC_MEMREF2(float, out));
void llmc_kv_compact_f32(LLMC_MEMREF5(float, cache), int64_t pos,
                         LLMC_MEMREF1(int32_t, rows), int64_t count);
int64_t llmc_ngram_tree_draft(LLMC_MEMREF1(int32_t, history), int64_t length,
                              int64_t ngram, int64_t width,
                              LLMC_MEMREF1(int32_t, parents),
                              LLMC_MEMREF1(int32_t, draft));
int64_t llmc_spec_accept_tree(LLMC_MEMREF1(int32_t, draft),
                              LLMC_MEMREF1(int32_t, parents), int64_t count,
                              LLMC_MEMREF2(float, logits), double temperature,
                              int64_t topK, double topP, int64_t seed,
                              LLMC_MEMREF1(int32_t, path),
                              LLMC_MEMREF1(int32_t, tokens));

} // extern "C"

#endif // LLMC_RUNTIME_KERNELS_H
