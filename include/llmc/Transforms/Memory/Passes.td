//===- Passes.td - memory planning passes ------------------*- tablegen -*-===//
//
// Part of llmc.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_TRANSFORMS_MEMORY_PASSES_TD
#define LLMC_TRANSFORMS_MEMORY_PASSES_TD

include "mlir/Pass/PassBase.td"

def PlanMemory : Pass<"llmc-plan-memory", "::mlir::ModuleOp"> {
  let summary = "Place each function's temporary buffers in one static arena";
  let description = [{
    Runs on bufferized functions, before buffer deallocation. Every
    `memref.alloc` whose buffer (with all its aliases: views, casts, region
    results) stays inside the function and its loop iteration becomes a
    `memref.view` at a fixed offset of one arena per function:

    - **Liveness.** Operations are numbered in pre-order; a buffer lives,
      in the innermost block holding all uses of it and its aliases (its
      own block, or an enclosing one when an `scf.if` yields it), from its
      allocation to the end of the last operation of that block that uses
      it (a use inside a loop keeps it live for the whole loop). A buffer
      returned, or yielded out of a loop iteration, is left to the
      allocator.
    - **Sizes.** Static buffers take their bytes. A buffer with one
      dynamic dimension is sized per unit of that value (rows of the
      step): all such buffers of a function must share one value, and the
      arena is `FIXED + PER_ROW x rows` bytes, the two parts planned
      separately; the rows are a dimension of an argument. A buffer whose
      dynamic size is computed in the function is planned at its largest
      size when integer range analysis bounds it (a speculative step's
      verified rows: at most k + 1). With an arena argument the function
      checks the arena's size (`cf.assert`).
    - **Placement.** Greedy by size with best fit: largest first, each at
      the gap that wastes least among the buffers already placed that are
      live at the same time; offsets and sizes are multiples of
      `alignment`. Buffers live at disjoint times share bytes; a buffer
      reused in place by bufferization is one buffer already.
    - **The arena.** With `arena-argument`, a public function without
      callers gets it as a trailing `memref<?xi8> {llmc.arena}` argument
      (the runtime owns it, so a step allocates nothing); otherwise one
      `memref.alloc` at the top of the function holds it (deallocated by
      the deallocation pipeline).
    - **Hierarchy.** With `hierarchy="sram:256K,dram"` (fastest level
      first; only the last is unbounded) static buffers go to the fastest
      level whose arena still fits, by uses per byte; `llmc.double_buffer`
      on an allocation doubles its footprint (ping-pong). Each bounded
      level gets its own `memref.alloc {llmc.memory_level = NAME}` arena.

    Each planned function gets `llmc.memory_plan`: `arena`, `lower_bound`
    (the most bytes live at one point) and `no_reuse` (the sum of the
    buffers) as `[FIXED, PER_ROW]` byte pairs, `buffers` and `unplanned`
    counts, `rows` = `[ARG, DIM]` when the per-row unit is dimension DIM of
    argument ARG (DIM -1: the index argument itself), `arena_argument`
    when the arena is passed,
    and `levels` with a hierarchy. `report` also prints them
    as remarks.

    ```
    llmc-opt --llmc-plan-memory='report=true' bufferized.mlir
    ```
  }];
  let options = [
    Option<"arenaArgument", "arena-argument", "bool", /*default=*/"false",
           "Pass the arena of a public, uncalled function as a trailing "
           "argument (else allocate it in the function)">,
    Option<"alignment", "alignment", "int64_t", /*default=*/"64",
           "Alignment of every buffer's offset and size, in bytes">,
    Option<"hierarchy", "hierarchy", "std::string", /*default=*/"\"\"",
           "Memory levels, fastest first: NAME:BYTES,...,NAME (e.g. "
           "sram:256K,dram); empty: one unbounded memory">,
    Option<"report", "report", "bool", /*default=*/"false",
           "Emit a remark with each function's plan">
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::cf::ControlFlowDialect",
                           "::mlir::memref::MemRefDialect"];
}

#endif // LLMC_TRANSFORMS_MEMORY_PASSES_TD
