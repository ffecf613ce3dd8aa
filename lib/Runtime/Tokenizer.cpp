//===- Tokenizer.cpp - SentencePiece-style BPE tokenizer ------------------===//
//
// Part of llmc. Encoding follows SentencePiece's BPE model: normalize (dummy
// prefix space, spaces to U+2581), split into UTF-8 characters, then merge
// the adjacent pair whose concatenation is a vocabulary piece of highest
// score (the leftmost on ties) until no pair is a piece; characters left
// outside the vocabulary become byte tokens.
//
//===----------------------------------------------------------------------===//

#include "llmc/Runtime/Tokenizer.h"
#include "llmc/Import/GGUF.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/raw_ostream.h"
#include <queue>

using namespace llmc::runtime;
using llvm::StringRef;

namespace {

constexpr StringRef kSpaceMarker = "\xE2\x96\x81";      // U+2581 "▁"
constexpr StringRef kUnknownSurface = " \xE2\x81\x87 "; // " ⁇ "

llvm::Error makeError(StringRef origin, const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 origin + ": " + message);
}

/// Byte length of the UTF-8 sequence starting with `lead` (1 for bytes that
/// cannot start one, so malformed text still advances).
size_t utf8Length(uint8_t lead) {
  if (lead < 0x80)
    return 1;
  if ((lead & 0xE0) == 0xC0)
    return 2;
  if ((lead & 0xF0) == 0xE0)
    return 3;
  if ((lead & 0xF8) == 0xF0)
    return 4;
  return 1;
}

/// The byte of a "<0xNN>" piece.
std::optional<uint8_t> parseBytePiece(StringRef text) {
  if (text.size() != 6 || !text.starts_with("<0x") || !text.ends_with(">"))
    return std::nullopt;
  unsigned value;
  if (text.substr(3, 2).getAsInteger(16, value) || value > 0xFF)
    return std::nullopt;
  return static_cast<uint8_t>(value);
}

/// A run of the normalized text during merging; symbols form a linked list
/// and a merged-away symbol has length 0.
struct Symbol {
  size_t start;
  size_t length;
  int prev;
  int next;
};

/// A candidate merge of symbols `left` and its right neighbour `right`.
struct Bigram {
  int left;
  int right;
  float score;
  size_t length;
};

/// Highest score first; the leftmost pair among equal scores.
struct BigramOrder {
  bool operator()(const Bigram &a, const Bigram &b) const {
    if (a.score != b.score)
      return a.score < b.score;
    return a.left > b.left;
  }
};

} // namespace

llvm::Expected<Tokenizer> Tokenizer::fromGGUF(const gguf::File &file) {
  StringRef origin = file.getPath();
  std::optional<std::string> model = file.getString("tokenizer.ggml.model");
  if (!model)
    return makeError(origin, "no tokenizer: tokenizer.ggml.model is missing");
  if (*model != "llama") {
    std::string shown;
    llvm::raw_string_ostream os(shown);
    llvm::printEscapedString(llvm::StringRef(*model).take_front(40), os);
    return makeError(origin, "unsupported tokenizer model '" + shown +
                                 "' (supported: llama)");
  }

  std::optional<std::vector<std::string>> tokens =
      file.getStringArray("tokenizer.ggml.tokens");
  if (!tokens)
    return makeError(origin,
                     "tokenizer.ggml.tokens is missing or not a string array");
  size_t n = tokens->size();

  std::vector<float> scores;
  if (file.hasKey("tokenizer.ggml.scores")) {
    std::optional<std::vector<double>> values =
        file.getFloatArray("tokenizer.ggml.scores");
    if (!values || values->size() != n)
      return makeError(origin, "tokenizer.ggml.scores must be " +
                                   llvm::Twine(n) + " numbers");
    scores.assign(values->begin(), values->end());
  }

  std::vector<TokenType> types;
  if (file.hasKey("tokenizer.ggml.token_type")) {
    std::optional<std::vector<int64_t>> values =
        file.getIntArray("tokenizer.ggml.token_type");
    if (!values || values->size() != n)
      return makeError(origin, "tokenizer.ggml.token_type must be " +
                                   llvm::Twine(n) + " integers");
    for (int64_t v : *values) {
      if (v < 0 || v > static_cast<int64_t>(TokenType::Byte))
        return makeError(origin, "tokenizer.ggml.token_type: unknown type " +
                                     llvm::Twine(v));
      types.push_back(static_cast<TokenType>(v));
    }
  }

  // Special ids: the SentencePiece Llama defaults unless the file says.
  auto specialId = [&](StringRef key, int32_t fallback,
                       int32_t &id) -> llvm::Error {
    if (!file.hasKey(key)) {
      id = fallback < static_cast<int64_t>(n) ? fallback : -1;
      return llvm::Error::success();
    }
    std::optional<int64_t> value = file.getInt(key);
    if (!value || *value < 0 || *value >= static_cast<int64_t>(n))
      return makeError(origin,
                       key + " is not a token id below " + llvm::Twine(n));
    id = static_cast<int32_t>(*value);
    return llvm::Error::success();
  };
  int32_t bos, eos, unk;
  if (llvm::Error err = specialId("tokenizer.ggml.bos_token_id", 1, bos))
    return std::move(err);
  if (llvm::Error err = specialId("tokenizer.ggml.eos_token_id", 2, eos))
    return std::move(err);
  if (llvm::Error err = specialId("tokenizer.ggml.unknown_token_id", 0, unk))
    return std::move(err);

  Tokenizer tokenizer;
  tokenizer.tokens = std::move(*tokens);
  tokenizer.scores = std::move(scores);
  tokenizer.types = std::move(types);
  tokenizer.bos = bos;
  tokenizer.eos = eos;
  tokenizer.unk = unk;
  tokenizer.addBos =
      file.getBool("tokenizer.ggml.add_bos_token").value_or(true);
  tokenizer.addSpacePrefix =
      file.getBool("tokenizer.ggml.add_space_prefix").value_or(true);
  if (llvm::Error err = tokenizer.init(origin))
    return std::move(err);
  return std::move(tokenizer);
}

