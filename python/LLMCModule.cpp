//===- LLMCModule.cpp - the llmc._llmc Python extension -------------------===//
//
// Part of llmc. Binds the C++ API of include/llmc/API; one submodule per area
// (ir, passes). MLIR failures become llmc.MLIRError carrying the diagnostics.
// Exceptions are thrown only here, never through MLIR frames.
//
//===----------------------------------------------------------------------===//

#include "llmc/API/Compiler.h"
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <stdexcept>

namespace py = pybind11;
using namespace llmc::api;

namespace {

/// Raised to Python as llmc.MLIRError.
struct MLIRError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// The session shared by every module parsed from Python.
std::shared_ptr<Session> defaultSession() {
  static std::shared_ptr<Session> session = std::make_shared<Session>();
  return session;
}

std::unique_ptr<Module> parseOrThrow(const std::string &text,
                                     const std::string &sourceName) {
  std::string diagnostics;
  std::unique_ptr<Module> module =
      Module::parse(defaultSession(), text, sourceName, diagnostics);
  if (!module)
    throw MLIRError(diagnostics);
  return module;
}

} // namespace

PYBIND11_MODULE(_llmc, m) {
  m.doc() = "llmc: an MLIR-based compiler for LLM inference (native part)";
  static py::exception<MLIRError> mlirError(m, "MLIRError", PyExc_RuntimeError);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p)
        std::rethrow_exception(p);
    } catch (const MLIRError &e) {
      mlirError(e.what());
      // Keep the diagnostics reachable as an attribute too.
      PyObject *type, *value, *tb;
      PyErr_Fetch(&type, &value, &tb);
      PyErr_NormalizeException(&type, &value, &tb);
      if (value)
        PyObject_SetAttrString(value, "diagnostics", py::str(e.what()).ptr());
      PyErr_Restore(type, value, tb);
    }
  });

  py::module_ ir = m.def_submodule("ir", "Parse, print and verify modules");
  py::class_<Module>(ir, "Module")
      .def(
          "print",
          [](Module &self, bool generic, bool debugInfo) {
            return self.print(generic, debugInfo);
          },
          py::arg("generic") = false, py::arg("debug_info") = false,
          "The module as MLIR text (custom or generic form).")
      .def("__str__", [](Module &self) { return self.print(); })
      .def(
          "verify",
          [](Module &self) {
            std::string diagnostics;
            if (!self.verify(diagnostics))
              throw MLIRError(diagnostics);
          },
          "Run the verifier; raises MLIRError on failure.")
      .def_property_readonly(
          "messages", [](Module &self) { return self.getLastMessages(); },
          "Remarks and warnings of the last pass pipeline run.");
  ir.def("parse", &parseOrThrow, py::arg("text"),
         py::arg("source_name") = "<python>",
         "Parse MLIR text into a Module; raises MLIRError with the parser "
         "and verifier diagnostics on failure.");

  py::module_ passes = m.def_submodule("passes", "Run pass pipelines");
  passes.def(
      "run",
      [](Module &module, const std::string &pipeline) {
        std::string diagnostics;
        if (!module.runPipeline(pipeline, diagnostics))
          throw MLIRError(diagnostics);
        return module.getLastMessages();
      },
      py::arg("module"), py::arg("pipeline"),
      "Run a textual pass pipeline on the module in place; returns remarks "
      "emitted by the passes and raises MLIRError on failure.");
  passes.def(
      "list",
      []() {
        py::list result;
        for (const PassEntry &entry : listRegisteredPasses()) {
          py::dict item;
          item["name"] = entry.name;
          item["summary"] = entry.summary;
          item["pipeline"] = entry.isPipeline;
          result.append(item);
        }
        return result;
      },
      "Every registered pass and pipeline as dicts with name, summary and "
      "pipeline (bool).");
}
