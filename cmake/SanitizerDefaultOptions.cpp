//===- SanitizerDefaultOptions.cpp - ASan/UBSan defaults of our binaries --===//
//
// Part of llmc. Linked into every executable of a LLMC_SANITIZE build. LLVM's
// BumpPtrAllocator poisons fresh slabs in code inlined into our (ASan) objects
// but is also called from the uninstrumented libMLIR.so, which never
// unpoisons what it hands out: manual poisoning must be off, or the first
// attribute libMLIR.so allocates in such a slab is a use-after-poison.
// ASAN_OPTIONS set in the environment still apply on top of these.
//
//===----------------------------------------------------------------------===//

extern "C" const char *__asan_default_options() {
  return "allow_user_poisoning=0";
}

extern "C" const char *__ubsan_default_options() {
  return "print_stacktrace=1";
}