llvm::Expected<Tokenizer>
Tokenizer::fromVocab(std::vector<std::string> tokens, std::vector<float> scores,
                     std::vector<TokenType> types, int32_t bos, int32_t eos,
                     int32_t unk, bool addBos, bool addSpacePrefix) {
  Tokenizer tokenizer;
  tokenizer.tokens = std::move(tokens);
  tokenizer.scores = std::move(scores);
  tokenizer.types = std::move(types);
  tokenizer.bos = bos;
  tokenizer.eos = eos;
  tokenizer.unk = unk;
  tokenizer.addBos = addBos;
  tokenizer.addSpacePrefix = addSpacePrefix;
  if (llvm::Error err = tokenizer.init("vocabulary"))
    return std::move(err);
  return std::move(tokenizer);
}

llvm::Error Tokenizer::init(StringRef origin) {
  size_t n = tokens.size();
  if (n == 0)
    return makeError(origin, "the vocabulary is empty");
  if (n > static_cast<size_t>(INT32_MAX))
    return makeError(origin, "the vocabulary has more than 2^31-1 tokens");
  if (scores.empty())
    scores.assign(n, 0.0f);
  if (scores.size() != n)
    return makeError(origin, "expected " + llvm::Twine(n) + " scores, got " +
                                 llvm::Twine(scores.size()));
  if (types.empty()) {
    types.reserve(n);
    for (const std::string &t : tokens)
      types.push_back(parseBytePiece(t) ? TokenType::Byte : TokenType::Normal);
  }
  if (types.size() != n)
    return makeError(origin, "expected " + llvm::Twine(n) +
                                 " token types, got " +
                                 llvm::Twine(types.size()));
  for (int32_t id : {bos, eos, unk})
    if (id < -1 || id >= static_cast<int64_t>(n))
      return makeError(origin, "special token id " + llvm::Twine(id) +
                                   " is outside the vocabulary");

  // The first entry wins when a text occurs twice.
  for (size_t i = 0; i < n; ++i)
    pieceIds.try_emplace(tokens[i], static_cast<int32_t>(i));
  for (unsigned b = 0; b < 256; ++b) {
    std::string text = "<0x" +
                       llvm::utohexstr(b, /*LowerCase=*/false,
                                       /*Width=*/2) +
                       ">";
    int32_t id = lookup(text);
    byteTokens[b] = id >= 0 && types[id] == TokenType::Byte ? id : -1;
  }
  return llvm::Error::success();
}

int32_t Tokenizer::lookup(StringRef text) const {
  auto it = pieceIds.find(text);
  return it == pieceIds.end() ? -1 : it->second;
}

int32_t Tokenizer::lookupPiece(StringRef piece) const {
  int32_t id = lookup(piece);
  if (id < 0)
    return -1;
  switch (types[id]) {
  case TokenType::Undefined:
  case TokenType::Normal:
  case TokenType::UserDefined:
    return id;
  case TokenType::Unknown:
  case TokenType::Control:
  case TokenType::Unused:
  case TokenType::Byte:
    return -1;
  }
  return -1;
}

