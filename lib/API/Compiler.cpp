//===- Compiler.cpp - embeddable llmc compiler API ------------------------===//
//
// Part of llmc.
//
//===----------------------------------------------------------------------===//

#include "llmc/API/Compiler.h"
#include "llmc/InitAll.h"
#include "llmc/Pipelines/Pipelines.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"
#include <cstdio>
#include <unistd.h>

using namespace mlir;
using namespace llmc::api;

namespace {
/// Collects every diagnostic emitted while alive as "loc: severity: msg"
/// lines (notes included), instead of printing them.
class DiagnosticCollector {
public:
  explicit DiagnosticCollector(MLIRContext &context)
      : handler(&context, [this](Diagnostic &diag) {
          append(diag);
          return success();
        }) {}

  std::string take() { return std::move(text); }

private:
  void append(Diagnostic &diag) {
    llvm::raw_string_ostream os(text);
    // file:line:col like mlir-opt, rather than loc("file":line:col).
    if (auto fileLoc = dyn_cast<FileLineColLoc>(diag.getLocation()))
      os << fileLoc.getFilename().getValue() << ":" << fileLoc.getLine() << ":"
         << fileLoc.getColumn() << ": ";
    else
      os << diag.getLocation() << ": ";
    switch (diag.getSeverity()) {
    case DiagnosticSeverity::Error:
      os << "error: ";
      break;
    case DiagnosticSeverity::Warning:
      os << "warning: ";
      break;
    case DiagnosticSeverity::Remark:
      os << "remark: ";
      break;
    case DiagnosticSeverity::Note:
      os << "note: ";
      break;
    }
    os << diag.str() << "\n";
    for (Diagnostic &note : diag.getNotes())
      append(note);
  }

  std::string text;
  ScopedDiagnosticHandler handler;
};
} // namespace

Session::Session() {
  static bool registered = [] {
    llmc::registerAllPasses();
    return true;
  }();
  (void)registered;
  DialectRegistry registry;
  llmc::registerAllDialects(registry);
  context = std::make_unique<MLIRContext>(registry);
  context->loadAllAvailableDialects();
  // Diagnostics go to Python as text; the op dump would drown the message.
  context->printOpOnDiagnostic(false);
}

std::unique_ptr<Module> Module::parse(std::shared_ptr<Session> session,
                                      llvm::StringRef text,
                                      llvm::StringRef sourceName,
                                      std::string &diagnostics) {
  MLIRContext &context = session->getContext();
  DiagnosticCollector collector(context);
  llvm::SourceMgr sourceMgr;
  sourceMgr.AddNewSourceBuffer(
      llvm::MemoryBuffer::getMemBufferCopy(text, sourceName), llvm::SMLoc());
  OwningOpRef<ModuleOp> module =
      parseSourceFile<ModuleOp>(sourceMgr, ParserConfig(&context));
  if (!module) {
    diagnostics = collector.take();
    if (diagnostics.empty())
      diagnostics = "failed to parse " + sourceName.str();
    return nullptr;
  }
  return std::unique_ptr<Module>(
      new Module(std::move(session), std::move(module)));
}

std::string Module::print(bool generic, bool debugInfo) {
  std::string text;
  llvm::raw_string_ostream os(text);
  OpPrintingFlags flags;
  if (generic)
    flags.printGenericOpForm();
  if (debugInfo)
    flags.enableDebugInfo();
  module->print(os, flags);
  return text;
}

bool Module::verify(std::string &diagnostics) {
  DiagnosticCollector collector(session->getContext());
  bool ok = succeeded(mlir::verify(*module));
  diagnostics = collector.take();
  return ok;
}

bool Module::runPipeline(llvm::StringRef pipeline, std::string &diagnostics) {
  MLIRContext &context = session->getContext();
  DiagnosticCollector collector(context);
  std::string parseErrors;
  FailureOr<OpPassManager> parsed = parseModulePipeline(pipeline, parseErrors);
  if (failed(parsed)) {
    diagnostics = "invalid pass pipeline '" + pipeline.str() +
                  "': " + parseErrors + "\n" + collector.take();
    return false;
  }
  PassManager pm(&context);
  static_cast<OpPassManager &>(pm) = std::move(*parsed);
  pm.enableVerifier(true);
  bool ok = succeeded(pm.run(*module));
  std::string messages = collector.take();
  if (!ok) {
    diagnostics = messages.empty() ? "pass pipeline failed" : messages;
    return false;
  }
  lastMessages = std::move(messages);
  return true;
}

std::vector<PassEntry> llmc::api::listRegisteredPasses() {
  // MLIR has no iteration API over its pass registry; it can only print it.
  // Capture that listing through a temporary file standing in for stdout.
  static bool registered = [] {
    llmc::registerAllPasses();
    return true;
  }();
  (void)registered;
  std::vector<PassEntry> entries;
  std::FILE *tmp = std::tmpfile();
  if (!tmp)
    return entries;
  llvm::outs().flush();
  std::fflush(stdout);
  int saved = ::dup(STDOUT_FILENO);
  ::dup2(::fileno(tmp), STDOUT_FILENO);
  mlir::printRegisteredPasses();
  llvm::outs().flush();
  ::dup2(saved, STDOUT_FILENO);
  ::close(saved);

  std::string listing;
  std::rewind(tmp);
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), tmp)) > 0)
    listing.append(buffer, n);
  std::fclose(tmp);

  // Entries look like "  --name   -   summary" at two spaces of indentation;
  // their options are indented further.
  bool inPipelines = false;
  llvm::SmallVector<llvm::StringRef> lines;
  llvm::StringRef(listing).split(lines, '\n');
  for (llvm::StringRef line : lines) {
    if (line.starts_with("Pass Pipelines"))
      inPipelines = true;
    else if (line.starts_with("Passes"))
      inPipelines = false;
    if (!line.starts_with("  --"))
      continue;
    auto [name, rest] = line.drop_front(4).split(' ');
    rest = rest.ltrim();
    rest.consume_front("-");
    entries.push_back({name.str(), rest.trim().str(), inPipelines});
  }
  for (llvm::StringRef name : llmc::getPipelineNames())
    if (const PassPipelineInfo *info = PassPipelineInfo::lookup(name))
      entries.push_back({name.str(), info->getPassDescription().str(), true});
  return entries;
}
