//===- ModelCompiler.cpp - model file to a compiled artifact --------------===//
//
// Part of llmc.
//
//===----------------------------------------------------------------------===//

#include "llmc/API/ModelCompiler.h"
#include "llmc/API/MemoryBudget.h"
#include "dialects/kv/KVDialect.h"
#include "dialects/llm/LLMOps.h"
#include "llmc/Conversion/Passes.h"
#include "llmc/Import/Llama.h"
#include "llmc/InitAll.h"
#include "llmc/Pipelines/Pipelines.h"
#include "llmc/Runtime/CompiledModel.h"
#include "llmc/Target/CPU/Codegen.h"
#include "llmc/Transforms/Compression/Passes.h"
#include "llmc/Transforms/Memory/Passes.h"
#include "llmc/Transforms/Passes.h"
#include "llmc/Transforms/Speculative/Passes.h"
#include "dialects/qmm/QMMFormat.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/BinaryFormat/Magic.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/SHA256.h"
#include "llvm/Support/raw_ostream.h"
#include <dlfcn.h>
#include <unistd.h>

using namespace mlir;
using namespace llmc;

static llvm::Error fail(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

/// The llmc-quantize-weights options of a `--quantize` specification.
static QuantizeWeightsOptions quantizeOptions(llvm::StringRef spec) {
  QuantizeWeightsOptions options;
  llvm::SmallVector<llvm::StringRef> parts;
  spec.split(parts, ',', /*MaxSplit=*/-1, /*KeepEmpty=*/false);
  options.format = parts.empty() ? "f32" : parts.front().str();
  for (llvm::StringRef part : llvm::ArrayRef<llvm::StringRef>(parts).drop_front())
    options.overrides.push_back(part.str());
  return options;
}

std::string llmc::api::validateQuantizeSpec(llvm::StringRef spec) {
  QuantizeWeightsOptions options = quantizeOptions(spec);
  auto check = [](llvm::StringRef format) -> std::string {
    if (format == "f32" || format == "f16" || format == "bf16")
      return "";
    std::string error;
    if (!qmm::parseFormatSpec(format, error))
      return error;
    return "";
  };
  if (std::string error = check(options.format); !error.empty())
    return error;
  for (const std::string &entry : options.overrides) {
    auto [glob, format] = llvm::StringRef(entry).split('=');
    if (glob.empty() || format.empty())
      return "override '" + entry + "' is not TENSOR-GLOB=FORMAT";
    if (std::string error = check(format); !error.empty())
      return error;
  }
  return "";
}

std::string llmc::api::parseKVSpec(llvm::StringRef spec, KVSpec &out) {
  llvm::SmallVector<llvm::StringRef> items;
  spec.split(items, ',');
  for (llvm::StringRef item : items) {
    auto bad = [&](const llvm::Twine &why) {
      return ("'" + item + "': " + why).str();
    };
    llvm::SmallVector<llvm::StringRef> parts;
    item.split(parts, '-');
    llvm::StringRef head = parts.front();
    auto options = llvm::ArrayRef(parts).drop_front();
    if (head.consume_front("kivi")) {
      out.kivi = true;
      if (head.getAsInteger(10, out.bits) ||
          (out.bits != 2 && out.bits != 4 && out.bits != 8))
        return bad("KIVI bits must be 2, 4 or 8");
      for (llvm::StringRef part : options) {
        char key = part.empty() ? 0 : part.front();
        int64_t value = 0;
        if ((key != 'g' && key != 'r') ||
            part.drop_front().getAsInteger(10, value))
          return bad("'" + part + "' is not gGROUP or rRESIDUAL");
        (key == 'g' ? out.group : out.residual) = value;
      }
      if (out.group < 8 || out.group > 256 || out.group % 8 != 0)
        return bad("the group must be a multiple of 8 in [8, 256], got " +
                   llvm::Twine(out.group));
      continue;
    }
    if (head == "paged") {
      out.pagedBlock = 16;
      for (llvm::StringRef part : options)
        if (!part.consume_front("b") || part.getAsInteger(10, out.pagedBlock) ||
            out.pagedBlock < 1 || out.pagedBlock > 4096)
          return bad("expected paged or paged-bBLOCK with BLOCK in [1, 4096]");
      continue;
    }
    if (head == "window" || head == "h2o" || head == "snapkv") {
      out.policy = head.str();
      bool snap = head == "snapkv";
      for (llvm::StringRef part : options) {
        if (part == "pyramid") {
          out.pyramid = true;
          continue;
        }
        char key = part.empty() ? 0 : part.front();
        int64_t value = 0;
        bool known = key == 'b' || key == 's' ||
                     (snap ? key == 'o' || key == 'p' : key == 'r');
        if (!known || part.drop_front().getAsInteger(10, value) || value < 0)
          return bad("'" + part + "' is not " +
                     (snap ? "bBUDGET, sSINKS, oOBSERVE, pPOOL"
                           : "bBUDGET, sSINKS, rRECENT") +
                     " or pyramid");
        int64_t &field = key == 'b'   ? out.budget
                         : key == 's' ? out.sinks
                         : key == 'r' ? out.recent
                         : key == 'o' ? out.observe
                                      : out.pool;
        field = value;
      }
      if (snap && (out.pool < 1 || out.pool % 2 == 0))
        return bad("the pooling width must be odd, got " +
                   llvm::Twine(out.pool));
      if (out.budget <= 0)
        return bad("give the budget, e.g. " + head + "-b128");
      continue;
    }
    return bad("expected kiviBITS[-gGROUP][-rRESIDUAL], "
               "window|h2o|snapkv-bBUDGET[-sSINKS][-rRECENT][-oOBSERVE]"
               "[-pPOOL][-pyramid] or paged[-bBLOCK], e.g. kivi4, h2o-b128, "
               "paged-b16");
  }
  return "";
}

std::string llmc::api::parseSpecSpec(llvm::StringRef spec, SpecSpec &out) {
  auto bad = [&](const llvm::Twine &why) {
    return ("'" + spec + "': " + why).str();
  };
  llvm::SmallVector<llvm::StringRef> parts;
  spec.split(parts, '-');
  out.drafter = parts.front().str();
  auto options = llvm::ArrayRef(parts).drop_front();
  auto number = [](llvm::StringRef text, int64_t &value) {
    return !text.getAsInteger(10, value) && value >= 0;
  };
  if (out.drafter == "skip" || out.drafter == "exit") {
    if (options.empty())
      return bad(out.drafter == "skip"
                     ? "give the layers to skip, e.g. skip-1:3"
                     : "give the first layer to drop, e.g. exit-3");
    llvm::SmallVector<llvm::StringRef> layers;
    if (out.drafter == "skip" && options.front() == "auto")
      out.autoLayers = true; // chosen by the driver's calibration search
    else
      options.front().split(layers, ':');
    for (llvm::StringRef layer : layers) {
      int64_t value = 0;
      if (!number(layer, value))
        return bad("'" + options.front() + "' is not a layer list like 1:3");
      out.skipLayers.push_back(value);
    }
    if (out.drafter == "exit") {
      if (out.skipLayers.size() != 1)
        return bad("exit takes one layer, e.g. exit-3");
      out.exitLayer = out.skipLayers.front();
      out.skipLayers.clear();
    }
    options = options.drop_front();
  } else if (out.drafter != "ngram" && out.drafter != "model") {
    return bad("expected ngram[-kK][-nN][-tW], skip-L1:L2...[-kK], "
               "exit-E[-kK] or model[-kK] (with --draft-model), e.g. "
               "ngram-k4");
  }
  bool hasK = false;
  for (llvm::StringRef part : options) {
    if (part == "a") {
      out.adaptive = true;
      continue;
    }
    char key = part.empty() ? 0 : part.front();
    int64_t value = 0;
    bool known = key == 'k' ||
                 ((key == 'n' || key == 't') && out.drafter == "ngram");
    if (!known || !number(part.drop_front(), value))
      return bad("'" + part + "' is not " +
                 (out.drafter == "ngram" ? "kK, nN, tW or a" : "kK or a"));
    (key == 'k' ? out.k : key == 'n' ? out.ngram : out.treeWidth) = value;
    hasK |= key == 'k';
  }
  if (out.k < 1 || out.k > 15)
    return bad("k (draft tokens per step) must be in [1, 15], got " +
               llvm::Twine(out.k));
  if (out.ngram < 1)
    return bad("n must be >= 1");
  if (out.treeWidth < 1)
    return bad("t (token tree branches) must be >= 1");
  if (out.autoLayers && !hasK)
    out.k = 0;
  return "";
}

/// The KIVI residual window of `spec` (-1 in it takes the default) and,
/// with a policy, h2o's recent window, which is the same under KIVI; or an
/// error message.
static std::string resolveKiviResidual(api::KVSpec &spec) {
  if (spec.policy.empty()) {
    if (spec.residual < 0)
      spec.residual = 128;
    return "";
  }
  bool h2o = spec.policy == "h2o";
  if (h2o && spec.recent >= 0 && spec.residual >= 0 &&
      spec.recent != spec.residual)
    return ("--kv: with KIVI the h2o recent window is the residual ring; "
            "give one of -r" +
            llvm::Twine(spec.recent) + " (h2o) and -r" +
            llvm::Twine(spec.residual) + " (kivi), or the same value")
        .str();
  if (spec.residual < 0)
    spec.residual = h2o && spec.recent >= 0 ? spec.recent : spec.budget / 4;
  if (h2o)
    spec.recent = spec.residual;
  return "";
}

/// The llmc-kv-evict options of a `--kv` policy on a model of `layers`
/// layers, or an error message. Under KIVI (spec.kivi, residual resolved)
/// the fixed part of a budget includes the residual ring and the rest must
/// hold a token group.
static std::string evictOptions(const api::KVSpec &spec, int64_t layers,
                                KVEvictOptions &options) {
  bool window = spec.policy == "window", snap = spec.policy == "snapkv";
  options.policy = spec.policy;
  options.sinks = spec.sinks >= 0 ? spec.sinks : window ? 4 : 0;
  int64_t budget = spec.budget;
  // The part of the budget that is not chosen by the policy.
  int64_t fixed;
  if (window) {
    options.recent = budget - options.sinks;
    options.heavy = 0;
    fixed = options.sinks;
  } else if (snap) {
    options.observe = spec.observe >= 0
                          ? spec.observe
                          : std::max<int64_t>(1, std::min<int64_t>(16, budget / 4));
    options.pool = spec.pool;
    options.recent = 0;
    fixed = options.sinks + options.observe;
    options.heavy = budget - fixed;
  } else {
    options.recent = spec.recent >= 0 ? spec.recent : budget / 2;
    fixed = options.sinks + options.recent;
    options.heavy = budget - fixed;
  }
  if (budget - fixed <= 0)
    return ("--kv " + spec.policy + ": a budget of " + llvm::Twine(budget) +
            " leaves no room beyond " + llvm::Twine(fixed) + " sinks and " +
            (snap ? "observed" : "recent") + " positions")
        .str();
  // The smallest budget a layer may have: with KIVI, room for one token
  // group beside the sinks and the residual ring.
  int64_t smallest = fixed + 1;
  if (spec.kivi) {
    smallest = options.sinks + spec.residual + spec.group;
    if (budget < smallest)
      return ("--kv kivi + " + spec.policy + ": a budget of " +
              llvm::Twine(budget) + " leaves no room for a token group of " +
              llvm::Twine(spec.group) + " beside " +
              llvm::Twine(options.sinks) + " sinks and the residual window of " +
              llvm::Twine(spec.residual) + " (needs at least " +
              llvm::Twine(smallest) + ")")
          .str();
  }
  if (spec.pyramid && layers > 1) {
    // 1.5x at layer 0 down to 0.5x at the last layer: the same total.
    for (int64_t l = 0; l < layers; ++l) {
      double scale = 1.5 - double(l) / double(layers - 1);
      options.layerBudgets.push_back(std::max<int64_t>(
          smallest, int64_t(std::llround(scale * double(budget)))));
    }
  }
  return "";
}

/// The arenas llmc-plan-memory gave the step functions (their
/// `llmc.memory_plan`, kept on the LLVM functions), for the runtime.
static llvm::Error collectArenas(ModuleOp module, runtime::ModelInfo &info) {
  llvm::Error error = llvm::Error::success();
  module.walk([&](Operation *op) {
    auto name = op->getAttrOfType<StringAttr>(SymbolTable::getSymbolAttrName());
    auto plan = op->getAttrOfType<DictionaryAttr>(kMemoryPlanAttr);
    if (!name || !plan || name.getValue().starts_with("_mlir_ciface_") ||
        !plan.get("arena_argument"))
      return;
    auto pair = [&](llvm::StringRef key, int64_t &fixed, int64_t &perRow) {
      auto values = plan.getAs<DenseI64ArrayAttr>(key);
      fixed = values && values.size() == 2 ? values[0] : 0;
      perRow = values && values.size() == 2 ? values[1] : 0;
    };
    runtime::ArenaInfo arena;
    arena.function = name.getValue().str();
    pair("arena", arena.fixedBytes, arena.perRowBytes);
    pair("lower_bound", arena.lowerBoundFixed, arena.lowerBoundPerRow);
    pair("no_reuse", arena.noReuseFixed, arena.noReusePerRow);
    int64_t rowsArg, rowsDim;
    pair("rows", rowsArg, rowsDim);
    // The runtime knows the rows of a call: the length of the first
    // argument.
    if (arena.perRowBytes > 0 && (rowsArg != 0 || rowsDim != 0) && !error)
      error = fail("@" + arena.function +
                   ": its arena grows with something other than the rows of "
                   "its first argument, which the runtime cannot size");
    if (auto n = plan.getAs<IntegerAttr>("buffers"))
      arena.buffers = n.getInt();
    if (auto n = plan.getAs<IntegerAttr>("unplanned"))
      arena.unplanned = n.getInt();
    info.arenas.push_back(std::move(arena));
  });
  return error;
}

/// The model's dimensions as recorded for the runtime.
static runtime::ModelInfo describeModel(func::FuncOp prefill,
                                        llvm::StringRef source) {
  runtime::ModelInfo info;
  info.source = source.str();
  for (Type type : prefill.getArgumentTypes())
    if (auto cache = dyn_cast<kv::CacheType>(type)) {
      info.layers = cache.getLayers();
      info.kvHeads = cache.getKvHeads();
      info.capacity = cache.getCapacity();
      info.headDim = cache.getHeadDim();
      info.kvBytesPerToken = cache.getBytesPerPosition();
      if (std::optional<int64_t> bytes = kv::byteCacheSize(cache))
        info.cacheBytes = *bytes;
      if (cache.isPaged()) {
        info.kvBlockSize = cache.getBlockSize();
        info.kvBlocks = cache.getCapacity() / cache.getBlockSize();
      }
    }
  auto logits = cast<RankedTensorType>(prefill.getResultTypes()[0]);
  info.vocabSize = logits.getDimSize(1);
  return info;
}

/// Imports the draft model at `path` for the target `module`: its step
/// functions become @draft_prefill / @draft_decode (other functions and
/// its weights take a "draft." prefix) and join the module; `info` records
/// its cache. It must share the target's vocabulary and serve `context`
/// positions.
static llvm::Error mergeDraftModel(MLIRContext &context, ModuleOp module,
                                   llvm::StringRef path, int64_t positions,
                                   runtime::ModelInfo &info) {
  auto fail = [&](const llvm::Twine &message) {
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   (path + ": " + message).str());
  };
  llvm::SmallString<256> absolute(path);
  llvm::sys::fs::make_absolute(absolute);
  if (!llvm::sys::fs::exists(absolute))
    return fail("no such file or directory (--draft-model)");
  import::ImportOptions importOptions;
  importOptions.contextLength = positions;
  llvm::Expected<OwningOpRef<ModuleOp>> draft =
      import::importModel(context, absolute, importOptions);
  if (!draft)
    return draft.takeError();
  auto prefill = (*draft)->lookupSymbol<func::FuncOp>("prefill");
  if (!prefill || !(*draft)->lookupSymbol<func::FuncOp>("decode"))
    return fail("the draft model has no @prefill and @decode");
  runtime::ModelInfo draftInfo = describeModel(prefill, absolute);
  if (draftInfo.vocabSize != info.vocabSize)
    return fail("the draft model's vocabulary has " +
                llvm::Twine(draftInfo.vocabSize) +
                " tokens but the target's has " + llvm::Twine(info.vocabSize) +
                "; a draft model must share the target's vocabulary");
  if (draftInfo.capacity < positions)
    return fail("the draft model's cache holds " +
                llvm::Twine(draftInfo.capacity) + " positions, fewer than " +
                "the target's " + llvm::Twine(positions) +
                " (give a smaller --context)");
  // Rename every symbol of the draft module, then move its ops over.
  SmallVector<Operation *> symbols;
  for (Operation &op : (*draft)->getBody()->getOperations())
    if (SymbolTable::getSymbolName(&op))
      symbols.push_back(&op);
  for (Operation *op : symbols) {
    StringRef name = SymbolTable::getSymbolName(op).getValue();
    std::string renamed = isa<func::FuncOp>(op) &&
                                  (name == "prefill" || name == "decode")
                              ? ("draft_" + name).str()
                              : ("draft." + name).str();
    auto attr = StringAttr::get(&context, renamed);
    if (failed(SymbolTable::replaceAllSymbolUses(op, attr, **draft)))
      return fail("cannot rename the draft model's symbol @" + name);
    SymbolTable::setSymbolName(op, attr);
    // Weights are also named by tensor ("draft.blk.0.attn_q.weight"), so
    // --quantize overrides can pick the draft's: f32,draft.*=q4_0.
    if (auto weight = dyn_cast<llm::WeightOp>(op))
      weight.setTensorName(("draft." + weight.getTensorName()).str());
  }
  for (Operation &op :
       llvm::make_early_inc_range((*draft)->getBody()->getOperations()))
    op.moveBefore(module.getBody(), module.getBody()->end());
  info.draftLayers = draftInfo.layers;
  info.draftKvHeads = draftInfo.kvHeads;
  info.draftCapacity = draftInfo.capacity;
  info.draftHeadDim = draftInfo.headDim;
  return llvm::Error::success();
}

