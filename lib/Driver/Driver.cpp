//===- Driver.cpp - llmc subcommand dispatch and argument parsing ---------===//
//
// Part of llmc. The dispatch table of `llmc`, the shared argument parser and
// the process entry point.
//
//===----------------------------------------------------------------------===//

#include "llmc/Driver/Driver.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/InitLLVM.h"

using namespace llmc::driver;
using llvm::StringRef;

namespace {

const Subcommand kSubcommands[] = {
    {"inspect", "show a model's format, hyperparameters, tokenizer and tensors",
     runInspect},
    {"tokenize", "turn text into token ids with a model's tokenizer",
     runTokenize},
    {"compile", "compile a model into a native shared library", runCompile},
    {"run", "generate text with a model (compiled once, then cached)", runRun},
    {"bench", "measure prefill/decode speed against memory bandwidth",
     runBench},
    {"eval", "compare a compressed model with the uncompressed one (KL "
             "divergence, top-1 agreement, perplexity, bytes, speed)",
     runEval},
    {"calibrate", "record per-channel activation statistics of the "
                  "projections (for activation-aware quantization)",
     runCalibrate},
    {"spec-search", "search the layers a self-speculative draft skips (and "
                    "its k) by measuring candidates on calibration text",
     runSpecSearch},
    {"gen-model", "write a synthetic Llama GGUF model with random weights",
     runGenModel},
    {"demo", "compile and run the demo model llmc ships", runDemo},
};

constexpr StringRef kVersion = "0.1";

void printMainHelp(llvm::raw_ostream &os) {
  os << "usage: llmc SUBCOMMAND [options] [args]\n\n"
        "The llmc user driver: inspect, tokenize, compile, run and benchmark "
        "LLMs.\n\n"
        "subcommands:\n";
  for (const Subcommand &sub : kSubcommands)
    os << "  " << llvm::left_justify(sub.name, 12) << "  " << sub.summary
       << "\n";
  os << "\ncommon options:\n"
        "  --json        machine-readable (JSON) output\n"
        "  -h, --help    show help (`llmc SUBCOMMAND --help` for one "
        "subcommand)\n"
        "  --version     print the version\n\n"
        "exit status: 0 success, 1 the command failed, 2 bad command line\n";
}

} // namespace

//===----------------------------------------------------------------------===//
// Context
//===----------------------------------------------------------------------===//

int Context::fail(const llvm::Twine &message) {
  err << "llmc: error: " << message << "\n";
  err.flush();
  return 1;
}

int Context::fail(llvm::Error error) {
  llvm::handleAllErrors(std::move(error), [&](const llvm::ErrorInfoBase &e) {
    err << "llmc: error: " << e.message() << "\n";
  });
  err.flush();
  return 1;
}

//===----------------------------------------------------------------------===//
// ArgParser
//===----------------------------------------------------------------------===//

ArgParser::ArgParser(StringRef command, StringRef description)
    : command(command.str()), description(description.str()) {
  add("-h,--help", Kind::Flag, nullptr, "", "show this help");
}

ArgParser &ArgParser::add(StringRef spellings, Kind kind, void *value,
                          StringRef metavar, StringRef help) {
  Option option{{}, kind, value, metavar.str(), help.str()};
  llvm::SmallVector<StringRef, 2> parts;
  spellings.split(parts, ',', -1, /*KeepEmpty=*/false);
  for (StringRef part : parts)
    option.spellings.push_back(part.trim().str());
  options.push_back(std::move(option));
  return *this;
}

ArgParser &ArgParser::flag(StringRef spellings, bool &value, StringRef help) {
  return add(spellings, Kind::Flag, &value, "", help);
}
ArgParser &ArgParser::option(StringRef spellings, std::string &value,
                             StringRef metavar, StringRef help) {
  return add(spellings, Kind::String, &value, metavar, help);
}
ArgParser &ArgParser::option(StringRef spellings, int64_t &value,
                             StringRef metavar, StringRef help) {
  return add(spellings, Kind::Int, &value, metavar, help);
}
ArgParser &ArgParser::option(StringRef spellings, double &value,
                             StringRef metavar, StringRef help) {
  return add(spellings, Kind::Float, &value, metavar, help);
}
ArgParser &ArgParser::positional(StringRef metavar, std::string &value,
                                 StringRef help, bool optional, bool *present) {
  positionals.push_back({metavar.str(), &value, help.str(), optional, present});
  if (present)
    *present = false;
  return *this;
}
ArgParser &ArgParser::addJson(bool &value) {
  return flag("--json", value, "machine-readable (JSON) output");
}

const ArgParser::Option *ArgParser::find(StringRef spelling) const {
  for (const Option &option : options)
    if (llvm::is_contained(option.spellings, spelling))
      return &option;
  return nullptr;
}

int ArgParser::usageError(Context &ctx, const llvm::Twine &message) const {
  ctx.err << "llmc: error: " << command << ": " << message << " (see 'llmc "
          << command << " --help')\n";
  ctx.err.flush();
  return 2;
}

