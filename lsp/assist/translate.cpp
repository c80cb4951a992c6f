// Unit-by-unit translation, validated with the target grammar (see translate.h).
#include "lsp/assist/translate.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "lsp/assist/fim.h"

namespace moecode::assist {

namespace {

std::string trim(std::string_view s) {
  const size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return "";
  const size_t e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// `code` with each line commented out with `marker`.
std::string commented(std::string_view code, const std::string& marker) {
  std::string out;
  size_t pos = 0;
  while (pos < code.size()) {
    size_t e = code.find('\n', pos);
    if (e == std::string_view::npos) e = code.size();
    const std::string_view line = code.substr(pos, e - pos);
    out += marker + (line.empty() ? "" : " ") + std::string(line) + "\n";
    pos = e + 1;
  }
  return out;
}

// The last `budget` tokens' worth of `text`, cut at a line start.
std::string tail_within(const Generator& g, const std::string& text, int budget) {
  if (budget <= 0) return "";
  if (g.count_tokens(text) <= budget) return text;
  size_t lo = 0;
  size_t hi = text.size();
  while (lo < hi) {  // the smallest start whose tail fits
    const size_t mid = lo + (hi - lo) / 2;
    if (g.count_tokens(std::string_view(text).substr(mid)) <= budget) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  const size_t nl = text.find('\n', lo);
  return nl == std::string::npos ? "" : text.substr(nl + 1);
}

}  // namespace

std::string target_grammar(std::string_view name) {
  const std::string n = lower(trim(name));
  static const std::vector<std::pair<std::string_view, std::string_view>> kNames = {
      {"js", "javascript"},   {"node", "javascript"}, {"nodejs", "javascript"}, {"ts", "typescript"},
      {"py", "python"},       {"python3", "python"},  {"c++", "cpp"},           {"cxx", "cpp"},
      {"golang", "go"},       {"rs", "rust"},         {"c#", "c_sharp"},        {"cs", "c_sharp"},
      {"csharp", "c_sharp"},  {"rb", "ruby"},         {"sh", "bash"},           {"shell", "bash"}};
  for (const auto& [alias, grammar] : kNames) {
    if (n == alias) return std::string(grammar);
  }
  return grammar_for(n);
}

Translator::Translator(Generator& generator) : generator_(generator) {}

Result<TranslateResult> Translator::translate(const TranslateRequest& req, const CancelToken& cancel,
                                              const TranslateProgress& progress) {
  TranslateResult result;
  result.source_grammar = grammar_for(req.language_id, req.path);
  if (result.source_grammar.empty()) {
    return make_error(ErrorCode::kUnsupported,
                      "moecode has no grammar for the source '" + (req.path.empty() ? req.language_id : req.path) + "'");
  }
  result.target_grammar = target_grammar(req.target);
  if (result.target_grammar.empty()) {
    return make_error(ErrorCode::kUnsupported, "moecode has no grammar for the target language '" + req.target + "'");
  }
  const std::string src = result.source_grammar;
  const std::string dst = result.target_grammar;
  const std::string src_name = language_display_name(src);
  const std::string dst_name = language_display_name(dst);
  const std::string marker = line_comment(dst);

  MOE_TRY(std::vector<SourceUnit> units, top_level_units(src, req.text));
  const bool english_context = !has_cjk(req.text);
  const std::string system = "You translate " + src_name + " code to " + dst_name +
                             ". Reply with only the " + dst_name + " code, in one ```" + dst +
                             " block. Keep the names, the comments and the behaviour.";
  AskOptions base;
  base.generation.max_tokens = req.max_tokens_per_unit;
  base.generation.temperature = req.temperature;

  std::string translated;  // the output so far
  std::string context;     // what the model sees of it: the units it translated
  std::set<std::string> declared;  // top-level names the translation declares so far
  for (size_t i = 0; i < units.size(); ++i) {
    if (cancel.cancelled()) return make_error(ErrorCode::kCancelled, "translation cancelled");
    const SourceUnit& u = units[i];
    TranslatedUnit out;
    out.kind = unit_kind_name(u.kind);
    out.name = u.name;
    out.first_line = u.first_line;
    out.last_line = u.last_line;
    if (progress) progress(i, units.size(), out);
    const std::string source = trim(std::string_view(req.text).substr(u.span.start, u.span.end - u.span.start));

    std::string user;
    const std::string so_far = tail_within(generator_, context, req.context_tokens);
    if (!trim(so_far).empty()) {
      user += "The " + dst_name + " translation so far:\n```" + dst + "\n" + trim(so_far) + "\n```\n\n";
    }
    user += "Translate this " + src_name + " " +
            (u.kind == SourceUnit::Kind::kImports ? std::string("import block")
                                                  : u.kind == SourceUnit::Kind::kDefinition ? "definition" : "code") +
            " to " + dst_name + ":\n```" + src + "\n" + source + "\n```";
    std::vector<ChatMessage> messages = {{"system", system}, {"user", user}};
    AskOptions ask_options = base;
    bool resampled = false;
    for (int attempt = 0; attempt < 3 && !out.ok; ++attempt) {
      ++out.attempts;
      MOE_TRY(Answer answer, ask(generator_, messages, ask_options, cancel));
      result.n_prompt_tokens += answer.generation.n_prompt_tokens;
      result.n_generated_tokens += answer.generation.n_generated_tokens;
      if (!answer.reasoning.empty()) result.reasoning += answer.reasoning + "\n";
      if (answer.looped) {
        out.error = "the model repeated itself (" + answer.loop + ")";
        break;
      }
      std::optional<CodeBlock> block = pick_code(answer.text, dst);
      if (!block) {
        if (u.kind == SourceUnit::Kind::kImports) {  // nothing to import in the target: fine
          out.ok = true;
          break;
        }
        out.error = "the model's answer holds no code";
        if (attempt >= 1) break;
        messages.push_back({"assistant", answer.text});
        messages.push_back({"user", "Answer with the " + dst_name + " code in one ```" + dst + " block."});
        continue;
      }
      const std::string code = trim(block->code);
      if (english_context) {
        if (auto foreign = cjk_in_code(dst, code)) {
          out.error = "the model wrote CJK characters in code (line " + std::to_string(foreign->line) + ": " +
                      foreign->fragment + ")";
          if (resampled) break;
          resampled = true;
          ask_options.generation.temperature = std::max(0.7f, req.temperature);
          ask_options.generation.seed = 0x5eed + i;
          continue;
        }
      }
      MOE_TRY(const SyntaxReport check, check_syntax(dst, code));
      if (!check.clean()) {
        out.error = "the translation does not parse as " + dst_name + " (" + check.first_problem + ")";
        if (attempt >= 1) break;
        messages.push_back({"assistant", answer.text});
        messages.push_back({"user", "Your " + dst_name + " code does not parse: " + check.first_problem +
                                        ". Answer again with valid " + dst_name + " in one ```" + dst + " block."});
        continue;
      }
      // A name declared twice at the top level is an error in most languages (and a sign
      // that the model repeated an earlier unit): the unit is asked again without it.
      if (auto names = top_level_names(dst, code); names.ok()) {
        std::string again;
        for (const std::string& name : *names) {
          if (declared.count(name) && again.find("'" + name + "'") == std::string::npos) {
            again += (again.empty() ? "'" : ", '") + name + "'";
          }
        }
        if (!again.empty() && dst != "python" && dst != "ruby" && dst != "lua" && dst != "bash") {
          out.error = "the translation declares " + again + " again (declared above)";
          if (attempt >= 1) break;
          messages.push_back({"assistant", answer.text});
          messages.push_back({"user", again + " is already declared above. Answer again with only this code's "
                                      "translation, without declaring " + again + " again, in one ```" + dst + " block."});
          continue;
        }
      }
      out.ok = true;
      out.error.clear();
      out.code = code;
    }
    if (out.ok) {
      if (auto names = top_level_names(dst, out.code); names.ok()) declared.insert(names->begin(), names->end());
      if (!out.code.empty()) {
        translated += out.code + "\n\n";
        context += out.code + "\n\n";
      }
    } else {
      ++result.n_failed;
      translated += marker + " moecode: could not translate " + out.kind + (out.name.empty() ? "" : " '" + out.name + "'") +
                    " (" + (req.path.empty() ? std::string("lines ") : req.path + ":") +
                    std::to_string(out.first_line) + "-" + std::to_string(out.last_line) + "): " + out.error + "\n" +
                    commented(source, marker) + "\n";
    }
    result.units.push_back(std::move(out));
  }
  while (translated.ends_with("\n\n")) translated.pop_back();
  result.code = std::move(translated);
  MOE_TRY(result.syntax, check_syntax(dst, result.code));
  return result;
}

}  // namespace moecode::assist