/// compileModel; with `analyzeOnly`, stops before codegen (and accounts
/// --quantize by the formats' sizes instead of running it). `memory`, when
/// given, receives the memory report (MemoryBudget.h).
static llvm::Error compileImpl(llvm::StringRef modelPath,
                               llvm::StringRef outputPath,
                               const api::CompileOptions &options,
                               const api::ProgressFn &progress,
                               api::ModelMemory *memory, bool analyzeOnly) {
  using namespace llmc::api;
  static bool registered = [] {
    registerAllPasses();
    return true;
  }();
  (void)registered;
  auto stage = [&](llvm::StringRef name) {
    if (progress)
      progress(name);
  };
  DialectRegistry registry;
  registerAllDialects(registry);
  MLIRContext context(registry);
  context.printOpOnDiagnostic(false);
  std::string diagnostics;
  ScopedDiagnosticHandler collect(&context, [&](Diagnostic &diag) {
    llvm::raw_string_ostream os(diagnostics);
    if (!diagnostics.empty())
      os << "\n";
    if (!isa<UnknownLoc>(diag.getLocation()))
      os << diag.getLocation() << ": ";
    os << diag.str();
    return success();
  });

  stage("import");
  llvm::SmallString<256> absolute(modelPath);
  llvm::sys::fs::make_absolute(absolute);
  import::ImportOptions importOptions;
  importOptions.contextLength = options.contextLength;
  llvm::Expected<OwningOpRef<ModuleOp>> module =
      import::importModel(context, absolute, importOptions);
  if (!module)
    return module.takeError();
  auto prefill = (*module)->lookupSymbol<func::FuncOp>("prefill");
  if (!prefill)
    return fail(modelPath + ": the imported module has no @prefill");
  runtime::ModelInfo info = describeModel(prefill, absolute);
  // The positions the model serves (an evicting cache holds fewer).
  int64_t context_ = info.capacity;
  if (!options.kv.empty()) {
    stage("kv");
    KVSpec spec;
    if (std::string error = parseKVSpec(options.kv, spec); !error.empty())
      return fail("--kv " + error);
    if (spec.kivi)
      if (std::string error = resolveKiviResidual(spec); !error.empty())
        return fail(error);
    PassManager kvpm(&context);
    if (!spec.policy.empty()) {
      KVEvictOptions evict;
      if (std::string error = evictOptions(spec, info.layers, evict);
          !error.empty())
        return fail(error);
      kvpm.addPass(createKVEvict(evict));
    }
    if (spec.kivi) {
      KVQuantizeOptions kivi;
      kivi.bits = spec.bits;
      kivi.group = spec.group;
      kivi.residual = spec.residual;
      kvpm.addPass(createKVQuantize(kivi));
    }
    if (spec.pagedBlock > 0) {
      // A paged f32 cache (block pool + block tables, forkable sequences).
      PlanKVLayoutOptions plan;
      plan.layout = "paged";
      plan.blockSize = spec.pagedBlock;
      if (info.capacity % spec.pagedBlock != 0)
        plan.context = info.capacity;
      kvpm.addPass(createPlanKVLayout(plan));
    }
    if (failed(kvpm.run(**module)))
      return fail(modelPath + ": KV-cache compression failed: " +
                  diagnostics);
    // The sequence may still grow to the original capacity (the model's
    // context); an evicting cache just holds fewer positions of it.
    int64_t context = info.capacity;
    info = describeModel(prefill, absolute);
    info.maxPositions = context;
  }

  if (!options.spec.empty()) {
    stage("speculate");
    SpecSpec spec;
    if (std::string error = parseSpecSpec(options.spec, spec); !error.empty())
      return fail("--spec " + error);
    if (spec.autoLayers)
      return fail("--spec " + options.spec +
                  ": the llmc driver resolves skip-auto by a search (llmc "
                  "spec-search); give the layers here, e.g. skip-2-k2");
    if (spec.drafter == "model") {
      if (options.draftModel.empty())
        return fail("--spec " + options.spec +
                    " drafts with a separate model: give --draft-model FILE");
      if (llvm::Error error = mergeDraftModel(context, **module,
                                              options.draftModel, context_,
                                              info))
        return error;
    } else if (!options.draftModel.empty()) {
      return fail("--draft-model needs --spec model[-kK]");
    }
    SpeculativeDecodeOptions pass;
    pass.drafter = spec.drafter;
    pass.k = spec.k;
    pass.ngram = spec.ngram;
    pass.skipLayers.assign(spec.skipLayers.begin(), spec.skipLayers.end());
    pass.exitLayer = spec.exitLayer;
    pass.treeWidth = spec.treeWidth;
    PassManager spm(&context);
    spm.addPass(createSpeculativeDecode(pass));
    if (failed(spm.run(**module)))
      return fail(modelPath + ": speculative decoding failed: " + diagnostics);
    info.specTokens = spec.k + 1;
    info.spec = options.spec;
    // A KIVI or evicting cache now carries its undo log (rollback<k + 1>).
    info.cacheBytes = describeModel(prefill, absolute).cacheBytes;
  }

  if (!analyzeOnly && (!options.quantize.empty() || options.reorderOutliers)) {
    stage("quantize");
    QuantizeWeightsOptions quantize = quantizeOptions(
        options.quantize.empty() ? llvm::StringRef("f32") : options.quantize);
    quantize.output = options.weightsPath.empty()
                          ? (outputPath + ".weights").str()
                          : options.weightsPath;
    quantize.reorderOutliers = options.reorderOutliers;
    quantize.activationStats = options.activationStats;
    PassManager qpm(&context);
    qpm.addPass(createQuantizeWeights(quantize));
    if (failed(qpm.run(**module)))
      return fail(modelPath + ": weight quantization failed: " + diagnostics);
  }

  // Where each tensor lies in its file, as the lowering will see it (after
  // quantization, which may move weights to a new file); the lowering lays
  // the files out and resolves the offsets against the bases below.
  struct FileTensor {
    std::string name, file;
    int64_t offset;
  };
  std::vector<FileTensor> fileTensors;
  for (auto weight : (*module)->getOps<llm::WeightOp>()) {
    info.weightBytes += weight.getByteSize();
    fileTensors.push_back({weight.getTensorName().str(), weight.getFile().str(),
                           int64_t(weight.getOffset())});
  }
  // Weight bytes by format; analysis accounts --quantize without running it.
  std::vector<std::pair<std::string, int64_t>> weightFormats =
      api::weightBytesByFormat(**module,
                               analyzeOnly ? options.quantize : "");
  if (analyzeOnly) {
    info.weightBytes = 0;
    for (const auto &[format, bytes] : weightFormats)
      info.weightBytes += bytes;
  }

  stage("lower");
  PassManager pm(&context);
  if (options.pipeline.empty()) {
    buildCPUPipeline(pm, CPUPipelineOptions());
  } else {
    std::string errors;
    FailureOr<OpPassManager> parsed =
        parseModulePipeline(options.pipeline, errors);
    if (failed(parsed))
      return fail("invalid pipeline '" + options.pipeline + "': " + errors);
    static_cast<OpPassManager &>(pm) = std::move(*parsed);
  }
  if (failed(pm.run(**module)))
    return fail(modelPath + ": compilation failed: " + diagnostics);
  ModuleOp lowered = module->get();
  if (llvm::Error error = collectArenas(lowered, info))
    return error;
  if (auto files = lowered->getAttrOfType<ArrayAttr>(kWeightFilesAttr))
    for (Attribute entry : files) {
      auto dict = cast<DictionaryAttr>(entry);
      info.weightFiles.push_back(
          {cast<StringAttr>(dict.get("file")).str(),
           cast<IntegerAttr>(dict.get("base")).getInt(),
           cast<IntegerAttr>(dict.get("size")).getInt()});
    }
  llvm::StringMap<int64_t> bases;
  for (const runtime::WeightFile &f : info.weightFiles)
    bases[f.path] = f.base;
  for (const FileTensor &t : fileTensors) {
    auto base = bases.find(t.file);
    // A custom pipeline that does not lower weights has no layout.
    if (base != bases.end())
      info.tensors.push_back({t.name, base->second + t.offset});
  }

  if (memory || options.memoryBudget > 0) {
    api::MemoryReport report =
        api::describeMemory(info, options.kv, weightFormats);
    if (memory)
      *memory = {info, weightFormats, report};
    if (analyzeOnly)
      return llvm::Error::success();
    if (options.memoryBudget > 0 && report.total() > options.memoryBudget)
      return api::overBudgetError(modelPath, options.memoryBudget, report);
  }

  stage("codegen");
  cpu::CodegenOptions codegen;
  codegen.optLevel = options.optLevel;
  codegen.modelInfo = info.toJSON();
  std::string error;
  if (!cpu::emitSharedLibrary(**module, outputPath, codegen, error))
    return fail(outputPath + ": " + error +
                (diagnostics.empty() ? "" : "\n" + diagnostics));
  return llvm::Error::success();
}

