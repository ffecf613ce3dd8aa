//===- Compiler.h - embeddable llmc compiler API ----------------*- C++ -*-===//
//
// Part of llmc. A small C++ API over MLIR that the Python bindings (and
// later the driver) wrap: a session owning a context with every llmc and
// upstream dialect registered, modules parsed into it, pass pipelines run on
// them. Failures return the MLIR diagnostics as text; nothing here throws.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_API_COMPILER_H
#define LLMC_API_COMPILER_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/ADT/StringRef.h"
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace llmc::api {

/// Owns the MLIRContext. Registration of passes is process-wide and done
/// once on first construction.
class Session {
public:
  Session();
  mlir::MLIRContext &getContext() { return *context; }

private:
  std::unique_ptr<mlir::MLIRContext> context;
};

/// A parsed module plus the session that owns its context.
class Module {
public:
  /// Parses `text` (`sourceName` names it in diagnostics); on failure
  /// returns null and sets `diagnostics`.
  static std::unique_ptr<Module> parse(std::shared_ptr<Session> session,
                                       llvm::StringRef text,
                                       llvm::StringRef sourceName,
                                       std::string &diagnostics);

  /// The module as text, in custom or generic form.
  std::string print(bool generic = false, bool debugInfo = false);

  /// Runs the verifier; on failure sets `diagnostics`.
  bool verify(std::string &diagnostics);

  /// Runs a textual pipeline such as `builtin.module(llmc-verify-model)` or
  /// a bare pass list such as `llmc-verify-model,canonicalize`; the module
  /// is updated in place. On failure sets `diagnostics` (and the module may
  /// be partially transformed, as with mlir-opt).
  bool runPipeline(llvm::StringRef pipeline, std::string &diagnostics);

  /// Diagnostics (remarks, warnings) emitted by the last successful call.
  const std::string &getLastMessages() const { return lastMessages; }

  mlir::ModuleOp getOperation() { return *module; }

private:
  Module(std::shared_ptr<Session> session,
         mlir::OwningOpRef<mlir::ModuleOp> module)
      : session(std::move(session)), module(std::move(module)) {}

  std::shared_ptr<Session> session;
  mlir::OwningOpRef<mlir::ModuleOp> module;
  std::string lastMessages;
};

/// A registered pass or pass pipeline.
struct PassEntry {
  std::string name;
  std::string summary;
  bool isPipeline = false;
};

/// Every registered pass and pipeline, llmc's and upstream's.
std::vector<PassEntry> listRegisteredPasses();

} // namespace llmc::api

#endif // LLMC_API_COMPILER_H
