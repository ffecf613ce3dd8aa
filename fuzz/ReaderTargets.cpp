//===- ReaderTargets.cpp - fuzzing entry points of the file readers -------===//
//
// Part of llmc. Everything a reader returns is touched (strings copied,
// tensor bytes read at both ends) so that ASan sees any read the reader's
// validation should have ruled out.
//
//===----------------------------------------------------------------------===//

#include "fuzz/ReaderTargets.h"
#include "llmc/Import/GGUF.h"
#include "llmc/Import/Safetensors.h"
#include "llmc/Runtime/Tokenizer.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"

using namespace llmc;
using llvm::StringRef;

namespace {

llvm::Error broken(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

/// Wraps the fuzzer's bytes without copying, so a read one past the end is
/// a read past the fuzzer's allocation.
std::unique_ptr<llvm::MemoryBuffer> wrap(llvm::ArrayRef<uint8_t> data,
                                         StringRef name) {
  return llvm::MemoryBuffer::getMemBuffer(
      StringRef(reinterpret_cast<const char *>(data.data()), data.size()), name,
      /*RequiresNullTerminator=*/false);
}

/// Folds bytes into a value the optimizer cannot drop.
volatile uint64_t sink;
void touch(StringRef bytes) {
  uint64_t sum = 0;
  for (char c : bytes)
    sum += static_cast<uint8_t>(c);
  sink = sink + sum;
}

llvm::Error readMetadata(const gguf::File &file) {
  for (const std::string &key : file.getKeys()) {
    touch(key);
    if (!file.hasKey(key) || !file.getValueType(key))
      return broken("key '" + key + "' is listed but not found");
    (void)gguf::valueTypeName(*file.getValueType(key));
    if (auto info = file.getArrayInfo(key))
      (void)gguf::valueTypeName(info->first);
    if (std::optional<std::string> s = file.getString(key))
      touch(*s);
    (void)file.getInt(key);
    (void)file.getFloat(key);
    (void)file.getBool(key);
    if (auto strings = file.getStringArray(key))
      for (const std::string &s : *strings)
        touch(s);
    (void)file.getFloatArray(key);
    (void)file.getIntArray(key);
  }
  return llvm::Error::success();
}

llvm::Error readTensors(const gguf::File &file) {
  for (const gguf::TensorInfo &tensor : file.getTensors()) {
    touch(tensor.name);
    if (file.findTensor(tensor.name) != &tensor)
      return broken("tensor '" + tensor.name + "' is not found by its name");
    (void)gguf::ggmlTypeName(tensor.type);
    std::optional<gguf::TypeTraits> traits = gguf::getTypeTraits(tensor.type);
    if (!traits)
      return broken("tensor '" + tensor.name + "' has an unknown type");
    uint64_t elements = tensor.getNumElements();
    if (elements / traits->blockSize * traits->blockBytes != tensor.nbytes)
      return broken("tensor '" + tensor.name + "' has the wrong byte size");
    llvm::ArrayRef<uint8_t> bytes = file.getTensorData(tensor);
    if (bytes.size() != tensor.nbytes)
      return broken("data of tensor '" + tensor.name + "' is cut short");
    if (!bytes.empty())
      sink = sink + bytes.front() + bytes.back();
  }
  return llvm::Error::success();
}

llvm::Error runTokenizer(const gguf::File &file) {
  llvm::Expected<runtime::Tokenizer> tokenizer =
      runtime::Tokenizer::fromGGUF(file);
  if (!tokenizer) {
    llvm::consumeError(tokenizer.takeError());
    return llvm::Error::success();
  }
  // Spaces, ASCII, multi-byte UTF-8, an emoji (byte fallback), a malformed
  // sequence and a control-token spelling.
  const StringRef text = "Once upon a time, caf\xC3\xA9 \xF0\x9F\x99\x82 "
                         "\xFF\xC3 <s></s>\n\tend";
  int32_t vocabSize = tokenizer->getVocabSize();
  for (bool addBos : {true, false}) {
    std::vector<int32_t> ids = tokenizer->encode(text, addBos);
    for (int32_t id : ids) {
      if (id < 0 || id >= vocabSize)
        return broken("encode gave id " + llvm::Twine(id) +
                      " outside the vocabulary of " + llvm::Twine(vocabSize));
      touch(tokenizer->tokenToPiece(id));
    }
    touch(tokenizer->decode(ids));
  }
  (void)tokenizer->encode("", true);
  for (int32_t id : {-1, 0, vocabSize - 1, vocabSize}) {
    touch(tokenizer->getTokenText(id));
    touch(tokenizer->tokenToPiece(id));
    (void)tokenizer->getScore(id);
    (void)tokenizer->getTokenType(id);
  }
  touch(tokenizer->decode({-1, vocabSize, tokenizer->getBos(),
                           tokenizer->getEos(), tokenizer->getUnk()}));
  return llvm::Error::success();
}

} // namespace

llvm::Error llmc::fuzz::exerciseGGUF(llvm::ArrayRef<uint8_t> data) {
  llvm::Expected<std::unique_ptr<gguf::File>> file =
      gguf::File::fromBuffer(wrap(data, "fuzz.gguf"), "fuzz.gguf");
  if (!file) {
    // The message is built from the file's bytes: make sure it is built.
    touch(llvm::toString(file.takeError()));
    return llvm::Error::success();
  }
  if ((*file)->getSize() != data.size())
    return broken("the file's size is not the image's size");
  if (llvm::Error err = readMetadata(**file))
    return err;
  if (llvm::Error err = readTensors(**file))
    return err;
  return runTokenizer(**file);
}

llvm::Error llmc::fuzz::exerciseSafetensors(llvm::ArrayRef<uint8_t> data) {
  StringRef text(reinterpret_cast<const char *>(data.data()), data.size());
  if (llvm::Expected<llvm::json::Value> json =
          safetensors::parseJSON(text, "fuzz.json"))
    touch(llvm::formatv("{0}", *json).str());
  else
    touch(llvm::toString(json.takeError()));

  llvm::Expected<std::unique_ptr<safetensors::File>> file =
      safetensors::File::fromBuffer(wrap(data, "fuzz.safetensors"),
                                    "fuzz.safetensors");
  if (!file) {
    touch(llvm::toString(file.takeError()));
    return llvm::Error::success();
  }
  if ((*file)->getSize() != data.size() ||
      (*file)->getDataOffset() > data.size())
    return broken("the data section starts past the end of the file");
  uint64_t previousOffset = 0;
  for (const safetensors::TensorInfo &tensor : (*file)->getTensors()) {
    touch(tensor.name);
    if ((*file)->findTensor(tensor.name) != &tensor)
      return broken("tensor '" + tensor.name + "' is not found by its name");
    if (tensor.offset < previousOffset)
      return broken("tensor '" + tensor.name + "' is out of data order");
    previousOffset = tensor.offset;
    StringRef dtype = safetensors::dtypeName(tensor.dtype);
    if (safetensors::parseDType(dtype) != tensor.dtype)
      return broken("dtype " + dtype + " does not parse back");
    if (tensor.getNumElements() * safetensors::dtypeSize(tensor.dtype) !=
        tensor.nbytes)
      return broken("tensor '" + tensor.name + "' has the wrong byte size");
    if (tensor.offset < (*file)->getDataOffset() ||
        tensor.offset > data.size() ||
        tensor.nbytes > data.size() - tensor.offset)
      return broken("data of tensor '" + tensor.name +
                    "' lies outside the file");
    llvm::ArrayRef<uint8_t> bytes = (*file)->getTensorData(tensor);
    if (bytes.size() != tensor.nbytes)
      return broken("data of tensor '" + tensor.name + "' is cut short");
    if (!bytes.empty())
      sink = sink + bytes.front() + bytes.back();
  }
  for (const auto &entry : (*file)->getMetadata()) {
    touch(entry.getKey());
    touch(entry.getValue());
  }
  return llvm::Error::success();
}
