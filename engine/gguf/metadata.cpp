// Well-known GGUF metadata (see metadata.h).
#include "engine/gguf/metadata.h"

#include <string>

namespace moecode::gguf {

int64_t vocab_size(const GgufFile& file) {
  const Value* tokens = file.find("tokenizer.ggml.tokens");
  return tokens ? static_cast<int64_t>(tokens->array_size()) : 0;
}

Result<engine::SpecialTokens> read_special_tokens(const GgufFile& file, int64_t n_vocab) {
  engine::SpecialTokens sp;
  struct Key {
    const char* name;
    engine::Token* out;
  };
  // Older converters wrote prefix/suffix/middle for the FIM tokens; newer ones fim_pre...
  const Key keys[] = {
      {"tokenizer.ggml.bos_token_id", &sp.bos},         {"tokenizer.ggml.eos_token_id", &sp.eos},
      {"tokenizer.ggml.eot_token_id", &sp.eot},         {"tokenizer.ggml.eom_token_id", &sp.eom},
      {"tokenizer.ggml.unknown_token_id", &sp.unk},     {"tokenizer.ggml.padding_token_id", &sp.pad},
      {"tokenizer.ggml.seperator_token_id", &sp.sep},   {"tokenizer.ggml.prefix_token_id", &sp.fim_pre},
      {"tokenizer.ggml.suffix_token_id", &sp.fim_suf},  {"tokenizer.ggml.middle_token_id", &sp.fim_mid},
      {"tokenizer.ggml.fim_pre_token_id", &sp.fim_pre}, {"tokenizer.ggml.fim_suf_token_id", &sp.fim_suf},
      {"tokenizer.ggml.fim_mid_token_id", &sp.fim_mid}, {"tokenizer.ggml.fim_pad_token_id", &sp.fim_pad},
      {"tokenizer.ggml.fim_rep_token_id", &sp.fim_rep}, {"tokenizer.ggml.fim_sep_token_id", &sp.fim_sep},
  };
  for (const auto& k : keys) {
    MOE_TRY(auto v, file.get_int(k.name));
    if (!v) continue;
    // Some converters store "no token" as -1 or as UINT32_MAX.
    if (*v < 0 || *v == 0xffffffffLL) continue;
    // An id outside the vocabulary is ignored, as llama.cpp and our tokenizer do.
    if (n_vocab > 0 && *v >= n_vocab) continue;
    *k.out = static_cast<engine::Token>(*v);
  }
  MOE_TRY(auto add_bos, file.get_bool("tokenizer.ggml.add_bos_token"));
  MOE_TRY(auto add_eos, file.get_bool("tokenizer.ggml.add_eos_token"));
  sp.add_bos = add_bos.value_or(false);
  sp.add_eos = add_eos.value_or(false);
  return sp;
}

}  // namespace moecode::gguf