llvm::Error llmc::api::compileModel(llvm::StringRef modelPath,
                                    llvm::StringRef outputPath,
                                    const CompileOptions &options,
                                    const ProgressFn &progress) {
  return compileImpl(modelPath, outputPath, options, progress, nullptr,
                     /*analyzeOnly=*/false);
}

llvm::Expected<api::ModelMemory>
llmc::api::compileModelWithMemory(llvm::StringRef modelPath,
                                  llvm::StringRef outputPath,
                                  const CompileOptions &options,
                                  const ProgressFn &progress) {
  ModelMemory memory;
  if (llvm::Error err = compileImpl(modelPath, outputPath, options, progress,
                                    &memory, /*analyzeOnly=*/false))
    return std::move(err);
  return memory;
}

llvm::Expected<api::ModelMemory>
llmc::api::analyzeModelMemory(llvm::StringRef modelPath,
                              const CompileOptions &options) {
  ModelMemory memory;
  if (llvm::Error err = compileImpl(modelPath, "", options, nullptr, &memory,
                                    /*analyzeOnly=*/true))
    return std::move(err);
  return memory;
}

static std::string cacheDirectory() {
  if (std::optional<std::string> dir =
          llvm::sys::Process::GetEnv("LLMC_CACHE_DIR"))
    return *dir;
  if (std::optional<std::string> xdg =
          llvm::sys::Process::GetEnv("XDG_CACHE_HOME"))
    return *xdg + "/llmc";
  llvm::SmallString<256> home;
  if (llvm::sys::path::home_directory(home))
    return std::string(home) + "/.cache/llmc";
  return "/tmp/llmc-cache";
}

