#===- LLMCUtils.cmake - helpers for llmc libraries ------------*- cmake -*-===//
#
# Every llmc library is a static PIC archive linked against the one libMLIR.so
# (and libLLVM.so), never against the static MLIR component archives.
#
#===----------------------------------------------------------------------===//

# llmc_add_library(name SRCS... [DEPENDS tblgen targets...] [LINK llmc libs...])
function(llmc_add_library name)
  cmake_parse_arguments(ARG "" "" "DEPENDS;LINK" ${ARGN})
  add_library(${name} STATIC ${ARG_UNPARSED_ARGUMENTS})
  if(ARG_DEPENDS)
    add_dependencies(${name} ${ARG_DEPENDS})
  endif()
  target_link_libraries(${name} PUBLIC ${ARG_LINK} MLIR LLVM)
endfunction()

# llmc_add_tool(name SRCS... LINK libs...): a thin main() linked to our libraries.
function(llmc_add_tool name)
  cmake_parse_arguments(ARG "" "" "LINK" ${ARGN})
  add_executable(${name} ${ARG_UNPARSED_ARGUMENTS})
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${LLMC_TOOLS_DIR})
  target_link_libraries(${name} PRIVATE ${ARG_LINK} MLIR LLVM)
  llmc_add_sanitizer_defaults(${name})
endfunction()

# llmc_dialect_tablegen(<dialect-name> <Prefix>): runs mlir-tblgen over the
# dialect folder's <Prefix>Ops.td and defines the target LLMC<Prefix>IncGen and
# the doc target LLMC<Prefix>DocGen (docs land in build/docs/dialects/).
function(llmc_dialect_tablegen dialect prefix)
  set(LLVM_TARGET_DEFINITIONS ${prefix}Ops.td)
  mlir_tablegen(${prefix}Dialect.h.inc -gen-dialect-decls -dialect=${dialect})
  mlir_tablegen(${prefix}Dialect.cpp.inc -gen-dialect-defs -dialect=${dialect})
  mlir_tablegen(${prefix}Enums.h.inc -gen-enum-decls)
  mlir_tablegen(${prefix}Enums.cpp.inc -gen-enum-defs)
  mlir_tablegen(${prefix}Attrs.h.inc -gen-attrdef-decls -attrdefs-dialect=${dialect})
  mlir_tablegen(${prefix}Attrs.cpp.inc -gen-attrdef-defs -attrdefs-dialect=${dialect})
  mlir_tablegen(${prefix}Types.h.inc -gen-typedef-decls -typedefs-dialect=${dialect})
  mlir_tablegen(${prefix}Types.cpp.inc -gen-typedef-defs -typedefs-dialect=${dialect})
  mlir_tablegen(${prefix}Ops.h.inc -gen-op-decls)
  mlir_tablegen(${prefix}Ops.cpp.inc -gen-op-defs)
  add_public_tablegen_target(LLMC${prefix}IncGen)

  set(LLVM_TARGET_DEFINITIONS ${prefix}Ops.td)
  tablegen(MLIR ${dialect}.md -gen-dialect-doc -dialect=${dialect})
  llmc_add_doc(LLMC${prefix}DocGen ${dialect}.md dialects/${dialect}.md)
endfunction()

# llmc_add_doc(target generated-file dest): copies a TableGen-generated doc
# of the current binary dir to build/docs/<dest>.
function(llmc_add_doc target generated dest)
  set(out ${CMAKE_BINARY_DIR}/docs/${dest})
  add_custom_command(OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -E copy ${CMAKE_CURRENT_BINARY_DIR}/${generated} ${out}
    DEPENDS ${CMAKE_CURRENT_BINARY_DIR}/${generated})
  add_custom_target(${target} DEPENDS ${out})
  set_property(GLOBAL APPEND PROPERTY LLMC_DOC_TARGETS ${target})
endfunction()
