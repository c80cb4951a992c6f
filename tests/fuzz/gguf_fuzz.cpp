// libFuzzer entry: the GGUF reader on arbitrary bytes must return a value or an error, never
// crash or read outside the buffer. What it accepts, the writer must write back into a file
// the reader accepts again, with the same keys and tensors (GgufWriter::from_file).
// Seeds: tests/fuzz/corpus/gguf_fuzz (tiny models; see make_model_seeds.cpp).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "engine/gguf/gguf.h"
#include "engine/gguf/metadata.h"

namespace {

using moecode::gguf::GgufFile;
using moecode::gguf::ValueType;

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "gguf_fuzz: %s\n", what.c_str());
  std::abort();
}

uint64_t touch(const GgufFile& f) {
  uint64_t sum = 0;
  for (const auto& kv : f.metadata()) {
    sum += kv.key.size();
    const auto& v = kv.value;
    if (auto s = v.as_string()) sum += s->size();
    if (auto i = v.as_int()) sum += static_cast<uint64_t>(*i);
    if (auto d = v.as_float()) sum += *d > 0;
    if (v.type() == ValueType::kArray && v.array_size() > 0) {
      sum += v.array_at(0).type() == ValueType::kString;
      sum += v.array_at(v.array_size() - 1).as_int().value_or(0);
    }
  }
  // The typed lookups the loaders use, on keys that may hold anything.
  for (const char* key : {"general.architecture", "general.alignment", "tokenizer.ggml.model",
                          "tokenizer.ggml.bos_token_id", "llama.context_length"}) {
    (void)f.get_int(key);
    (void)f.get_string(key);
    (void)f.get_float(key);
    (void)f.get_bool(key);
  }
  sum += static_cast<uint64_t>(moecode::gguf::vocab_size(f));
  (void)moecode::gguf::read_special_tokens(f, moecode::gguf::vocab_size(f));
  for (const auto& t : f.tensors()) {
    if (t.n_bytes) sum += t.data[0] + t.data[t.n_bytes - 1];
  }
  return sum;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto file = GgufFile::from_bytes({data, size}, "fuzz");
  if (!file.ok()) return 0;
  volatile uint64_t sink = touch(**file);
  (void)sink;

  // Round trip through the writer.
  const auto bytes = moecode::gguf::GgufWriter::from_file(**file).to_bytes();
  auto again = GgufFile::from_bytes(bytes, "fuzz-rewritten");
  if (!again.ok()) fail("a file the reader accepted, written back, is rejected: " + again.error().message());
  const auto& a = (*file)->metadata();
  const auto& b = (*again)->metadata();
  if (a.size() != b.size()) fail("key count changed in the round trip");
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].key != b[i].key || a[i].value.type() != b[i].value.type()) fail("key " + std::string(a[i].key) + " changed");
  }
  const auto& ta = (*file)->tensors();
  const auto& tb = (*again)->tensors();
  if (ta.size() != tb.size()) fail("tensor count changed in the round trip");
  for (size_t i = 0; i < ta.size(); ++i) {
    if (ta[i].name != tb[i].name || ta[i].type != tb[i].type || ta[i].ne != tb[i].ne || ta[i].n_bytes != tb[i].n_bytes)
      fail("tensor " + std::string(ta[i].name) + " changed in the round trip");
  }
  return 0;
}
