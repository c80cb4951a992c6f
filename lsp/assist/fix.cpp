// Fixes and rewrites through the model, validated with tree-sitter (see fix.h).
#include "lsp/assist/fix.h"

#include <algorithm>

namespace moecode::assist {

namespace {

constexpr size_t kMaxTargetLines = 150;  // longer definitions: a window around the problem
constexpr size_t kWindowLines = 12;      // lines each side when there is no definition

size_t line_start(std::string_view text, size_t pos) {
  pos = std::min(pos, text.size());
  while (pos > 0 && text[pos - 1] != '\n') --pos;
  return pos;
}

size_t line_end(std::string_view text, size_t pos) {  // the '\n' (or the end) of pos's line
  const size_t e = text.find('\n', std::min(pos, text.size()));
  return e == std::string_view::npos ? text.size() : e;
}

int line_of(std::string_view text, size_t pos) {
  return 1 + static_cast<int>(std::count(text.begin(), text.begin() + static_cast<long>(std::min(pos, text.size())), '\n'));
}

// The byte offset where 1-based line `line` starts (the end of the text past the last line).
size_t offset_of_line(std::string_view text, int line) {
  size_t pos = 0;
  for (int l = 1; l < line && pos < text.size(); ++l) pos = line_end(text, pos) + 1;
  return std::min(pos, text.size());
}

std::string_view leading_ws(std::string_view line) {
  size_t i = 0;
  while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
  return line.substr(0, i);
}

// The indentation of the first non-blank line.
std::string first_indent(std::string_view code) {
  size_t pos = 0;
  while (pos < code.size()) {
    const size_t e = line_end(code, pos);
    const std::string_view line = code.substr(pos, e - pos);
    if (line.find_first_not_of(" \t\r") != std::string_view::npos) return std::string(leading_ws(line));
    pos = e + 1;
  }
  return "";
}

// Adds `extra` before every non-blank line.
std::string indent_by(std::string_view code, std::string_view extra) {
  std::string out;
  size_t pos = 0;
  while (pos < code.size()) {
    const size_t e = line_end(code, pos);
    const std::string_view line = code.substr(pos, e - pos);
    if (line.find_first_not_of(" \t\r") != std::string_view::npos) out += extra;
    out += line;
    if (e < code.size()) out += '\n';
    pos = e + 1;
  }
  return out;
}

std::string trim(std::string_view s) {
  const size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return "";
  const size_t e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

std::string with_crlf(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r')) out += '\r';
    out += s[i];
  }
  return out;
}

bool uses_crlf(std::string_view text) {
  const size_t nl = text.find('\n');
  return nl != std::string_view::npos && nl > 0 && text[nl - 1] == '\r';
}

struct Target {
  size_t start = 0;  // line start
  size_t end = 0;    // end of the last line (before its '\n')
  std::string label;
  std::string name;  // the enclosing definition's name ("" for a window or a selection)
};

Target choose_target(const FixRequest& req, std::string_view grammar, std::string_view text) {
  Target t;
  const size_t start = std::min(req.start, text.size());
  const size_t end = std::clamp(req.end, start, text.size());
  if (req.rewrite_selection) {
    t.start = line_start(text, start);
    // A selection that ends at the start of a line does not take that line.
    const size_t last = end > start && text[end - 1] == '\n' ? end - 1 : end;
    t.end = line_end(text, last > t.start ? last - 1 : last);
    t.label = "the selection (lines " + std::to_string(line_of(text, t.start)) + "-" +
              std::to_string(line_of(text, t.end)) + ")";
    return t;
  }
  if (auto def = enclosing_definition(grammar, text, start, end)) {
    const int first = line_of(text, def->span.start);
    const int last = line_of(text, def->span.end);
    if (static_cast<size_t>(last - first + 1) <= kMaxTargetLines) {
      t.start = def->span.start;
      t.end = line_end(text, def->span.end > 0 ? def->span.end - 1 : 0);
      t.label = def->kind + (def->name.empty() ? "" : " '" + def->name + "'") + " (lines " + std::to_string(first) +
                "-" + std::to_string(last) + ")";
      t.name = def->name;
      return t;
    }
  }
  // No definition (top-level code), or a huge one: a window of lines around the problem.
  const int line = line_of(text, start);
  const int last_line = line_of(text, text.size());
  const int from = std::max(1, line - static_cast<int>(kWindowLines));
  const int to = std::min(last_line, line_of(text, end) + static_cast<int>(kWindowLines));
  t.start = offset_of_line(text, from);
  t.end = line_end(text, offset_of_line(text, to));
  t.label = "lines " + std::to_string(from) + "-" + std::to_string(to);
  return t;
}

// Import statements at the head of the model's code that the file lacks, split off the code.
struct SplitCode {
  std::vector<std::string> new_imports;
  std::string code;
};

SplitCode split_imports(std::string_view grammar, std::string_view code, std::string_view file_text,
                        std::string_view target_text) {
  SplitCode out{{}, std::string(code)};
  auto units = top_level_units(grammar, code);
  if (!units.ok() || units->size() < 2 || (*units)[0].kind != SourceUnit::Kind::kImports) return out;
  // When the target itself starts with imports, the model's imports are part of it.
  auto target_units = top_level_units(grammar, target_text);
  if (target_units.ok() && !target_units->empty() && (*target_units)[0].kind == SourceUnit::Kind::kImports) return out;
  const ByteSpan imports = (*units)[0].span;
  size_t pos = imports.start;
  while (pos < imports.end) {
    const size_t e = line_end(code, pos);
    const std::string line = trim(code.substr(pos, e - pos));
    pos = e + 1;
    if (line.empty()) continue;
    // Already in the file (as a whole line): nothing to add.
    bool present = false;
    size_t p = 0;
    while (!present && p < file_text.size()) {
      const size_t fe = line_end(file_text, p);
      present = trim(file_text.substr(p, fe - p)) == line;
      p = fe + 1;
    }
    if (!present) out.new_imports.push_back(line);
  }
  size_t rest = (*units)[1].span.start;
  out.code = std::string(code.substr(rest));
  return out;
}

// Where new imports go: after the file's leading import block, else at the top (after a
// shebang line).
size_t import_insertion_point(std::string_view grammar, std::string_view text) {
  auto units = top_level_units(grammar, text);
  if (units.ok()) {
    for (const SourceUnit& u : *units) {
      if (u.kind == SourceUnit::Kind::kImports) {
        const size_t e = line_end(text, u.span.end > 0 ? u.span.end - 1 : 0);
        return e < text.size() ? e + 1 : text.size();
      }
    }
  }
  if (text.starts_with("#!")) {
    const size_t e = line_end(text, 0);
    return e < text.size() ? e + 1 : text.size();
  }
  return 0;
}

Error refusal(const std::string& why) { return make_error(ErrorCode::kUnavailable, why); }

}  // namespace

Fixer::Fixer(Generator& generator, ContextProvider* provider) : generator_(generator), provider_(provider) {}

Result<FixResult> Fixer::fix(const FixRequest& req, const CancelToken& cancel) {
  if (!req.text) return make_error(ErrorCode::kInvalidArgument, "fix request without text");
  const std::string_view text = *req.text;
  if (req.start > text.size() || req.end > text.size() || req.end < req.start) {
    return make_error(ErrorCode::kInvalidArgument, "the range " + std::to_string(req.start) + "-" +
                                                       std::to_string(req.end) + " is outside the document (" +
                                                       std::to_string(text.size()) + " bytes)");
  }
  const std::string grammar = grammar_for(req.language_id, req.path);
  if (grammar.empty()) {
    return make_error(ErrorCode::kUnsupported, "moecode cannot check '" + req.language_id +
                                                   "' code (no grammar), so it does not fix it");
  }
  const std::string lang = language_display_name(grammar);
  // Prompts name the file as the user sees it in the workspace, never by an absolute path.
  const std::string shown = !req.display_path.empty() ? req.display_path
                            : req.path.empty()        ? std::string("the file")
                                                      : req.path.substr(req.path.find_last_of('/') + 1);
  MOE_TRY(const SyntaxReport before, check_syntax(grammar, text));
  const Target target = choose_target(req, grammar, text);
  const std::string target_text(text.substr(target.start, target.end - target.start));
  const int diag_line = line_of(text, req.start);

  // Definitions the code uses, from other files (the packer's definitions and outlines).
  std::string context;
  if (provider_ && req.context_budget > 0) {
    ContextRequest creq;
    creq.uri = req.uri;
    creq.path = req.path;
    creq.language_id = req.language_id;
    creq.text = req.text;
    creq.cursor = req.start;
    creq.token_budget = req.context_budget;
    auto gathered = provider_->gather(creq, [this](std::string_view s) { return generator_.count_tokens(s); }, cancel);
    if (gathered.ok()) {
      for (const Snippet& s : gathered->snippets) context += s.text + (s.text.ends_with('\n') ? "" : "\n");
    }
  }
  // The file's imports, when the target is not at the top: names come from there.
  if (auto units = top_level_units(grammar, text); units.ok() && !units->empty()) {
    const SourceUnit& first = (*units)[0];
    if (first.kind == SourceUnit::Kind::kImports && first.span.end <= target.start) {
      context = std::string(text.substr(first.span.start, first.span.end - first.span.start)) + "\n" + context;
    }
  }

  std::string task;
  if (!req.instruction.empty()) {
    task = "Rewrite this " + lang + " code (" + target.label + " of " +
           shown + ") as follows: " + req.instruction + "\n";
  } else {
    task = "Fix this problem in " + shown + ", line " +
           std::to_string(diag_line) + ": " + (req.message.empty() ? std::string("the code is wrong") : req.message) +
           "\n";
  }
  std::string user;
  if (!trim(context).empty()) user += "Code it uses:\n```" + grammar + "\n" + trim(context) + "\n```\n\n";
  user += task + "\n```" + grammar + "\n" + target_text + "\n```\n\nAnswer with the corrected code in one ```" +
          grammar + " block.";
  std::vector<ChatMessage> messages = {
      {"system", "You are an expert " + lang +
                     " programmer. You fix code. Reply with the whole corrected code in a single fenced code block, "
                     "changing only what the task needs."},
      {"user", user}};

  const bool english_context = !has_cjk(text);
  FixResult result;
  result.problems_before = before.n_problems();
  result.target = target.label;
  result.title = !req.instruction.empty() ? "Rewrite " + target.label
                 : req.message.empty()    ? "Fix line " + std::to_string(diag_line)
                                          : "Fix: " + req.message.substr(0, 80);
  AskOptions ask_options;
  ask_options.generation.max_tokens = req.max_tokens;
  ask_options.generation.temperature = req.temperature;

  std::string last_refusal;
  bool resampled = false;
  for (int attempt = 0; attempt < 3; ++attempt) {
    ++result.n_attempts;
    MOE_TRY(Answer answer, ask(generator_, messages, ask_options, cancel));
    result.generation = answer.generation;
    if (!answer.reasoning.empty()) result.reasoning = answer.reasoning;
    if (answer.looped) return refusal("the model repeated itself (" + answer.loop + "); no fix");
    std::optional<CodeBlock> block = pick_code(answer.text, grammar);
    if (!block) {
      last_refusal = "the model's answer holds no code";
      result.notes.push_back(last_refusal);
      if (attempt >= 1) break;
      messages.push_back({"assistant", answer.text});
      messages.push_back({"user", "Answer with the corrected code in one ```" + grammar + " block."});
      continue;
    }
    if (english_context) {
      if (auto foreign = cjk_in_code(grammar, block->code)) {
        last_refusal = "the model wrote CJK characters in code (line " + std::to_string(foreign->line) + ": " +
                       foreign->fragment + ")";
        result.notes.push_back(last_refusal);
        if (resampled) break;
        resampled = true;  // once, sampled rather than greedy
        ask_options.generation.temperature = std::max(0.7f, req.temperature);
        ask_options.generation.seed = 0x5eed + static_cast<uint64_t>(attempt);
        continue;
      }
    }
    // A fix of a definition must still define it: prose, a stub or another function is no fix.
    if (!target.name.empty() && !req.rewrite_selection) {
      auto names = top_level_names(grammar, block->code);
      auto units = top_level_units(grammar, block->code);
      bool defines = names.ok() && std::find(names->begin(), names->end(), target.name) != names->end();
      if (!defines && units.ok()) {
        for (const SourceUnit& u : *units) defines = defines || u.name == target.name;
      }
      // A method answered with its class, or alone: the name may sit one level down.
      if (!defines) defines = block->code.find(target.name) != std::string::npos && names.ok() && names->empty();
      if (!defines) {
        last_refusal = "the model's answer does not define '" + target.name + "'";
        result.notes.push_back(last_refusal);
        if (attempt >= 1) break;
        messages.push_back({"assistant", answer.text});
        messages.push_back({"user", "Answer with the whole corrected definition of '" + target.name + "' in one ```" +
                                        grammar + " block."});
        continue;
      }
    }
    SplitCode split = split_imports(grammar, block->code, text, target_text);
    std::string code = split.code;
    // Indentation: a method the model wrote at column 0 goes back to its class's depth.
    const std::string want = first_indent(target_text);
    const std::string got = first_indent(code);
    if (got.size() < want.size() && std::string_view(want).ends_with(got)) {
      code = indent_by(code, want.substr(0, want.size() - got.size()));
    }
    while (!code.empty() && (code.back() == '\n' || code.back() == '\r')) code.pop_back();
    if (uses_crlf(text)) code = with_crlf(code);

    std::vector<TextEdit> edits = diff_lines(target_text, code, target.start);
    if (!split.new_imports.empty()) {
      std::string imports;
      for (const std::string& line : split.new_imports) imports += line + (uses_crlf(text) ? "\r\n" : "\n");
      const size_t at = import_insertion_point(grammar, text);
      if (at <= target.start) {
        edits.insert(edits.begin(), TextEdit{at, at, imports});
        // Two edits at the same point: merge them (the import block first).
        if (edits.size() > 1 && edits[1].start == at) {
          edits[0].end = edits[1].end;
          edits[0].new_text += edits[1].new_text;
          edits.erase(edits.begin() + 1);
        }
      }
    }
    // An answer that is the whole file (small models often repeat it all): its diff against
    // the file is the smaller edit.
    const auto n_lines = [](std::string_view s) { return std::count(s.begin(), s.end(), '\n') + 1; };
    std::string whole = block->code;
    while (!whole.empty() && (whole.back() == '\n' || whole.back() == '\r')) whole.pop_back();
    if (n_lines(whole) > n_lines(target_text) * 3 / 2 + 3 && target_text.size() < text.size()) {
      if (text.ends_with('\n')) whole += '\n';
      if (uses_crlf(text)) whole = with_crlf(whole);
      std::vector<TextEdit> file_edits = diff_lines(text, whole, 0);
      size_t changed_file = 0, changed_target = 0;
      for (const TextEdit& e : file_edits) changed_file += e.end - e.start + e.new_text.size();
      for (const TextEdit& e : edits) changed_target += e.end - e.start + e.new_text.size();
      if (changed_file < changed_target) edits = std::move(file_edits);
    }
    // A fix that throws most of the code away is not a fix (a model that answered with one
    // function of the window it was given, or with a stub): nothing the user wrote is lost.
    if (req.instruction.empty()) {
      const auto code_lines = [](std::string_view s) {
        size_t n = 0;
        size_t pos = 0;
        while (pos < s.size()) {
          size_t e = s.find('\n', pos);
          if (e == std::string_view::npos) e = s.size();
          if (s.substr(pos, e - pos).find_first_not_of(" \t\r") != std::string_view::npos) ++n;
          pos = e + 1;
        }
        return n;
      };
      size_t removed = 0;
      for (const TextEdit& e : edits) {
        removed += code_lines(text.substr(e.start, e.end - e.start)) - std::min(code_lines(text.substr(e.start, e.end - e.start)), code_lines(e.new_text));
      }
      // A definition may well shrink (a loop becomes a call); a window of lines the model was
      // told to return whole may not.
      const size_t before_lines = code_lines(target_text);
      const bool window = target.label.starts_with("lines ");
      if (before_lines >= 4 && (window ? removed * 2 > before_lines : removed * 4 > before_lines * 3)) {
        last_refusal = "the model's answer drops " + std::to_string(removed) + " of the " +
                       std::to_string(before_lines) + " lines of " + target.label;
        result.notes.push_back(last_refusal);
        if (attempt >= 1) break;
        messages.push_back({"assistant", answer.text});
        messages.push_back({"user", "Keep all the other code: answer with the complete corrected code, all " +
                                        std::to_string(before_lines) + " lines, in one ```" + grammar + " block."});
        continue;
      }
    }
    if (edits.empty()) {
      last_refusal = "the model returned the code unchanged";
      result.notes.push_back(last_refusal);
      if (attempt >= 1) break;
      messages.push_back({"assistant", answer.text});
      messages.push_back({"user", "That is the same code: the problem is still there. Fix it."});
      continue;
    }
    std::string new_text = apply_edits(text, edits);
    MOE_TRY(const SyntaxReport after, check_syntax(grammar, new_text));
    if (after.n_problems() > before.n_problems()) {
      last_refusal = "the model's edit does not parse (" + std::to_string(after.n_problems()) +
                     " syntax problems, " + std::to_string(before.n_problems()) + " before; " + after.first_problem + ")";
      result.notes.push_back(last_refusal);
      if (attempt >= 1) break;
      // Once more, with what the parser says.
      auto own = check_syntax(grammar, code);
      const std::string where = own.ok() && !own->first_problem.empty() ? own->first_problem : after.first_problem;
      messages.push_back({"assistant", answer.text});
      messages.push_back({"user", "Your code has a syntax error (" + where + "). Answer again with valid " + lang +
                                      " in one ```" + grammar + " block."});
      continue;
    }
    result.edits = std::move(edits);
    result.new_text = std::move(new_text);
    result.problems_after = after.n_problems();
    return result;
  }
  return refusal(last_refusal.empty() ? "no acceptable fix" : last_refusal);
}

}  // namespace moecode::assist
