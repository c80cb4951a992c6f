// `moecode fix FILE --line N [--end-line M] [--message TEXT] [--instruction TEXT] [--apply] [--json]`:
// asks the model to fix the problem on line N (a compiler's or linter's message, or "the code on
// this line is wrong"), within the enclosing definition, with the definitions it uses from the
// workspace as context. Prints the edit as a unified diff (or JSON); --apply writes it to the
// file (atomically, only inside the workspace). Exit codes: 0 an edit (applied with --apply),
// 1 no acceptable fix (the reason on stderr), 2 bad arguments or files.
//   --json: {"file","target","title","edits":[{"range":{"start":{"line","character"},"end":...},
//            "newText"}],"problemsBefore","problemsAfter","attempts","notes","applied","diff"}
//   (lines and characters from 0, characters in bytes).
#include <cstdio>
#include <filesystem>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "lsp/assist/fix.h"
#include "lsp/cli/assist_args.h"
#include "lsp/cli/commands.h"

namespace moecode::cli {

namespace {

struct FixArgs {
  AssistArgs assist;
  std::string file;
  int line = 0;
  int end_line = 0;
  std::string message;
  std::string instruction;
  bool apply = false;
  bool json = false;
};

// The byte offsets of the start of 1-based line `line` and the end of line `end_line`.
Result<std::pair<size_t, size_t>> line_range(const std::string& text, int line, int end_line, const std::string& file) {
  size_t pos = 0;
  int l = 1;
  for (; l < line && pos <= text.size(); ++l) {
    const size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) {
      return make_error(ErrorCode::kOutOfRange, fmt::format("line {} is past the end of '{}' ({} lines)", line, file, l));
    }
    pos = nl + 1;
  }
  size_t start = pos;
  while (start < text.size() && (text[start] == ' ' || text[start] == '\t')) ++start;  // the code, not its indent
  size_t end = pos;
  for (; l <= end_line; ++l) {
    const size_t nl = text.find('\n', end);
    end = nl == std::string::npos ? text.size() : nl;
    if (l < end_line) {
      if (nl == std::string::npos) break;
      end = nl + 1;
    }
  }
  return std::make_pair(std::min(start, end), end);
}

nlohmann::json position_json(const std::string& text, size_t offset) {
  size_t line = 0;
  size_t line_start = 0;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  }
  return {{"line", line}, {"character", offset - line_start}};
}

void run_fix(const FixArgs& a) {
  auto fail = [](int code, const std::string& msg) {
    fmt::print(stderr, "moecode fix: {}\n", msg);
    exit_code() = code;
  };
  auto text = read_source_file(a.file);
  if (!text.ok()) return fail(2, text.error().message());
  auto root = workspace_root(a.assist, a.file);
  if (!root.ok()) return fail(2, root.error().message());
  auto path = path_inside(*root, a.file);
  if (a.apply && !path.ok()) return fail(2, path.error().message());
  const int end_line = a.end_line > 0 ? a.end_line : a.line;
  if (end_line < a.line) return fail(2, fmt::format("--end-line {} is before --line {}", end_line, a.line));
  auto range = line_range(*text, a.line, end_line, a.file);
  if (!range.ok()) return fail(2, range.error().message());

  auto generator = make_generator(a.assist);
  if (!generator.ok()) return fail(2, generator.error().message());
  std::unique_ptr<assist::ContextProvider> provider;
  if (!a.assist.no_context && path.ok()) {
    auto indexed = index_workspace(*root, /*verbose=*/false);
    if (indexed.ok()) {
      provider = std::move(*indexed);
    } else {
      fmt::print(stderr, "moecode fix: no repository context: {}\n", indexed.error().message());
    }
  }

  assist::FixRequest req;
  req.path = path.ok() ? *path : a.file;
  if (path.ok()) req.display_path = std::filesystem::path(*path).lexically_relative(*root).string();
  req.language_id = assist::grammar_for("", a.file);
  req.text = std::make_shared<const std::string>(*text);
  req.start = range->first;
  req.end = range->second;
  req.message = a.message;
  req.instruction = a.instruction;
  req.rewrite_selection = !a.instruction.empty() && a.end_line > 0;
  if (a.assist.max_tokens > 0) req.max_tokens = a.assist.max_tokens;
  req.temperature = a.assist.temperature;
  assist::Fixer fixer(**generator, provider.get());
  auto result = fixer.fix(req, engine::CancelToken());
  if (!result.ok()) return fail(result.error().code() == ErrorCode::kUnavailable ? 1 : 2, result.error().message());
  if (a.assist.show_reasoning && !result->reasoning.empty()) {
    fmt::print(stderr, "--- reasoning ---\n{}\n--- end of reasoning ---\n", result->reasoning);
  }
  const std::string diff = assist::unified_diff(a.file, *text, result->new_text);
  bool applied = false;
  if (a.apply) {
    if (auto st = write_file_atomic(*path, result->new_text); !st.ok()) return fail(2, st.error().message());
    applied = true;
  }
  if (a.json) {
    nlohmann::json edits = nlohmann::json::array();
    for (const auto& e : result->edits) {
      edits.push_back({{"range", {{"start", position_json(*text, e.start)}, {"end", position_json(*text, e.end)}}},
                       {"newText", e.new_text}});
    }
    const nlohmann::json out = {{"file", a.file},
                                {"target", result->target},
                                {"title", result->title},
                                {"edits", edits},
                                {"problemsBefore", result->problems_before},
                                {"problemsAfter", result->problems_after},
                                {"attempts", result->n_attempts},
                                {"notes", result->notes},
                                {"applied", applied},
                                {"diff", diff}};
    fmt::print("{}\n", out.dump(2));
  } else {
    fmt::print("{}", diff);
    fmt::print(stderr, "moecode fix: {} ({}, {} {}){}\n", result->title, result->target, result->edits.size(),
               result->edits.size() == 1 ? "edit" : "edits", applied ? ": applied" : "; --apply writes it");
  }
  exit_code() = 0;
}

}  // namespace

void add_fix_command(CLI::App& app) {
  auto args = std::make_shared<FixArgs>();
  CLI::App* cmd = app.add_subcommand("fix", "Fix the problem on a line with the model (prints a diff; --apply writes it)");
  cmd->add_option("file", args->file, "Source file")->required();
  cmd->add_option("--line,-l", args->line, "Line of the problem (from 1)")->required()->check(CLI::Range(1, 1 << 30));
  cmd->add_option("--end-line", args->end_line, "Last line of the problem or selection")->check(CLI::Range(1, 1 << 30));
  cmd->add_option("--message", args->message, "The diagnostic (e.g. \"undefined name 'math'\")");
  cmd->add_option("--instruction", args->instruction,
                  "Rewrite instead of fix: what to do with the code (with --end-line: only those lines)");
  cmd->add_flag("--apply", args->apply, "Write the fix to the file");
  cmd->add_flag("--json", args->json, "Print the result as JSON");
  add_assist_options(cmd, args->assist);
  cmd->callback([args] { run_fix(*args); });
}

}  // namespace moecode::cli
