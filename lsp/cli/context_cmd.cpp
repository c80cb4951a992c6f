// `moecode context FILE:LINE:COL [--root DIR] [--budget N] [--json]`: indexes the root
// (default: the git work tree around FILE, else the current directory), packs the context
// for a cursor at LINE:COL (1-based, COL in bytes, as compiler messages count) and prints
// it with per-section token counts and timing, or as JSON:
//   {"tokens":N,"budget":B,"snippets":[{"path","start_line","end_line","section","tokens"}],
//    "prompt":"..."}
// Token counts come from the model's tokenizer (-m, $MOECODE_MODEL, or the default model).
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "lsp/cli/commands.h"
#include "lsp/cli/model_path.h"
#include "lsp/context/context.h"
#include "lsp/workspace/index.h"
#include "lsp/workspace/ignore.h"
#include "moecode/engine/model.h"
#include "moecode/engine/tokenizer.h"

namespace moecode::cli {

namespace {

struct ContextArgs {
  std::string location;  // FILE:LINE:COL
  std::string root;
  size_t budget = 0;
  bool json = false;
  std::string model;
  std::vector<std::string> recent;
  std::string file_sep;
  bool no_cache = false;
};

struct Location {
  std::string file;
  uint32_t line = 0;  // 1-based
  uint32_t col = 0;   // 1-based
};

Result<Location> parse_location(const std::string& s) {
  const size_t c2 = s.rfind(':');
  const size_t c1 = c2 == std::string::npos || c2 == 0 ? std::string::npos : s.rfind(':', c2 - 1);
  auto bad = [&] {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("location '{}' is not FILE:LINE:COL (LINE and COL count from 1)", s));
  };
  if (c1 == std::string::npos || c1 == 0) return bad();
  Location loc;
  loc.file = s.substr(0, c1);
  try {
    size_t n1 = 0, n2 = 0;
    const std::string ls = s.substr(c1 + 1, c2 - c1 - 1), cs = s.substr(c2 + 1);
    const long line = std::stol(ls, &n1), col = std::stol(cs, &n2);
    if (n1 != ls.size() || n2 != cs.size() || line < 1 || col < 1 || line > 100000000 || col > 100000000) return bad();
    loc.line = static_cast<uint32_t>(line);
    loc.col = static_cast<uint32_t>(col);
  } catch (const std::exception&) {
    return bad();
  }
  return loc;
}

std::string absolute_path(const std::string& p) {
  if (!p.empty() && p[0] == '/') return p;
  char buf[4096];
  const char* cwd = ::getcwd(buf, sizeof buf);
  return std::string(cwd ? cwd : ".") + "/" + p;
}

std::string parent_dir(const std::string& p) {
  const size_t s = p.find_last_of('/');
  return s == std::string::npos ? "." : (s == 0 ? "/" : p.substr(0, s));
}

// The byte offset of 1-based (line, col); COL past the end of the line means its end.
Result<uint32_t> cursor_offset(const std::string& text, const Location& loc) {
  size_t b = 0;
  for (uint32_t l = 1; l < loc.line; ++l) {
    const size_t nl = text.find('\n', b);
    if (nl == std::string::npos) {
      return make_error(ErrorCode::kOutOfRange,
                        fmt::format("line {} is past the end of '{}' ({} lines)", loc.line, loc.file, l));
    }
    b = nl + 1;
  }
  size_t e = text.find('\n', b);
  if (e == std::string::npos) e = text.size();
  return static_cast<uint32_t>(std::min(b + loc.col - 1, e));
}

struct Counter {
  std::unique_ptr<context::TokenCounter> counter;
  std::string file_sep;  // the model's file-separator token text, if it has one
  size_t n_ctx = 0;      // the model's training context (0: unknown)
  std::string note;
};

// The model's repo-level file separator: its FIM separator token (tokenizer.ggml.
// fim_sep_token_id), else a control token spelled "<|file_sep|>" (Qwen2.5-Coder) or
// "<file_sep>" (StarCoder2 and its vocabulary's descendants). Empty: none.
std::string model_file_separator(const engine::Tokenizer& tok) {
  if (tok.special().fim_sep != engine::kNoToken) return tok.piece(tok.special().fim_sep);
  for (const char* text : {"<|file_sep|>", "<file_sep>"}) {
    const engine::Token t = tok.find_token(text);
    if (t != engine::kNoToken && tok.is_special(t)) return text;
  }
  return {};
}

// Exact counts from the model's tokenizer whenever a model is given or installed (-m,
// $MOECODE_MODEL, models/default.gguf, the cache). Only when there is no model at all do
// counts fall back to the heuristic estimator (with a note on stderr). A model that is
// there but cannot be read is an error.
Result<Counter> make_counter(const std::string& model_arg) {
  Counter c;
  auto path = resolve_model_path(model_arg);
  if (!path.ok()) {
    c.counter = std::make_unique<context::HeuristicCounter>();
    c.note = fmt::format("estimated token counts, not exact for any model ({})", path.error().message());
    return c;
  }
  auto tok = engine::Tokenizer::load(*path);
  if (!tok.ok()) {
    return make_error(tok.error().code(),
                      fmt::format("cannot load the tokenizer of '{}': {}", *path, tok.error().message()));
  }
  if (auto summary = engine::inspect_model(*path); summary.ok()) {
    for (const auto& [key, value] : summary->hparams) {
      if (key == "context_length") {
        if (auto* u = std::get_if<uint64_t>(&value.scalar)) c.n_ctx = *u;
        if (auto* i = std::get_if<int64_t>(&value.scalar)) c.n_ctx = static_cast<size_t>(*i);
      }
    }
  }
  c.file_sep = model_file_separator(**tok);
  std::string name = *path;
  if (const size_t slash = name.find_last_of('/'); slash != std::string::npos) name = name.substr(slash + 1);
  c.counter = std::make_unique<context::TokenizerCounter>(std::move(tok).value(), "tokenizer of " + name);
  return c;
}

int run_context(const ContextArgs& args) {
  auto loc = parse_location(args.location);
  if (!loc.ok()) {
    fmt::print(stderr, "moecode context: {}\n", loc.error().message());
    return 2;
  }
  std::ifstream in(loc->file, std::ios::binary);
  if (!in) {
    fmt::print(stderr, "moecode context: cannot read '{}'\n", loc->file);
    return 1;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  auto cursor = cursor_offset(text, *loc);
  if (!cursor.ok()) {
    fmt::print(stderr, "moecode context: {}\n", cursor.error().message());
    return 1;
  }
  const std::string file_abs = absolute_path(loc->file);
  std::string root = args.root;
  if (root.empty()) root = workspace::enclosing_git_worktree(parent_dir(file_abs));
  if (root.empty()) root = ".";

  auto made = make_counter(args.model);
  if (!made.ok()) {
    fmt::print(stderr, "moecode context: {}\n", made.error().message());
    return 1;
  }
  Counter counter = std::move(made).value();

  const auto t0 = std::chrono::steady_clock::now();
  workspace::IndexOptions index_options;
  if (!args.no_cache) index_options.cache = workspace::ShardCache::open_default();
  auto index = workspace::SymbolIndex::create({root}, index_options);
  if (!index.ok()) {
    fmt::print(stderr, "moecode context: {}\n", index.error().message());
    return 1;
  }
  auto stats = (*index)->build();
  if (!stats.ok()) {
    fmt::print(stderr, "moecode context: {}\n", stats.error().message());
    return 1;
  }
  const double index_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();

  context::ContextOptions opts;
  if (counter.n_ctx > 0) opts.default_budget = context::default_budget(counter.n_ctx);
  context::ContextEngine engine(**index, *counter.counter, opts);
  context::ContextRequest req;
  req.path = file_abs;
  req.text = text;
  req.cursor_byte = *cursor;
  req.budget_tokens = args.budget;
  for (const auto& r : args.recent) req.recent.push_back({absolute_path(r), std::nullopt});
  const std::string sep = !args.file_sep.empty() ? args.file_sep : counter.file_sep;
  req.format = sep.empty() ? context::SnippetFormat::comments() : context::SnippetFormat::separator(sep);
  auto packed = engine.pack(req);
  if (!packed.ok()) {
    fmt::print(stderr, "moecode context: {}\n", packed.error().message());
    return 1;
  }
  const context::PackedContext& p = *packed;
  std::vector<context::Snippet> all = p.snippets;
  all.push_back(p.cursor_snippet(engine.counter()));
  const std::string prompt = p.prompt();

  if (args.json) {
    nlohmann::ordered_json snippets = nlohmann::ordered_json::array();
    for (const auto& s : all) {
      nlohmann::ordered_json o;
      o["path"] = s.path;
      o["start_line"] = s.start_line;
      o["end_line"] = s.end_line;
      o["section"] = context::section_name(s.section);
      o["tokens"] = s.tokens;
      snippets.push_back(std::move(o));
    }
    nlohmann::ordered_json j;
    j["tokens"] = p.tokens;
    j["budget"] = p.budget;
    j["snippets"] = snippets;
    j["prompt"] = prompt;
    fmt::print("{}\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  } else {
    fmt::print("context for {}:{}:{} (root {})\n", p.cursor_path, loc->line, loc->col, (*index)->roots()[0]);
    fmt::print("budget {} tokens, packed {} tokens; tokenizer: {}\n", p.budget, p.tokens, engine.counter().name());
    fmt::print("{:<11} {:>8} {:>8} {:>9}\n", "section", "snippets", "tokens", "ms");
    for (size_t s = 0; s < context::kNumSections; ++s) {
      size_t n = 0;
      for (const auto& snip : all) n += static_cast<size_t>(snip.section) == s ? 1 : 0;
      fmt::print("{:<11} {:>8} {:>8} {:>9.2f}\n", context::section_name(static_cast<context::Section>(s)), n,
                 p.section_tokens[s], p.section_ms[s]);
    }
    fmt::print("index: {} files in {:.1f} ms; packing: {:.2f} ms\n", stats->n_files, index_ms, p.total_ms);
    fmt::print("snippets:\n");
    for (const auto& s : all) {
      fmt::print("  {:<10} {}:{}-{} ({} tokens)\n", context::section_name(s.section), s.path, s.start_line,
                 s.end_line, s.tokens);
    }
    fmt::print("----- prompt -----\n{}", prompt);
    if (!prompt.empty() && prompt.back() != '\n') fmt::print("\n");
    fmt::print("----- end of prompt -----\n");
  }
  if (!counter.note.empty()) fmt::print(stderr, "moecode context: note: {}\n", counter.note);
  return 0;
}

}  // namespace

void add_context_command(CLI::App& app) {
  auto args = std::make_shared<ContextArgs>();
  CLI::App* cmd = app.add_subcommand(
      "context", "Pack the repository context for a cursor (FILE:LINE:COL) within a token budget");
  cmd->add_option("LOCATION", args->location, "FILE:LINE:COL, LINE and COL counting from 1")->required();
  cmd->add_option("--root", args->root, "Workspace root (default: the git work tree around FILE, else .)");
  cmd->add_option("--budget", args->budget,
                  "Token budget (default: min(model context - 512, 128K), or 8192 without a model)")
      ->check(CLI::Range(size_t{1}, size_t{1} << 24));
  cmd->add_flag("--no-cache", args->no_cache, "Parse every file of the root; neither read nor write the index cache");
  cmd->add_flag("--json", args->json, "Print {\"tokens\",\"budget\",\"snippets\",\"prompt\"} as JSON");
  cmd->add_option("-m,--model", args->model, "GGUF model whose tokenizer counts tokens");
  cmd->add_option("--recent", args->recent, "A recently opened/edited file (repeatable, most recent first)");
  cmd->add_option("--file-sep", args->file_sep,
                  "Snippet header token, e.g. '<|file_sep|>' (default: the model's, else path comments)");
  cmd->callback([args] { exit_code() = run_context(*args); });
}

}  // namespace moecode::cli
