// libFuzzer entry: tokenizer encode/decode over real vocabularies (llama.cpp's vocab-only
// GGUFs from tests/data/tokenizer: byte-level BPE of several pre-tokenizers, SentencePiece,
// WordPiece). Input: byte 0 picks the vocabulary, byte 1 the flags, the rest is the text.
// Checks: no crash; every id in range; for byte-level BPE decode(encode(text)) == text (the
// contract of tokenizer.h); the streaming detokenizer always gives valid UTF-8, and for
// byte-level BPE decode()'s text when that is valid UTF-8; ids from the input decode without a crash.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "moecode/engine/tokenizer.h"

namespace {

using namespace moecode::engine;

struct Vocab {
  std::string name;
  std::shared_ptr<const Tokenizer> tok;
  // Bytes that do not round-trip alone, as in llama.cpp: refact has no token for 0xC0 and 0xC1
  // (they never occur in UTF-8), so encode drops them; deepseek-coder has user-defined tokens
  // for some byte characters ('\xfd' is 'ý'), whose text decodes as written (UTF-8 'ý'). A
  // text holding one cannot round-trip.
  std::array<bool, 256> byte_unfaithful{};
};

std::vector<Vocab>& vocabs() {
  static std::vector<Vocab> v = [] {
    std::string dir = MOECODE_FUZZ_VOCAB_DIR;
    if (const char* env = std::getenv("MOECODE_FUZZ_VOCAB_DIR"); env && *env) dir = env;
    std::vector<Vocab> out;
    for (const char* name : {"gpt-2", "llama-spm", "bert-bge", "deepseek-coder", "deepseek-llm", "falcon",
                             "starcoder", "phi-3", "mpt", "refact"}) {
      const std::string path = dir + "/ggml-vocab-" + name + ".gguf";
      auto t = Tokenizer::load(path);
      if (!t.ok()) {
        std::fprintf(stderr, "tokenizer_fuzz: %s\n", t.error().message().c_str());
        std::abort();
      }
      Vocab voc{name, *t, {}};
      for (int b = 0; b < 256; ++b) {
        const char c = static_cast<char>(b);
        const std::string_view one(&c, 1);
        voc.byte_unfaithful[b] = (*t)->decode((*t)->encode(one, false, false)) != one;
      }
      out.push_back(std::move(voc));
    }
    return out;
  }();
  return v;
}

bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    uint32_t cp = n == 1 ? c : n == 2 ? (c & 0x1f) : n == 3 ? (c & 0x0f) : (c & 0x07);
    for (size_t k = 1; k < n; ++k) {
      const auto d = static_cast<unsigned char>(s[i + k]);
      if ((d >> 6) != 2) return false;
      cp = (cp << 6) | (d & 0x3f);
    }
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
      return false;
    i += n;
  }
  return true;
}

[[noreturn]] void fail(const Vocab& v, const std::string& what, std::string_view text) {
  std::fprintf(stderr, "tokenizer_fuzz [%s]: %s (text of %zu bytes)\n", v.name.c_str(), what.c_str(), text.size());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  (void)vocabs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const Vocab& v = vocabs()[data[0] % vocabs().size()];
  const Tokenizer& tok = *v.tok;
  const bool add_special = data[1] & 1;
  const bool parse_special = data[1] & 2;
  const bool render_special = data[1] & 4;
  const std::string_view text(reinterpret_cast<const char*>(data + 2), size - 2);

  const std::vector<Token> ids = tok.encode(text, add_special, parse_special);
  for (Token id : ids) {
    if (id < 0 || id >= tok.n_vocab()) fail(v, "id " + std::to_string(id) + " out of range", text);
  }
  const std::string decoded = tok.decode(ids, render_special);
  const bool every_byte_has_a_token = std::none_of(text.begin(), text.end(), [&](char c) {
    return v.byte_unfaithful[static_cast<unsigned char>(c)];
  });
  // Control tokens found in the text (parse_special) are left out of the decoded text unless
  // it renders them, as llama.cpp does: then the text does not come back.
  const bool specials_come_back = render_special || !parse_special;
  if (tok.model_name() == "gpt2" && !add_special && specials_come_back && every_byte_has_a_token &&
      decoded != text) {
    fail(v, "decode(encode(text)) != text", text);
  }

  StreamDetokenizer stream(tok, render_special);
  std::string streamed;
  for (Token id : ids) streamed += stream.push(id);
  streamed += stream.flush();
  if (!valid_utf8(streamed)) fail(v, "the streaming detokenizer produced invalid UTF-8", text);
  if (tok.model_name() == "gpt2" && valid_utf8(decoded) && streamed != decoded) {
    fail(v, "streamed text != decode()", text);
  }

  // The input's bytes as ids (out-of-range ones are skipped by decode and piece).
  std::vector<Token> raw;
  for (size_t i = 2; i + 4 <= size; i += 4) {
    int32_t id;
    __builtin_memcpy(&id, data + i, 4);
    raw.push_back(id % (tok.n_vocab() + 8));
  }
  volatile size_t sink = tok.decode(raw, render_special).size();
  for (Token id : raw) sink = sink + tok.piece(id, render_special).size() + tok.is_special(id);
  (void)sink;
  return 0;
}
