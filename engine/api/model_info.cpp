// inspect_model(): a GGUF's metadata and tensor table, summarised for `moecode model info`
// without loading weights.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

#include "engine/gguf/gguf.h"
#include "engine/gguf/metadata.h"
#include "engine/runtime/chat_template.h"
#include "moecode/engine/model.h"

namespace moecode::engine {

namespace {

using gguf::Value;
using gguf::ValueType;

MetaValue to_meta(const Value& v, int depth = 0) {
  MetaValue m;
  m.type = gguf::value_type_name(v.type());
  switch (v.type()) {
    case ValueType::kUint8:
    case ValueType::kUint16:
    case ValueType::kUint32:
    case ValueType::kUint64: m.scalar = *v.as_uint(); break;
    case ValueType::kInt8:
    case ValueType::kInt16:
    case ValueType::kInt32:
    case ValueType::kInt64: m.scalar = *v.as_int(); break;
    case ValueType::kFloat32: {
      // The shortest decimal that round-trips the float (1e-05, not 9.99999974e-06).
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.9g", *v.as_float());
      for (int prec = 1; prec <= 9; ++prec) {
        std::snprintf(buf, sizeof buf, "%.*g", prec, *v.as_float());
        if (std::strtof(buf, nullptr) == static_cast<float>(*v.as_float())) break;
      }
      m.scalar = std::strtod(buf, nullptr);
      break;
    }
    case ValueType::kFloat64: m.scalar = *v.as_float(); break;
    case ValueType::kBool: m.scalar = *v.as_bool(); break;
    case ValueType::kString: m.scalar = std::string(*v.as_string()); break;
    case ValueType::kArray: {
      m.array_type = gguf::value_type_name(v.array_type());
      m.array_len = v.array_size();
      const uint64_t n = depth < 2 ? std::min<uint64_t>(v.array_size(), 16) : 0;
      for (uint64_t i = 0; i < n; ++i) m.elements.push_back(to_meta(v.array_at(i), depth + 1));
      break;
    }
  }
  return m;
}

}  // namespace

Result<ModelSummary> inspect_model(const std::string& path) {
  MOE_TRY(auto file, gguf::GgufFile::open(path));
  ModelSummary s;
  s.path = path;
  s.file_bytes = file->file_size();
  s.gguf_version = file->version();
  s.alignment = file->alignment();
  MOE_TRY(auto arch, file->get_string("general.architecture"));
  MOE_TRY(auto name, file->get_string("general.name"));
  s.architecture = std::string(arch.value_or(""));
  s.name = std::string(name.value_or(""));

  const std::string prefix = s.architecture.empty() ? std::string("\x01") : s.architecture + ".";
  for (const auto& kv : file->metadata()) {
    MetaValue m = to_meta(kv.value);
    if (kv.key.starts_with(prefix)) s.hparams.emplace_back(std::string(kv.key.substr(prefix.size())), m);
    s.metadata.emplace_back(std::string(kv.key), std::move(m));
  }

  std::map<std::string, TensorTypeStats> by_type;
  for (const auto& t : file->tensors()) {
    auto& st = by_type[quant::type_name(t.type)];
    st.type = quant::type_name(t.type);
    st.n_tensors += 1;
    st.n_bytes += t.n_bytes;
    st.n_elements += t.n_elements;
    s.n_params += t.n_elements;
  }
  s.n_tensors = file->tensors().size();
  for (auto& [_, st] : by_type) s.tensor_types.push_back(st);
  std::sort(s.tensor_types.begin(), s.tensor_types.end(),
            [](const auto& a, const auto& b) { return a.n_bytes != b.n_bytes ? a.n_bytes > b.n_bytes : a.type < b.type; });

  MOE_TRY(auto tok_model, file->get_string("tokenizer.ggml.model"));
  MOE_TRY(auto tok_pre, file->get_string("tokenizer.ggml.pre"));
  s.tokenizer_model = std::string(tok_model.value_or(""));
  s.tokenizer_pre = std::string(tok_pre.value_or(""));
  s.n_vocab = gguf::vocab_size(*file);
  MOE_TRY(s.special, gguf::read_special_tokens(*file, s.n_vocab));
  MOE_TRY(auto tmpl, file->get_string("tokenizer.chat_template"));
  s.has_chat_template = tmpl.has_value();
  if (tmpl) s.chat_template_family = runtime::chat_template_family(*tmpl);

  if (!s.architecture.empty()) {
    MOE_TRY(auto n_expert, file->get_int(s.architecture + ".expert_count"));
    MOE_TRY(auto n_used, file->get_int(s.architecture + ".expert_used_count"));
    MOE_TRY(auto n_shared, file->get_int(s.architecture + ".expert_shared_count"));
    s.n_expert = n_expert.value_or(0);
    s.n_expert_used = n_used.value_or(0);
    s.n_expert_shared = n_shared.value_or(0);
  }
  return s;
}

}  // namespace moecode::engine
