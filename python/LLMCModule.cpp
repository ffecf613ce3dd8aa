//===- LLMCModule.cpp - the llmc._llmc Python extension -------------------===//
//
// Part of llmc. Binds the C++ API of include/llmc/API; one submodule per area
// (ir, passes). MLIR failures become llmc.MLIRError carrying the diagnostics.
// Exceptions are thrown only here, never through MLIR frames.
//
//===----------------------------------------------------------------------===//

#include "llmc/API/Compiler.h"
#include "llmc/API/ModelCompiler.h"
#include "llmc/Import/GGUF.h"
#include "llmc/Runtime/CompiledModel.h"
#include "llmc/Runtime/Kernels.h"
#include "llmc/Runtime/Tokenizer.h"
#include <pybind11/numpy.h>
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

/// An llvm::Expected's value, or MLIRError with its message.
template <typename T> T unwrap(llvm::Expected<T> value) {
  if (!value)
    throw MLIRError(llvm::toString(value.takeError()));
  return std::move(*value);
}

void check(llvm::Error error) {
  if (error)
    throw MLIRError(llvm::toString(std::move(error)));
}

/// A GGUF model's tokenizer (the file stays mapped while it lives).
struct PyTokenizer {
  std::unique_ptr<llmc::gguf::File> file;
  std::unique_ptr<llmc::runtime::Tokenizer> tokenizer;

  static std::shared_ptr<PyTokenizer> open(const std::string &path) {
    auto t = std::make_shared<PyTokenizer>();
    t->file = unwrap(llmc::gguf::File::open(path));
    t->tokenizer = std::make_unique<llmc::runtime::Tokenizer>(
        unwrap(llmc::runtime::Tokenizer::fromGGUF(*t->file)));
    return t;
  }
};

/// A compiled model with its runtime state.
struct PyCompiled {
  std::unique_ptr<llmc::runtime::CompiledModel> model;
  std::string artifact;
  bool compiled = false;
};