std::vector<int32_t> Tokenizer::encode(StringRef text, bool withBos) const {
  std::vector<int32_t> ids;
  if (withBos && bos >= 0)
    ids.push_back(bos);
  if (text.empty())
    return ids;

  std::string normalized;
  normalized.reserve(text.size() + 3 * (text.count(' ') + 1));
  if (addSpacePrefix)
    normalized += kSpaceMarker;
  for (char c : text) {
    if (c == ' ')
      normalized += kSpaceMarker;
    else
      normalized += c;
  }

  std::vector<Symbol> symbols;
  for (size_t pos = 0; pos < normalized.size();) {
    size_t len = std::min(utf8Length(normalized[pos]), normalized.size() - pos);
    int index = static_cast<int>(symbols.size());
    symbols.push_back({pos, len, index - 1, index + 1});
    pos += len;
  }
  symbols.back().next = -1;

  std::priority_queue<Bigram, std::vector<Bigram>, BigramOrder> queue;
  auto tryAdd = [&](int left, int right) {
    if (left < 0 || right < 0)
      return;
    size_t length = symbols[left].length + symbols[right].length;
    int32_t id =
        lookupPiece(StringRef(normalized).substr(symbols[left].start, length));
    if (id >= 0)
      queue.push({left, right, scores[id], length});
  };
  for (size_t i = 1; i < symbols.size(); ++i)
    tryAdd(static_cast<int>(i) - 1, static_cast<int>(i));

  while (!queue.empty()) {
    Bigram bigram = queue.top();
    queue.pop();
    Symbol &left = symbols[bigram.left];
    Symbol &right = symbols[bigram.right];
    // Lengths only grow until a symbol is merged away, so an unchanged sum
    // means both symbols are still the ones this candidate saw.
    if (left.length == 0 || right.length == 0 ||
        left.length + right.length != bigram.length)
      continue;
    left.length += right.length;
    right.length = 0;
    left.next = right.next;
    if (right.next >= 0)
      symbols[right.next].prev = bigram.left;
    tryAdd(left.prev, bigram.left);
    tryAdd(bigram.left, left.next);
  }

  for (int i = 0; i >= 0; i = symbols[i].next) {
    StringRef piece =
        StringRef(normalized).substr(symbols[i].start, symbols[i].length);
    int32_t id = lookupPiece(piece);
    if (id >= 0) {
      ids.push_back(id);
      continue;
    }
    for (char c : piece) {
      int32_t byteId = byteTokens[static_cast<uint8_t>(c)];
      if (byteId >= 0)
        ids.push_back(byteId);
      else if (unk >= 0)
        ids.push_back(unk);
    }
  }
  return ids;
}

StringRef Tokenizer::getTokenText(int32_t id) const {
  if (id < 0 || id >= getVocabSize())
    return "";
  return tokens[id];
}

float Tokenizer::getScore(int32_t id) const {
  if (id < 0 || id >= getVocabSize())
    return 0.0f;
  return scores[id];
}

TokenType Tokenizer::getTokenType(int32_t id) const {
  if (id < 0 || id >= getVocabSize())
    return TokenType::Undefined;
  return types[id];
}

std::string Tokenizer::tokenToPiece(int32_t id) const {
  if (id < 0 || id >= getVocabSize())
    return "";
  StringRef text = tokens[id];
  switch (types[id]) {
  case TokenType::Control:
  case TokenType::Unused:
    return "";
  case TokenType::Unknown:
    return kUnknownSurface.str();
  case TokenType::Byte:
    if (std::optional<uint8_t> byte = parseBytePiece(text))
      return std::string(1, static_cast<char>(*byte));
    return "";
  case TokenType::Undefined:
  case TokenType::Normal:
  case TokenType::UserDefined:
    break;
  }
  std::string piece;
  piece.reserve(text.size());
  while (!text.empty()) {
    if (text.starts_with(kSpaceMarker)) {
      piece += ' ';
      text = text.drop_front(kSpaceMarker.size());
    } else {
      piece += text.front();
      text = text.drop_front();
    }
  }
  return piece;
}

std::string Tokenizer::decode(llvm::ArrayRef<int32_t> ids) const {
  std::string text;
  bool atStart = true;
  for (int32_t id : ids) {
    std::string piece = tokenToPiece(id);
    if (piece.empty())
      continue;
    // The dummy prefix turned the text's start into a space: drop it.
    if (atStart && addSpacePrefix && piece.front() == ' ' &&
        getTokenType(id) != TokenType::Byte)
      piece.erase(0, 1);
    atStart = false;
    text += piece;
  }
  return text;
}
