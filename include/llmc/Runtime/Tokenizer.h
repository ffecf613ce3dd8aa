//===- Tokenizer.h - SentencePiece-style BPE tokenizer ----------*- C++ -*-===//
//
// Part of llmc. The tokenizer of Llama-family GGUF models
// (tokenizer.ggml.model == "llama"): SentencePiece BPE with a dummy-prefix
// space, "▁" (U+2581) as the word boundary marker, score-driven merges and
// byte fallback (<0xNN> tokens) for characters outside the vocabulary.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_RUNTIME_TOKENIZER_H
#define LLMC_RUNTIME_TOKENIZER_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace llmc::gguf {
class File;
} // namespace llmc::gguf

namespace llmc::runtime {

/// Token attributes of tokenizer.ggml.token_type.
enum class TokenType : int32_t {
  Undefined = 0,
  Normal = 1,
  Unknown = 2,
  Control = 3,
  UserDefined = 4,
  Unused = 5,
  Byte = 6,
};

class Tokenizer {
public:
  /// Reads the vocabulary of a GGUF file (tokenizer.ggml.*). Errors name the
  /// file: `PATH: problem`.
  static llvm::Expected<Tokenizer> fromGGUF(const gguf::File &file);

  /// Builds a tokenizer from a vocabulary in memory (tests, other formats).
  /// `types` may be empty (all normal, except <0xNN> pieces which are byte
  /// tokens); otherwise all three arrays have the same length.
  static llvm::Expected<Tokenizer>
  fromVocab(std::vector<std::string> tokens, std::vector<float> scores,
            std::vector<TokenType> types, int32_t bos, int32_t eos, int32_t unk,
            bool addBos = true, bool addSpacePrefix = true);

  /// Token ids of `text`, preceded by BOS when `addBos` (and BOS exists).
  /// The empty text encodes to no tokens (just BOS when `addBos`).
  std::vector<int32_t> encode(llvm::StringRef text, bool addBos) const;

  /// The text of `ids`: control tokens render as nothing, and the one space
  /// of the dummy prefix at the start of the text is removed.
  std::string decode(llvm::ArrayRef<int32_t> ids) const;

  /// The text one token stands for, for streaming output: "▁" becomes a
  /// space, a byte token <0xNN> the byte itself, control and unused tokens
  /// nothing. Ids out of range give "".
  std::string tokenToPiece(int32_t id) const;

  /// The vocabulary entry itself ("▁Once", "<0x0A>", "<s>"); "" out of range.
  llvm::StringRef getTokenText(int32_t id) const;
  float getScore(int32_t id) const;
  TokenType getTokenType(int32_t id) const;
  /// The id of the vocabulary entry `text`, or -1.
  int32_t lookup(llvm::StringRef text) const;

  int32_t getBos() const { return bos; }
  int32_t getEos() const { return eos; }
  int32_t getUnk() const { return unk; }
  int32_t getVocabSize() const { return static_cast<int32_t>(tokens.size()); }
  /// Whether the model expects BOS (tokenizer.ggml.add_bos_token, default on).
  bool shouldAddBos() const { return addBos; }

private:
  Tokenizer() = default;
  llvm::Error init(llvm::StringRef origin);
  /// Id of a piece that text may be segmented into, or -1 (control, byte,
  /// unknown and unused entries never match raw text).
  int32_t lookupPiece(llvm::StringRef piece) const;

  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<TokenType> types;
  llvm::StringMap<int32_t> pieceIds;
  std::array<int32_t, 256> byteTokens{};
  int32_t bos = -1, eos = -1, unk = -1;
  bool addBos = true;
  bool addSpacePrefix = true;
};

} // namespace llmc::runtime

#endif // LLMC_RUNTIME_TOKENIZER_H
