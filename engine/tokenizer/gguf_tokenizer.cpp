// Reading tokenizer.ggml.* metadata into a VocabData, and Tokenizer::load().
// Thread-safe: no shared state.
#include "engine/tokenizer/gguf_tokenizer.h"

#include <cstring>

#include "engine/tokenizer/tokenizer_impl.h"

namespace moecode::tokenizer {
namespace {

using gguf::GgufFile;
using gguf::Value;
using gguf::ValueType;

Result<std::optional<int64_t>> read_id(const GgufFile& file, std::string_view key) {
  const Value* v = file.find(key);
  if (!v) return std::optional<int64_t>();
  const std::optional<int64_t> id = v->as_int();
  if (!id) {
    return make_error(ErrorCode::kCorrupt, "GGUF key '" + std::string(key) + "' is not a token id (type " +
                                               gguf::value_type_name(v->type()) + ")");
  }
  return id;
}

Status read_bool(const GgufFile& file, std::string_view key, std::optional<bool>* out) {
  MOE_TRY(const std::optional<bool> v, file.get_bool(key));
  if (v) *out = *v;
  return Status();
}

Status read_string(const GgufFile& file, std::string_view key, std::string* out) {
  MOE_TRY(const std::optional<std::string_view> v, file.get_string(key));
  if (v) out->assign(*v);
  return Status();
}

// An array of `type` elements, or null if the key is absent.
Result<const Value*> find_array(const GgufFile& file, std::string_view key, ValueType type) {
  const Value* v = file.find(key);
  if (!v) return static_cast<const Value*>(nullptr);
  if (v->type() != ValueType::kArray || v->array_type() != type) {
    return make_error(ErrorCode::kCorrupt, "GGUF key '" + std::string(key) + "' must be an array of " +
                                               gguf::value_type_name(type));
  }
  return v;
}

Status read_strings(const GgufFile& file, std::string_view key, std::vector<std::string>* out) {
  MOE_TRY(const Value* v, find_array(file, key, ValueType::kString));
  if (!v) return Status();
  out->reserve(v->array_strings().size());
  for (std::string_view s : v->array_strings()) out->emplace_back(s);
  return Status();
}

template <typename T>
Status read_scalars(const GgufFile& file, std::string_view key, ValueType type, std::vector<T>* out) {
  MOE_TRY(const Value* v, find_array(file, key, type));
  if (!v) return Status();
  const std::span<const uint8_t> raw = v->array_raw();
  out->resize(v->array_size());
  if (raw.size() != out->size() * sizeof(T)) {
    return make_error(ErrorCode::kCorrupt, "GGUF key '" + std::string(key) + "' has " +
                                               std::to_string(raw.size()) + " bytes for " +
                                               std::to_string(out->size()) + " elements");
  }
  std::memcpy(out->data(), raw.data(), raw.size());  // GGUF is little-endian, like our hosts
  return Status();
}

}  // namespace

Result<VocabData> read_vocab(const GgufFile& file) {
  VocabData v;
  MOE_TRY(const std::string_view model, file.require_string("tokenizer.ggml.model"));
  v.model.assign(model);
  MOE_RETURN_IF_ERROR(read_string(file, "tokenizer.ggml.pre", &v.pre));
  MOE_RETURN_IF_ERROR(read_string(file, "general.name", &v.general_name));
  MOE_RETURN_IF_ERROR(read_string(file, "general.architecture", &v.architecture));
  if (!file.find("tokenizer.ggml.tokens")) {
    return make_error(ErrorCode::kCorrupt, "GGUF key 'tokenizer.ggml.tokens' is missing (no vocabulary)");
  }
  MOE_RETURN_IF_ERROR(read_strings(file, "tokenizer.ggml.tokens", &v.tokens));
  MOE_RETURN_IF_ERROR(read_strings(file, "tokenizer.ggml.merges", &v.merges));
  MOE_RETURN_IF_ERROR(read_scalars(file, "tokenizer.ggml.scores", ValueType::kFloat32, &v.scores));
  MOE_RETURN_IF_ERROR(read_scalars(file, "tokenizer.ggml.token_type", ValueType::kInt32, &v.types));
  if ((v.model == "gpt2" || v.model == "gemma4") && !file.find("tokenizer.ggml.merges")) {
    return make_error(ErrorCode::kCorrupt,
                      "GGUF key 'tokenizer.ggml.merges' is missing (needed by a " + v.model + " tokenizer)");
  }

  struct IdKey {
    const char* key;
    std::optional<int64_t>* slot;
  };
  const IdKey ids[] = {
      {"tokenizer.ggml.bos_token_id", &v.bos},          {"tokenizer.ggml.eos_token_id", &v.eos},
      {"tokenizer.ggml.eot_token_id", &v.eot},          {"tokenizer.ggml.eom_token_id", &v.eom},
      {"tokenizer.ggml.unknown_token_id", &v.unk},      {"tokenizer.ggml.seperator_token_id", &v.sep},
      {"tokenizer.ggml.padding_token_id", &v.pad},      {"tokenizer.ggml.mask_token_id", &v.mask},
      {"tokenizer.ggml.fim_pre_token_id", &v.fim_pre},  {"tokenizer.ggml.fim_suf_token_id", &v.fim_suf},
      {"tokenizer.ggml.fim_mid_token_id", &v.fim_mid},  {"tokenizer.ggml.fim_pad_token_id", &v.fim_pad},
      {"tokenizer.ggml.fim_rep_token_id", &v.fim_rep},  {"tokenizer.ggml.fim_sep_token_id", &v.fim_sep},
  };
  for (const IdKey& k : ids) {
    MOE_TRY(*k.slot, read_id(file, k.key));
  }
  // Older names: the FIM prefix/suffix/middle keys and BERT's CLS as BOS.
  const IdKey fallbacks[] = {{"tokenizer.ggml.prefix_token_id", &v.fim_pre},
                             {"tokenizer.ggml.suffix_token_id", &v.fim_suf},
                             {"tokenizer.ggml.middle_token_id", &v.fim_mid},
                             {"tokenizer.ggml.cls_token_id", &v.bos}};
  for (const IdKey& k : fallbacks) {
    if (k.slot->has_value()) continue;
    MOE_TRY(*k.slot, read_id(file, k.key));
  }

  MOE_RETURN_IF_ERROR(read_bool(file, "tokenizer.ggml.add_bos_token", &v.add_bos));
  MOE_RETURN_IF_ERROR(read_bool(file, "tokenizer.ggml.add_eos_token", &v.add_eos));
  MOE_RETURN_IF_ERROR(read_bool(file, "tokenizer.ggml.add_sep_token", &v.add_sep));
  MOE_RETURN_IF_ERROR(read_bool(file, "tokenizer.ggml.add_space_prefix", &v.add_space_prefix));
  MOE_RETURN_IF_ERROR(read_bool(file, "tokenizer.ggml.remove_extra_whitespaces", &v.remove_extra_whitespaces));
  MOE_RETURN_IF_ERROR(read_bool(file, "tokenizer.ggml.normalizer.lowercase", &v.normalizer_lowercase));
  MOE_RETURN_IF_ERROR(read_bool(file, "tokenizer.ggml.normalizer.strip_accents", &v.normalizer_strip_accents));
  return v;
}

Result<std::shared_ptr<const engine::Tokenizer>> tokenizer_from_gguf(const GgufFile& file) {
  auto prefixed = [&](const Error& e) { return Error(e.code(), "GGUF '" + file.path() + "': " + e.message()); };
  Result<VocabData> vocab = read_vocab(file);
  if (!vocab.ok()) return prefixed(vocab.error());
  Result<std::shared_ptr<const engine::Tokenizer>> t = build_tokenizer(std::move(vocab).value());
  if (!t.ok()) return prefixed(t.error());
  return t;
}

}  // namespace moecode::tokenizer

namespace moecode::engine {

Result<std::shared_ptr<const Tokenizer>> Tokenizer::load(const std::string& gguf_path) {
  MOE_TRY(const std::unique_ptr<gguf::GgufFile> file, gguf::GgufFile::open(gguf_path));
  return tokenizer::tokenizer_from_gguf(*file);
}

}  // namespace moecode::engine
