// `moecode model info [--json] [FILE]`: what a GGUF holds — architecture, hyperparameters,
// tensors by type, tokenizer, special and FIM tokens, chat template, experts.
#include <cstdio>
#include <string>
#include <variant>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "lsp/cli/commands.h"
#include "lsp/cli/model_path.h"
#include "moecode/engine/model.h"

namespace moecode::cli {

namespace {

using engine::MetaValue;
using nlohmann::json;

json meta_json(const MetaValue& m) {
  if (m.type == "array") {
    json elems = json::array();
    for (const auto& e : m.elements) elems.push_back(meta_json(e));
    return json{{"type", "array"}, {"element_type", m.array_type}, {"length", m.array_len}, {"first", elems}};
  }
  return std::visit(
      [](const auto& v) -> json {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::monostate>) {
          return nullptr;
        } else {
          return v;
        }
      },
      m.scalar);
}

std::string meta_text(const MetaValue& m) {
  if (m.type == "array") return fmt::format("[{} x {}]", m.array_len, m.array_type);
  return std::visit(
      [](const auto& v) -> std::string {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::monostate>) {
          return "";
        } else if constexpr (std::is_same_v<T, std::string>) {
          return v.size() > 80 ? fmt::format("\"{}...\" ({} bytes)", v.substr(0, 77), v.size()) : "\"" + v + "\"";
        } else if constexpr (std::is_same_v<T, bool>) {
          return v ? "true" : "false";
        } else {
          return fmt::format("{}", v);
        }
      },
      m.scalar);
}

struct NamedToken {
  const char* name;
  engine::Token id;
};

std::vector<NamedToken> named_special(const engine::SpecialTokens& s) {
  return {{"bos", s.bos},         {"eos", s.eos},         {"eot", s.eot},         {"eom", s.eom},
          {"unk", s.unk},         {"pad", s.pad},         {"sep", s.sep},         {"fim_pre", s.fim_pre},
          {"fim_suf", s.fim_suf}, {"fim_mid", s.fim_mid}, {"fim_pad", s.fim_pad}, {"fim_rep", s.fim_rep},
          {"fim_sep", s.fim_sep}};
}

json summary_json(const engine::ModelSummary& s) {
  json j;
  j["path"] = s.path;
  j["file_bytes"] = s.file_bytes;
  j["gguf_version"] = s.gguf_version;
  j["alignment"] = s.alignment;
  j["architecture"] = s.architecture;
  j["name"] = s.name;
  j["n_tensors"] = s.n_tensors;
  j["n_params"] = s.n_params;
  json types = json::array();
  for (const auto& t : s.tensor_types) {
    types.push_back({{"type", t.type}, {"n_tensors", t.n_tensors}, {"n_bytes", t.n_bytes}, {"n_elements", t.n_elements}});
  }
  j["tensor_types"] = types;
  json hp = json::object();
  for (const auto& [k, v] : s.hparams) hp[k] = meta_json(v);
  j["hparams"] = hp;
  json special = json::object();
  for (const auto& t : named_special(s.special)) special[t.name] = t.id >= 0 ? json(t.id) : json(nullptr);
  j["tokenizer"] = {{"model", s.tokenizer_model}, {"pre", s.tokenizer_pre}, {"n_vocab", s.n_vocab},
                    {"special", special},         {"add_bos", s.special.add_bos}, {"add_eos", s.special.add_eos}};
  j["chat_template"] = {{"present", s.has_chat_template}, {"family", s.chat_template_family}};
  j["experts"] = {{"n_expert", s.n_expert}, {"n_expert_used", s.n_expert_used}, {"n_expert_shared", s.n_expert_shared}};
  json md = json::object();
  for (const auto& [k, v] : s.metadata) md[k] = meta_json(v);
  j["metadata"] = md;
  return j;
}

void print_text(const engine::ModelSummary& s) {
  fmt::print("file:          {} ({:.1f} MiB, GGUF v{}, alignment {})\n", s.path, s.file_bytes / 1048576.0,
             s.gguf_version, s.alignment);
  fmt::print("architecture:  {}\n", s.architecture.empty() ? "(none)" : s.architecture);
  if (!s.name.empty()) fmt::print("name:          {}\n", s.name);
  fmt::print("parameters:    {} ({:.1f} M) in {} tensors\n", s.n_params, s.n_params / 1e6, s.n_tensors);
  for (const auto& t : s.tensor_types) {
    fmt::print("  {:<8} {:>5} tensors {:>12} bytes\n", t.type, t.n_tensors, t.n_bytes);
  }
  if (!s.hparams.empty()) fmt::print("hyperparameters:\n");
  for (const auto& [k, v] : s.hparams) fmt::print("  {:<40} {}\n", k, meta_text(v));
  if (s.n_expert > 0) {
    fmt::print("experts:       {} routed, {} used per token, {} shared\n", s.n_expert, s.n_expert_used, s.n_expert_shared);
  }
  fmt::print("tokenizer:     {} (pre-tokenizer {}), {} tokens, add_bos {}, add_eos {}\n",
             s.tokenizer_model.empty() ? "(none)" : s.tokenizer_model, s.tokenizer_pre.empty() ? "default" : s.tokenizer_pre,
             s.n_vocab, s.special.add_bos, s.special.add_eos);
  std::string special;
  for (const auto& t : named_special(s.special)) {
    if (t.id >= 0) special += fmt::format(" {}={}", t.name, t.id);
  }
  fmt::print("special:      {}\n", special.empty() ? " (none)" : special);
  fmt::print("chat template: {}\n",
             s.has_chat_template ? (s.chat_template_family.empty() ? "yes (unrecognised format)" : s.chat_template_family)
                                 : "no");
}

}  // namespace

void add_model_command(CLI::App& app) {
  auto* model = app.add_subcommand("model", "Inspect model files");
  model->require_subcommand(1);
  auto* info = model->add_subcommand("info", "Show what a GGUF file holds (no weights are loaded)");
  auto path = std::make_shared<std::string>();
  auto as_json = std::make_shared<bool>(false);
  info->add_option("file", *path, "GGUF file (default: the default model; see README)");
  info->add_option("-m,--model", *path, "GGUF file (same as the positional argument)");
  info->add_flag("--json", *as_json, "Print JSON");
  info->callback([path, as_json] {
    auto resolved = resolve_model_path(*path);
    if (!resolved.ok()) {
      fmt::print(stderr, "moecode: {}\n", resolved.error().message());
      exit_code() = 1;
      return;
    }
    auto summary = engine::inspect_model(*resolved);
    if (!summary.ok()) {
      fmt::print(stderr, "moecode: {}\n", summary.error().message());
      exit_code() = 1;
      return;
    }
    if (*as_json) {
      fmt::print("{}\n", summary_json(*summary).dump(2, ' ', false, json::error_handler_t::replace));
    } else {
      print_text(*summary);
    }
  });
}

}  // namespace moecode::cli
