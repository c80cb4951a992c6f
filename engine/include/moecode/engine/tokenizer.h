// Public tokenizer API: text <-> token ids, from a GGUF file's tokenizer.* metadata.
// Byte-level BPE (tokenizer.ggml.model "gpt2", with the pre-tokenizer named by
// tokenizer.ggml.pre), BPE over SentencePiece-style texts ("gemma4": raw UTF-8, spaces as
// U+2581, <0xXX> byte fallback), SentencePiece ("llama") and WordPiece ("bert"), matching
// llama.cpp's ids. A Tokenizer is immutable after load; all methods are const and
// thread-safe (encode() keeps per-thread scratch space and a word cache).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "moecode/engine/result.h"

namespace moecode::engine {

using Token = int32_t;
inline constexpr Token kNoToken = -1;

// Special token ids from the GGUF (kNoToken where the file has none).
struct SpecialTokens {
  Token bos = kNoToken, eos = kNoToken, eot = kNoToken, eom = kNoToken;
  Token unk = kNoToken, pad = kNoToken, sep = kNoToken, nl = kNoToken;
  // Fill-in-the-middle: prefix, suffix, middle, pad, repo, file separator.
  Token fim_pre = kNoToken, fim_suf = kNoToken, fim_mid = kNoToken;
  Token fim_pad = kNoToken, fim_rep = kNoToken, fim_sep = kNoToken;
  bool add_bos = false;
  bool add_eos = false;
};

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Loads the tokenizer of a GGUF file from its metadata only (tensor data is not read).
  // (The model loader, which has the GgufFile open already, uses
  // tokenizer::tokenizer_from_gguf() in engine/tokenizer/gguf_tokenizer.h.)
  static Result<std::shared_ptr<const Tokenizer>> load(const std::string& gguf_path);

  // Text -> ids. add_special: add BOS/EOS as the file asks (add_bos/add_eos).
  // parse_special: control token text in `text` (e.g. "<|im_start|>") becomes that token;
  // otherwise it is tokenized as plain text. User-defined (added) tokens are matched whole
  // either way, as llama.cpp and Hugging Face do. Ill-formed UTF-8 is kept byte for byte
  // by the BPE models (decode() gives it back).
  virtual std::vector<Token> encode(std::string_view text, bool add_special,
                                    bool parse_special) const = 0;

  // Ids -> text (the concatenated pieces; control tokens rendered as their text when
  // render_special, skipped otherwise). Out-of-range ids are skipped. No clean-up of
  // spaces is applied, so decode(encode(x)) == x for BPE models (for "gemma4", unless x
  // holds U+2581 itself, which comes back as a space); for
  // SentencePiece models the space that encode() puts before a text run (at the start and
  // after a special token) is removed again.
  virtual std::string decode(std::span<const Token> tokens, bool render_special = true) const = 0;

  // The bytes of one token (may be an incomplete UTF-8 sequence for byte tokens).
  virtual std::string piece(Token token, bool render_special = true) const = 0;

  virtual int32_t n_vocab() const = 0;
  virtual const SpecialTokens& special() const = 0;
  // True for tokens that end a generation (EOS, EOT, EOM and the family's other ends).
  virtual bool is_end_of_generation(Token token) const = 0;
  // The id of the token whose text is exactly `text`, or kNoToken.
  virtual Token find_token(std::string_view text) const = 0;
  // True for control and user-defined tokens (matched whole from their text, never built
  // by merges).
  virtual bool is_special(Token token) const = 0;

  // tokenizer.ggml.model ("gpt2", "llama") and tokenizer.ggml.pre ("smollm", "qwen2"...).
  virtual const std::string& model_name() const = 0;
  virtual const std::string& pre_name() const = 0;
};

// Streaming detokenization for one generation: push() returns the text that became
// complete with this token and never half a UTF-8 character (bytes that can no longer
// form a character become U+FFFD, so the output is always well-formed UTF-8); flush()
// returns what is left (invalid trailing bytes become U+FFFD). Pieces are not stripped:
// the concatenation equals decode() for byte-level BPE. Not thread-safe; one per stream.
class StreamDetokenizer {
 public:
  explicit StreamDetokenizer(const Tokenizer& tokenizer, bool render_special = true)
      : tokenizer_(&tokenizer), render_special_(render_special) {}
  std::string push(Token token);
  std::string flush();

 private:
  const Tokenizer* tokenizer_;
  bool render_special_;
  std::string pending_;
};

}  // namespace moecode::engine
