// Hyperparameter reading (see hparams.h).
#include "engine/model/hparams.h"

#include <cmath>

#include "engine/gguf/metadata.h"

namespace moecode::model {

int64_t HparamReader::req_int(std::string_view k, int64_t min) {
  const std::string full = key(k);
  auto v = file_.get_int(full);
  if (!v.ok()) {
    fail(v.error().message());
    return 0;
  }
  if (!v->has_value()) {
    fail("missing key '" + full + "'");
    return 0;
  }
  if (**v < min) {
    fail("key '" + full + "' is " + std::to_string(**v) + ", expected >= " + std::to_string(min));
    return 0;
  }
  return **v;
}

int64_t HparamReader::opt_int(std::string_view k, int64_t def, int64_t min) {
  const std::string full = key(k);
  auto v = file_.get_int(full);
  if (!v.ok()) {
    fail(v.error().message());
    return def;
  }
  if (!v->has_value()) return def;
  if (**v < min) {
    fail("key '" + full + "' is " + std::to_string(**v) + ", expected >= " + std::to_string(min));
    return def;
  }
  return **v;
}

float HparamReader::opt_float(std::string_view k, float def) {
  auto v = file_.get_float(key(k));
  if (!v.ok()) {
    fail(v.error().message());
    return def;
  }
  if (!v->has_value()) return def;
  if (!std::isfinite(**v)) {
    fail("key '" + key(k) + "' is not a finite number");
    return def;
  }
  return static_cast<float>(**v);
}

bool HparamReader::opt_bool(std::string_view k, bool def) {
  auto v = file_.get_bool(key(k));
  if (!v.ok()) {
    fail(v.error().message());
    return def;
  }
  return v->value_or(def);
}

std::string HparamReader::opt_string(std::string_view k, std::string def) {
  auto v = file_.get_string(key(k));
  if (!v.ok()) {
    fail(v.error().message());
    return def;
  }
  return v->has_value() ? std::string(**v) : def;
}

Status HparamReader::status() const {
  if (problems_.empty()) return Status();
  std::string msg = "model '" + file_.path() + "' (architecture '" + arch_ + "'): bad hyperparameters: ";
  for (size_t i = 0; i < problems_.size(); ++i) {
    if (i) msg += "; ";
    msg += problems_[i];
  }
  return make_error(ErrorCode::kCorrupt, msg);
}

Hparams read_common_hparams(HparamReader& r, const gguf::GgufFile& file, RopeOrder order, bool needs_ff) {
  Hparams hp;
  hp.arch = r.arch();
  if (auto name = file.get_string("general.name"); name.ok() && name->has_value()) hp.name = std::string(**name);
  hp.n_embd = r.req_int("embedding_length");
  hp.n_layer = r.req_int("block_count");
  // Every block has tensors of its own: more blocks than the file has tensors is a damaged
  // header (and would have us allocate for them all before the first missing tensor is seen).
  if (hp.n_layer > static_cast<int64_t>(file.tensors().size())) {
    r.fail("block_count " + std::to_string(hp.n_layer) + " is more than the file's " +
           std::to_string(file.tensors().size()) + " tensors");
    hp.n_layer = 0;
  }
  hp.n_head = r.req_int("attention.head_count");
  hp.n_head_kv = r.opt_int("attention.head_count_kv", hp.n_head, 1);
  hp.n_ctx_train = r.opt_int("context_length", 4096, 1);
  hp.n_ff = needs_ff ? r.req_int("feed_forward_length") : r.opt_int("feed_forward_length", 0);
  hp.rms_eps = r.opt_float("attention.layer_norm_rms_epsilon", 1e-5f);
  const int64_t default_head = hp.n_head > 0 ? hp.n_embd / hp.n_head : 0;
  hp.head_dim_k = r.opt_int("attention.key_length", default_head, 1);
  hp.head_dim_v = r.opt_int("attention.value_length", default_head, 1);
  hp.n_expert = r.opt_int("expert_count", 0);
  hp.n_expert_used = r.opt_int("expert_used_count", 0);

  // Vocabulary: the tokenizer's token list, or <arch>.vocab_size.
  hp.n_vocab = gguf::vocab_size(file);
  if (hp.n_vocab == 0) hp.n_vocab = r.opt_int("vocab_size", 0);

  RopeConfig& rope = hp.rope;
  rope.order = order;
  rope.n_rot = static_cast<int>(r.opt_int("rope.dimension_count", hp.head_dim_k, 0));
  rope.freq_base = r.opt_float("rope.freq_base", 10000.0f);
  rope.scaling_type = r.opt_string("rope.scaling.type", "none");
  float factor = r.opt_float("rope.scaling.factor", 0.0f);
  if (factor == 0.0f) {
    // Older files: rope.scale_linear.
    const float linear = r.opt_float("rope.scale_linear", 0.0f);
    if (linear != 0.0f) {
      factor = linear;
      if (rope.scaling_type == "none") rope.scaling_type = "linear";
    }
  }
  if (rope.scaling_type != "none" && rope.scaling_type != "linear" && rope.scaling_type != "yarn")
    r.fail("rope scaling type '" + rope.scaling_type + "' is not supported (none, linear, yarn)");
  if (factor < 0.0f) r.fail("rope scaling factor " + std::to_string(factor) + " is negative");
  rope.freq_scale = (factor > 0.0f && rope.scaling_type != "none") ? 1.0f / factor : 1.0f;
  rope.n_ctx_orig = r.opt_int("rope.scaling.original_context_length", hp.n_ctx_train, 1);
  const bool yarn = rope.scaling_type == "yarn";
  rope.ext_factor = r.opt_float("rope.scaling.yarn_ext_factor", yarn ? 1.0f : 0.0f);
  rope.attn_factor = r.opt_float("rope.scaling.attn_factor", 1.0f);
  rope.beta_fast = r.opt_float("rope.scaling.yarn_beta_fast", 32.0f);
  rope.beta_slow = r.opt_float("rope.scaling.yarn_beta_slow", 1.0f);
  rope.yarn_log_multiplier = r.opt_float("rope.scaling.yarn_log_multiplier", 0.0f);

  // Consistency.
  if (hp.n_head > 0 && hp.n_head_kv > 0 && hp.n_head % hp.n_head_kv != 0)
    r.fail("head_count " + std::to_string(hp.n_head) + " is not a multiple of head_count_kv " +
           std::to_string(hp.n_head_kv));
  if (rope.n_rot > hp.head_dim_k || rope.n_rot % 2 != 0)
    r.fail("rope.dimension_count " + std::to_string(rope.n_rot) + " must be even and <= the head size " +
           std::to_string(hp.head_dim_k));
  if (hp.n_vocab <= 0) r.fail("the vocabulary size is unknown (no tokenizer.ggml.tokens, no vocab_size)");
  if (!(hp.rms_eps > 0.0f)) r.fail("layer_norm_rms_epsilon must be > 0");
  if (!(rope.freq_base > 0.0f)) r.fail("rope.freq_base must be > 0");
  return hp;
}

Result<Hparams> read_common_hparams(const gguf::GgufFile& file, RopeOrder order, bool needs_ff) {
  MOE_TRY(auto arch, file.require_string("general.architecture"));
  HparamReader r(file, std::string(arch));
  Hparams hp = read_common_hparams(r, file, order, needs_ff);
  MOE_RETURN_IF_ERROR(r.status());
  return hp;
}

}  // namespace moecode::model