/// Size and mtime of the binary holding this code: a rebuilt llmc never
/// reuses artifacts of an older one.
static std::string compilerIdentity() {
  Dl_info where;
  llvm::sys::fs::file_status status;
  if (!::dladdr(reinterpret_cast<void *>(&cacheDirectory), &where) ||
      !where.dli_fname || llvm::sys::fs::status(where.dli_fname, status))
    return "unknown";
  return std::string(where.dli_fname) + ":" + std::to_string(status.getSize()) +
         ":" +
         std::to_string(
             status.getLastModificationTime().time_since_epoch().count());
}

llvm::Expected<std::string>
llmc::api::compileCached(llvm::StringRef modelPath,
                         const CompileOptions &options, bool &compiled,
                         const ProgressFn &progress) {
  compiled = false;
  llvm::SmallString<256> absolute(modelPath);
  llvm::sys::fs::make_absolute(absolute);
  llvm::sys::fs::file_status status;
  if (llvm::sys::fs::status(absolute, status))
    return fail(modelPath + ": no such file or directory");
  // The key: model identity (path, size, mtime), options, and this build.
  llvm::SHA256 hash;
  auto add = [&](llvm::StringRef s) {
    hash.update(s);
    hash.update(llvm::StringRef("\0", 1));
  };
  auto addFile = [&](llvm::StringRef path,
                     const llvm::sys::fs::file_status &st) {
    add(path);
    add(std::to_string(st.getSize()));
    add(std::to_string(
        st.getLastModificationTime().time_since_epoch().count()));
  };
  addFile(absolute, status);
  // A Hugging Face directory: its config, index and shards can change in
  // place without touching the directory's own size or mtime.
  if (llvm::sys::fs::is_directory(status)) {
    std::error_code ec;
    std::vector<std::string> files;
    for (llvm::sys::fs::directory_iterator it(absolute, ec), end;
         it != end && !ec; it.increment(ec))
      files.push_back(it->path());
    llvm::sort(files);
    for (const std::string &file : files) {
      llvm::sys::fs::file_status st;
      if (!llvm::sys::fs::status(file, st) &&
          llvm::sys::fs::is_regular_file(st))
        addFile(file, st);
    }
  }
  add(std::to_string(options.contextLength));
  add(options.pipeline);
  add(std::to_string(options.optLevel));
  add(options.quantize);
  add(options.reorderOutliers ? "reorder" : "");
  add(options.kv);
  add(options.spec);
  // A budget is checked when compiling: an artifact is reused only under
  // the budget it was checked against.
  add(std::to_string(options.memoryBudget));
  if (!options.draftModel.empty()) {
    llvm::SmallString<256> draft(options.draftModel);
    llvm::sys::fs::make_absolute(draft);
    llvm::sys::fs::file_status draftStatus;
    if (llvm::sys::fs::status(draft, draftStatus))
      return fail(options.draftModel +
                  ": no such file or directory (--draft-model)");
    addFile(draft, draftStatus);
  }
  // The statistics by content: recalibrating changes the artifact.
  if (!options.activationStats.empty()) {
    llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> stats =
        llvm::MemoryBuffer::getFile(options.activationStats);
    if (!stats)
      return fail(options.activationStats + ": " +
                  stats.getError().message());
    add((*stats)->getBuffer());
  }
  add(compilerIdentity());
  std::string key = llvm::toHex(hash.final(), /*LowerCase=*/true).substr(0, 24);
  std::string dir = cacheDirectory();
  if (std::error_code ec = llvm::sys::fs::create_directories(dir))
    return fail("cannot create the cache directory " + dir + ": " +
                ec.message());
  std::string path = dir + "/" + key + ".so";
  if (llvm::sys::fs::exists(path))
    return path;
  // Compile to a temporary name, then rename: concurrent runs never see a
  // half-written library.
  std::string temp = path + ".tmp" + std::to_string(::getpid());
  // Quantized weights go straight to their final name: the library records
  // the path it maps.
  CompileOptions withWeights = options;
  withWeights.weightsPath = dir + "/" + key + ".weights";
  if (llvm::Error err = compileModel(modelPath, temp, withWeights, progress)) {
    llvm::sys::fs::remove(temp);
    return std::move(err);
  }
  if (std::error_code ec = llvm::sys::fs::rename(temp, path))
    return fail("cannot store " + path + ": " + ec.message());
  compiled = true;
  return path;
}

bool llmc::api::isCompiledArtifact(llvm::StringRef path) {
  llvm::SmallString<4> magic;
  llvm::file_magic type;
  if (llvm::identify_magic(path, type))
    return false;
  return type == llvm::file_magic::elf_shared_object;
}