std::optional<int> ArgParser::parse(llvm::ArrayRef<std::string> args,
                                    Context &ctx) {
  // --help wins over everything else before `--`.
  for (const std::string &arg : args) {
    if (arg == "--")
      break;
    if (arg == "-h" || arg == "--help") {
      printHelp(ctx.out);
      ctx.out.flush();
      return 0;
    }
  }

  size_t nextPositional = 0;
  bool optionsDone = false;
  for (size_t i = 0; i < args.size(); ++i) {
    StringRef arg = args[i];
    if (!optionsDone && arg == "--") {
      optionsDone = true;
      continue;
    }
    if (optionsDone || arg.size() < 2 || !arg.starts_with("-")) {
      if (nextPositional == positionals.size())
        return usageError(ctx, "unexpected argument '" + arg + "'");
      const Positional &p = positionals[nextPositional++];
      *p.value = arg.str();
      if (p.present)
        *p.present = true;
      continue;
    }

    auto [name, inlineValue] = arg.split('=');
    bool hasInline = arg.contains('=');
    const Option *option = find(name);
    if (!option)
      return usageError(ctx, "unknown option '" + name + "'");
    if (option->kind == Kind::Flag) {
      if (hasInline)
        return usageError(ctx, "option '" + name + "' takes no value");
      *static_cast<bool *>(option->value) = true;
      continue;
    }
    StringRef value = inlineValue;
    if (!hasInline) {
      if (i + 1 == args.size())
        return usageError(ctx, "option '" + name + "' needs a value");
      value = args[++i];
    }
    switch (option->kind) {
    case Kind::String:
      *static_cast<std::string *>(option->value) = value.str();
      break;
    case Kind::Int: {
      int64_t v;
      if (value.getAsInteger(0, v))
        return usageError(ctx, "option '" + name +
                                   "' expects an integer, got '" + value + "'");
      *static_cast<int64_t *>(option->value) = v;
      break;
    }
    case Kind::Float: {
      double v;
      if (value.getAsDouble(v))
        return usageError(ctx, "option '" + name + "' expects a number, got '" +
                                   value + "'");
      *static_cast<double *>(option->value) = v;
      break;
    }
    case Kind::Flag:
      break;
    }
  }
  for (size_t i = nextPositional; i < positionals.size(); ++i)
    if (!positionals[i].optional)
      return usageError(ctx, "missing " + positionals[i].metavar);
  return std::nullopt;
}

void ArgParser::printHelp(llvm::raw_ostream &os) const {
  os << "usage: llmc " << command;
  for (const Positional &p : positionals)
    os << (p.optional ? " [" + p.metavar + "]" : " " + p.metavar);
  os << " [options]\n\n" << description << "\n";
  auto row = [&](StringRef left, StringRef help) {
    os << "  " << llvm::left_justify(left, 22);
    if (left.size() > 22)
      os << "\n  " << std::string(22, ' ');
    os << "  " << help << "\n";
  };
  if (!positionals.empty()) {
    os << "\narguments:\n";
    for (const Positional &p : positionals)
      row(p.metavar, p.help);
  }
  os << "\noptions:\n";
  for (const Option &option : options) {
    std::string left = llvm::join(option.spellings, ", ");
    if (!option.metavar.empty())
      left += " " + option.metavar;
    row(left, option.help);
  }
}

//===----------------------------------------------------------------------===//
// Dispatch
//===----------------------------------------------------------------------===//

llvm::ArrayRef<Subcommand> llmc::driver::getSubcommands() {
  return kSubcommands;
}

int llmc::driver::run(llvm::ArrayRef<std::string> args, llvm::raw_ostream &out,
                      llvm::raw_ostream &err) {
  Context ctx{out, err};
  if (args.empty()) {
    err << "llmc: error: no subcommand given (see 'llmc --help')\n";
    return 2;
  }
  StringRef name = args.front();
  if (name == "-h" || name == "--help" || name == "help") {
    // `llmc help SUBCOMMAND` is `llmc SUBCOMMAND --help`.
    if (name == "help" && args.size() > 1)
      return run(std::vector<std::string>{args[1], "--help"}, out, err);
    printMainHelp(out);
    return 0;
  }
  if (name == "--version") {
    out << "llmc " << kVersion << "\n";
    return 0;
  }
  for (const Subcommand &sub : kSubcommands)
    if (sub.name == name) {
      int code = sub.run(args.drop_front(), ctx);
      out.flush();
      err.flush();
      return code;
    }
  if (name.starts_with("-"))
    err << "llmc: error: unknown option '" << name << "' (see 'llmc --help')\n";
  else
    err << "llmc: error: unknown subcommand '" << name
        << "' (see 'llmc --help')\n";
  return 2;
}

int llmc::driver::main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  std::vector<std::string> args(argv + 1, argv + argc);
  return run(args, llvm::outs(), llvm::errs());
}
