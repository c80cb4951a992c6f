// FIM formats and prompt rendering (see fim.h).
#include "lsp/assist/fim.h"

#include <array>
#include <string_view>

namespace moecode::assist {

namespace {

struct Family {
  const char* name;
  FimFormat::Order order;
  const char* prefix;
  const char* suffix;
  const char* middle;
  const char* file_sep;
  std::array<const char*, 5> stops;
};

// Known families, by the text of their control tokens. The first whose three FIM tokens all
// exist in the vocabulary wins.
const Family kFamilies[] = {
    {"qwen", FimFormat::Order::kPsm, "<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "<|file_sep|>",
     {"<|endoftext|>", "<|fim_pad|>", "<|file_sep|>", "<|repo_name|>", "<|im_end|>"}},
    {"starcoder", FimFormat::Order::kPsm, "<fim_prefix>", "<fim_suffix>", "<fim_middle>", "<file_sep>",
     {"<|endoftext|>", "<fim_pad>", "<file_sep>", "<filename>", nullptr}},
    {"deepseek", FimFormat::Order::kPsm, "<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>", "",
     {"<｜end▁of▁sentence｜>", "<|EOT|>", nullptr, nullptr, nullptr}},
    {"codellama", FimFormat::Order::kPsm, "▁<PRE>", "▁<SUF>", "▁<MID>", "", {"▁<EOT>", nullptr, nullptr, nullptr, nullptr}},
    {"codestral", FimFormat::Order::kSpm, "[PREFIX]", "[SUFFIX]", "[MIDDLE]", "", {nullptr, nullptr, nullptr, nullptr, nullptr}},
};

void add_stop(FimFormat& f, const Generator& g, const std::string& text) {
  if (text.empty() || !g.has_special_token(text)) return;
  for (const auto& s : f.stop_special) {
    if (s == text) return;
  }
  f.stop_special.push_back(text);
}

// Every line of `text` behind the comment marker.
std::string commented(const std::string& marker, std::string_view text) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    size_t nl = text.find('\n', i);
    if (nl == std::string_view::npos) nl = text.size();
    out += marker;
    if (nl > i) out += ' ';
    out.append(text.substr(i, nl - i));
    out += '\n';
    i = nl + 1;
  }
  return out;
}

}  // namespace

std::string line_comment(const std::string& language_id) {
  static const char* kHash[] = {"python", "shellscript", "sh", "bash", "ruby", "perl", "r", "yaml", "toml",
                                "makefile", "cmake", "dockerfile", "elixir", "julia", "nim", "powershell"};
  static const char* kDash[] = {"lua", "sql", "haskell", "ada", "elm"};
  for (const char* l : kHash) {
    if (language_id == l) return "#";
  }
  for (const char* l : kDash) {
    if (language_id == l) return "--";
  }
  if (language_id == "lisp" || language_id == "clojure" || language_id == "scheme") return ";;";
  if (language_id == "erlang" || language_id == "latex" || language_id == "tex") return "%";
  return "//";
}

FimFormat detect_fim_format(const Generator& generator) {
  FimFormat f;
  const SpecialTokenTexts special = generator.special_tokens();
  if (!special.fim_prefix.empty() && !special.fim_suffix.empty() && !special.fim_middle.empty()) {
    f.order = FimFormat::Order::kPsm;
    f.name = "gguf";
    f.prefix = special.fim_prefix;
    f.suffix = special.fim_suffix;
    f.middle = special.fim_middle;
    f.file_sep = special.fim_file_sep;
    add_stop(f, generator, special.fim_pad);
    add_stop(f, generator, special.fim_file_sep);
    add_stop(f, generator, special.fim_repo);
    add_stop(f, generator, special.eot);
    add_stop(f, generator, special.eos);
    return f;
  }
  for (const Family& fam : kFamilies) {
    if (!generator.has_special_token(fam.prefix) || !generator.has_special_token(fam.suffix) ||
        (fam.order == FimFormat::Order::kPsm && !generator.has_special_token(fam.middle))) {
      continue;
    }
    f.order = fam.order;
    f.name = fam.name;
    f.prefix = fam.prefix;
    f.suffix = fam.suffix;
    f.middle = fam.order == FimFormat::Order::kPsm ? fam.middle : "";
    if (generator.has_special_token(fam.file_sep)) f.file_sep = fam.file_sep;
    for (const char* s : fam.stops) {
      if (s != nullptr) add_stop(f, generator, s);
    }
    add_stop(f, generator, special.eot);
    add_stop(f, generator, special.eos);
    return f;
  }
  f.order = FimFormat::Order::kPrefixOnly;
  f.name = "prefix-only";
  return f;
}

Prompt render_prompt(const FimFormat& format, const CompletionContext& ctx) {
  Prompt p;
  std::string prefix_text;
  if (!format.file_sep.empty()) {
    for (const Snippet& s : ctx.snippets) {
      p.add_special(format.file_sep);
      p.add_text(s.path + "\n" + s.text + (s.text.empty() || s.text.back() == '\n' ? "" : "\n"));
    }
    if (!ctx.snippets.empty() && !ctx.path.empty()) {
      p.add_special(format.file_sep);
      p.add_text(ctx.path + "\n");
    }
  } else {
    const std::string marker = line_comment(ctx.language_id);
    for (const Snippet& s : ctx.snippets) {
      prefix_text += commented(marker, "Path: " + s.path);
      prefix_text += commented(marker, s.text);
      prefix_text += "\n";
    }
  }
  prefix_text += ctx.prefix;
  switch (format.order) {
    case FimFormat::Order::kPrefixOnly:
      p.add_text(std::move(prefix_text));
      break;
    case FimFormat::Order::kPsm:
      p.add_special(format.prefix);
      p.add_text(std::move(prefix_text));
      p.add_special(format.suffix);
      p.add_text(ctx.suffix);
      p.add_special(format.middle);
      break;
    case FimFormat::Order::kSpm:
      p.add_special(format.suffix);
      p.add_text(ctx.suffix);
      p.add_special(format.prefix);
      p.add_text(std::move(prefix_text));
      break;
  }
  return p;
}

}  // namespace moecode::assist
