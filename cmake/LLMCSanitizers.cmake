#===- LLMCSanitizers.cmake - sanitizer and fuzzer builds ------*- cmake -*-===//
#
# LLMC_SANITIZE=address,undefined instruments llmc's own code (libraries,
# tools, unit tests, the Python extension); libMLIR.so and libLLVM.so stay as
# Debian ships them, and so do the model libraries the compiler writes at run
# time. LLMC_BUILD_FUZZERS=ON adds libFuzzer's coverage instrumentation on
# top (and turns on address,undefined if no sanitizer was asked for) and
# builds the fuzz targets of fuzz/. See docs/testing.md.
#
#===----------------------------------------------------------------------===//

set(LLMC_SANITIZE "" CACHE STRING
    "Sanitizers for llmc's own code, e.g. address,undefined (empty: none)")
option(LLMC_BUILD_FUZZERS "Build the libFuzzer targets of fuzz/" OFF)

if(LLMC_BUILD_FUZZERS AND NOT LLMC_SANITIZE)
  set(LLMC_SANITIZE "address,undefined" CACHE STRING
      "Sanitizers for llmc's own code" FORCE)
endif()

if(LLMC_SANITIZE)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "LLMC_SANITIZE needs clang (configured: "
                        "${CMAKE_CXX_COMPILER_ID})")
  endif()
  # -fno-sanitize=vptr: LLVM and MLIR are built without RTTI, so the dynamic
  # type of their objects cannot be checked (the group drops vptr by itself
  # under -fno-rtti; the Python extension is built with -frtti).
  # -gline-tables-only: file:line in reports at little build cost.
  set(LLMC_SANITIZER_FLAGS -fsanitize=${LLMC_SANITIZE} -fno-omit-frame-pointer
      -fno-sanitize=vptr -gline-tables-only)
  if(LLMC_SANITIZE MATCHES "undefined")
    list(APPEND LLMC_SANITIZER_FLAGS -fno-sanitize-recover=undefined)
  endif()
  # The ASan runtime is one shared library for everything: our executables
  # find it by rpath, python3 gets it preloaded to load the extension
  # (test/lit.cfg.py), and an executable python starts shares it.
  if(LLMC_SANITIZE MATCHES "address")
    execute_process(COMMAND ${CMAKE_CXX_COMPILER}
                    -print-file-name=libclang_rt.asan-x86_64.so
                    OUTPUT_VARIABLE LLMC_ASAN_RUNTIME
                    OUTPUT_STRIP_TRAILING_WHITESPACE)
    if(NOT EXISTS "${LLMC_ASAN_RUNTIME}")
      message(FATAL_ERROR "the ASan runtime of ${CMAKE_CXX_COMPILER} is "
                          "missing (install libclang-rt-22-dev)")
    endif()
    get_filename_component(runtime_dir ${LLMC_ASAN_RUNTIME} DIRECTORY)
    add_link_options(-shared-libasan -Wl,-rpath,${runtime_dir})
  endif()
  message(STATUS "llmc: sanitizers ${LLMC_SANITIZE}")
  add_compile_options(${LLMC_SANITIZER_FLAGS})
  add_link_options(${LLMC_SANITIZER_FLAGS})
endif()

# llmc_add_sanitizer_defaults(target): the sanitizer runtime options every
# executable of a sanitized build needs (SanitizerDefaultOptions.cpp).
function(llmc_add_sanitizer_defaults target)
  if(LLMC_SANITIZE)
    target_sources(${target} PRIVATE
      ${PROJECT_SOURCE_DIR}/cmake/SanitizerDefaultOptions.cpp)
  endif()
endfunction()

if(LLMC_BUILD_FUZZERS)
  # Coverage instrumentation everywhere; only the fuzz targets link
  # libFuzzer's main (-fsanitize=fuzzer, in fuzz/CMakeLists.txt).
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