void bindRuntime(py::module_ &m) {
  py::module_ rt = m.def_submodule("runtime", "Compile and run models");
  rt.def(
      "compile",
      [](const std::string &model, const std::string &output, int64_t context,
         const std::string &pipeline, unsigned optLevel,
         const std::string &spec, const std::string &kv,
         const std::string &draftModel) {
        llmc::api::CompileOptions options;
        options.contextLength = context;
        options.pipeline = pipeline;
        options.optLevel = optLevel;
        options.spec = spec;
        options.kv = kv;
        options.draftModel = draftModel;
        py::gil_scoped_release release;
        check(llmc::api::compileModel(model, output, options));
      },
      py::arg("model"), py::arg("output"), py::arg("context") = 0,
      py::arg("pipeline") = "", py::arg("opt_level") = 2, py::arg("spec") = "",
      py::arg("kv") = "", py::arg("draft_model") = "",
      "Compile a model into the shared library `output` (spec, kv and "
      "draft_model as llmc compile's --spec, --kv and --draft-model).");
  rt.def(
      "compile_cached",
      [](const std::string &model, int64_t context,
         const std::string &pipeline, const std::string &spec,
         const std::string &kv, const std::string &draftModel) {
        llmc::api::CompileOptions options;
        options.contextLength = context;
        options.pipeline = pipeline;
        options.spec = spec;
        options.kv = kv;
        options.draftModel = draftModel;
        bool compiled = false;
        std::string path;
        {
          py::gil_scoped_release release;
          llvm::Expected<std::string> cached =
              llmc::api::compileCached(model, options, compiled);
          if (!cached)
            throw MLIRError(llvm::toString(cached.takeError()));
          path = *cached;
        }
        return py::make_tuple(path, compiled);
      },
      py::arg("model"), py::arg("context") = 0, py::arg("pipeline") = "",
      py::arg("spec") = "", py::arg("kv") = "", py::arg("draft_model") = "",
      "The cached artifact for a model (compiling it if needed): "
      "(path, compiled_now).");

  rt.def(
      "set_threads",
      [](int64_t n) { llmc::runtime::CompiledModel::setThreads(n); },
      py::arg("n"),
      "Threads the CPU kernels run on (one pool per process; n < 1: one "
      "per core).");
  rt.def("get_threads", &llmc::runtime::CompiledModel::getThreads,
         "Threads the CPU kernels run on.");
  rt.def("system_allocations", &llmc_kernels_system_allocations,
         "Buffers the compiled step functions' allocator has taken from "
         "the system so far (it recycles freed buffers).");
  rt.def("allocator_calls", &llmc_kernels_allocator_calls,
         "Buffers anything asked the step functions' allocator for so far "
         "(recycled or not); planned step functions ask for none.");

  py::class_<PyCompiled, std::shared_ptr<PyCompiled>>(rt, "CompiledModel")
      .def_static(
          "load",
          [](const std::string &artifact) {
            auto c = std::make_shared<PyCompiled>();
            c->model = unwrap(llmc::runtime::CompiledModel::load(artifact));
            c->artifact = artifact;
            return c;
          },
          py::arg("artifact"))
      .def_property_readonly("artifact",
                             [](PyCompiled &c) { return c.artifact; })
      .def_property_readonly(
          "source", [](PyCompiled &c) { return c.model->getInfo().source; })
      .def_property_readonly(
          "vocab_size",
          [](PyCompiled &c) { return c.model->getInfo().vocabSize; })
      .def_property_readonly(
          "context",
          [](PyCompiled &c) { return c.model->getInfo().contextLength(); })
      .def_property_readonly(
          "position", [](PyCompiled &c) { return c.model->getPosition(); })
      .def("reset", [](PyCompiled &c) { c.model->reset(); })
      .def(
          "forward",
          [](PyCompiled &c, const std::vector<int32_t> &tokens,
             int64_t sequence) {
            llvm::ArrayRef<float> logits;
            {
              py::gil_scoped_release release;
              llvm::Expected<llvm::ArrayRef<float>> out =
                  c.model->forward(sequence, tokens);
              if (!out)
                throw MLIRError(llvm::toString(out.takeError()));
              logits = *out;
            }
            int64_t vocab = c.model->getInfo().vocabSize;
            py::array_t<float> result(
                {int64_t(tokens.size()), vocab});
            std::copy(logits.begin(), logits.end(), result.mutable_data());
            return result;
          },
          py::arg("tokens"), py::arg("sequence") = 0,
          "Run tokens at the current position (of `sequence`, a fork of a "
          "paged model; 0 = the main one); logits of every row "
          "(len(tokens) x vocab) as a numpy array.")
      .def_property_readonly("paged",
                             [](PyCompiled &c) { return c.model->isPaged(); })
      .def(
          "fork",
          [](PyCompiled &c, int64_t prefix, int64_t sequence) {
            return unwrap(c.model->fork(sequence, prefix));
          },
          py::arg("prefix"), py::arg("sequence") = 0,
          "A new sequence holding the first `prefix` positions of "
          "`sequence` (paged models): it shares their KV blocks, "
          "copy-on-write. Returns its id for forward(..., sequence=id).")
      .def(
          "release",
          [](PyCompiled &c, int64_t sequence) {
            check(c.model->release(sequence));
          },
          py::arg("sequence"), "Give back the KV blocks of a forked sequence.")
      .def(
          "position_of",
          [](PyCompiled &c, int64_t sequence) {
            return c.model->getPosition(sequence);
          },
          py::arg("sequence"), "Positions filled in `sequence` (-1: none).")
      .def_property_readonly(
          "kv_blocks",
          [](PyCompiled &c) {
            py::dict d;
            const llmc::runtime::BlockPool *pool = c.model->getBlockPool();
            if (!pool)
              return d;
            d["block_size"] = pool->getBlockSize();
            d["blocks"] = pool->getNumBlocks();
            d["used"] = pool->getUsedBlocks();
            d["copies"] = pool->getCopies();
            return d;
          },
          "The KV block pool of a paged model (block_size, blocks, used, "
          "copies); {} for a contiguous cache.")
      .def_property_readonly(
          "spec", [](PyCompiled &c) { return c.model->getInfo().spec; })
      .def(
          "speculate",
          [](PyCompiled &c, const std::vector<int32_t> &history,
             int64_t draftLimit, double temperature, int64_t topK, double topP,
             uint64_t seed) {
            llmc::runtime::CompiledModel::SpecControl control;
            control.draftLimit = draftLimit;
            control.sampling.temperature = temperature;
            control.sampling.topK = topK;
            control.sampling.topP = topP;
            control.seed = seed;
            py::gil_scoped_release release;
            llvm::Expected<llmc::runtime::CompiledModel::SpecStep> step =
                c.model->speculate(history, control);
            if (!step)
              throw MLIRError(llvm::toString(step.takeError()));
            return std::make_pair(
                std::vector<int32_t>(step->tokens.begin(), step->tokens.end()),
                step->drafted);
          },
          py::arg("history"), py::arg("draft_limit") = -1,
          py::arg("temperature") = 0.0, py::arg("top_k") = 0,
          py::arg("top_p") = 1.0, py::arg("seed") = 0,
          "One speculative step (a model compiled with --spec): history is "
          "every token so far, position + 1 of them (the last not run yet). "
          "Returns (tokens, drafted): the emitted tokens (greedy at "
          "temperature 0, else distributed as sampling the model) and the "
          "number of draft tokens proposed.");

  py::class_<llmc::runtime::SamplingOptions>(rt, "SamplingOptions")
      .def(py::init<>())
      .def_readwrite("temperature", &llmc::runtime::SamplingOptions::temperature)
      .def_readwrite("top_k", &llmc::runtime::SamplingOptions::topK)
      .def_readwrite("top_p", &llmc::runtime::SamplingOptions::topP)
      .def_readwrite("seed", &llmc::runtime::SamplingOptions::seed);
  py::class_<llmc::runtime::Sampler>(rt, "Sampler")
      .def(py::init<const llmc::runtime::SamplingOptions &>())
      .def("sample",
           [](llmc::runtime::Sampler &s, py::array_t<float> row) {
             return s.sample(llvm::ArrayRef<float>(row.data(), row.size()));
           });

  py::class_<PyTokenizer, std::shared_ptr<PyTokenizer>>(rt, "Tokenizer")
      .def_static("open", &PyTokenizer::open, py::arg("gguf_path"))
      .def(
          "encode",
          [](PyTokenizer &t, const std::string &text, bool bos) {
            return t.tokenizer->encode(text, bos);
          },
          py::arg("text"), py::arg("bos") = true)
      .def("decode",
           [](PyTokenizer &t, const std::vector<int32_t> &ids) {
             return py::bytes(t.tokenizer->decode(ids));
           })
      .def_property_readonly("bos",
                             [](PyTokenizer &t) { return t.tokenizer->getBos(); })
      .def_property_readonly("eos",
                             [](PyTokenizer &t) { return t.tokenizer->getEos(); })
      .def_property_readonly("vocab_size", [](PyTokenizer &t) {
        return t.tokenizer->getVocabSize();
      });
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

  bindRuntime(m);

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
