//===- Tokenize.cpp - llmc tokenize ---------------------------------------===//
//
// Part of llmc. `llmc tokenize MODEL TEXT`: the token ids a model's own
// tokenizer gives a text (what `llmc run` would feed the model).
//
//===----------------------------------------------------------------------===//

#include "llmc/Driver/Driver.h"
#include "llmc/Import/GGUF.h"
#include "llmc/Runtime/Tokenizer.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"

using namespace llmc;
using namespace llmc::driver;

int llmc::driver::runTokenize(llvm::ArrayRef<std::string> args, Context &ctx) {
  std::string model, text, textFile;
  bool hasText = false, json = false, noBos = false, pieces = false;
  ArgParser parser(
      "tokenize",
      "Prints the token ids of TEXT under MODEL's tokenizer, BOS first unless\n"
      "--no-bos. Use `--` before a TEXT that starts with '-'.");
  parser.positional("MODEL", model, "a GGUF model file with a tokenizer");
  parser.positional("TEXT", text, "the text to tokenize", /*optional=*/true,
                    &hasText);
  parser.addJson(json);
  parser.flag("--no-bos", noBos, "do not start with the BOS token");
  parser.flag("--pieces", pieces,
              "print each token's vocabulary entry next to its id");
  parser.option("--file", textFile, "PATH",
                "read the text from PATH ('-' for stdin) instead of TEXT");
  if (std::optional<int> exit = parser.parse(args, ctx))
    return *exit;
  if (hasText == !textFile.empty()) {
    ctx.err << "llmc: error: tokenize: give either TEXT or --file "
               "(see 'llmc tokenize --help')\n";
    return 2;
  }
  if (!textFile.empty()) {
    auto buffer = llvm::MemoryBuffer::getFileOrSTDIN(textFile);
    if (!buffer)
      return ctx.fail(textFile +
                      ": cannot open: " + buffer.getError().message());
    text = (*buffer)->getBuffer().str();
  }

  llvm::Expected<std::unique_ptr<gguf::File>> file = gguf::File::open(model);
  if (!file)
    return ctx.fail(file.takeError());
  llvm::Expected<runtime::Tokenizer> tokenizer =
      runtime::Tokenizer::fromGGUF(**file);
  if (!tokenizer)
    return ctx.fail(tokenizer.takeError());

  std::vector<int32_t> ids = tokenizer->encode(text, /*addBos=*/!noBos);
  if (pieces) {
    if (json) {
      llvm::json::OStream j(ctx.out, 2);
      j.array([&] {
        for (int32_t id : ids)
          j.object([&] {
            j.attribute("id", id);
            llvm::StringRef piece = tokenizer->getTokenText(id);
            j.attribute("piece", llvm::json::isUTF8(piece)
                                     ? piece.str()
                                     : llvm::json::fixUTF8(piece));
          });
      });
      ctx.out << "\n";
    } else {
      for (int32_t id : ids) {
        ctx.out << llvm::right_justify(std::to_string(id), 8) << "  '";
        // UTF-8 as is ("▁Once"); control bytes escaped to keep one line.
        for (char c : tokenizer->getTokenText(id)) {
          auto byte = static_cast<unsigned char>(c);
          if (byte < 0x20 || byte == 0x7F || c == '\\' || c == '\'')
            ctx.out << '\\' << llvm::hexdigit(byte >> 4)
                    << llvm::hexdigit(byte & 15);
          else
            ctx.out << c;
        }
        ctx.out << "'\n";
      }
    }
    return 0;
  }

  // A flat list, `[1, 403, 407]` under --json and `1 403 407` otherwise.
  ctx.out << (json ? "[" : "");
  for (size_t i = 0; i < ids.size(); ++i)
    ctx.out << (i ? (json ? ", " : " ") : "") << ids[i];
  ctx.out << (json ? "]\n" : "\n");
  return 0;
}
