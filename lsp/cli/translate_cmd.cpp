// `moecode translate --to LANG SRC [-o OUT] [--force] [--json]`: translates SRC unit by unit
// (imports, then each top-level definition) with the model; each unit must parse in the target
// grammar (one retry with the parser's message), and a unit that fails stays in the output as a
// commented-out original under a note. Writes OUT (default: SRC with the target's extension;
// "-" is stdout) inside the workspace only, never over an existing file without --force.
// Progress goes to stderr. Exit codes: 0 every unit translated, 1 some failed (the file is
// still written; they are listed), 2 bad arguments or files.
//   --json: {"source","output","target","units":[{"kind","name","firstLine","lastLine","ok",
//            "attempts","error"}],"failed","parses","written"}
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "lsp/assist/translate.h"
#include "lsp/cli/assist_args.h"
#include "lsp/cli/commands.h"

namespace moecode::cli {

namespace {

struct TranslateArgs {
  AssistArgs assist;
  std::string source;
  std::string to;
  std::string output;
  bool force = false;
  bool json = false;
};

void run_translate(const TranslateArgs& a) {
  auto fail = [](int code, const std::string& msg) {
    fmt::print(stderr, "moecode translate: {}\n", msg);
    exit_code() = code;
  };
  auto text = read_source_file(a.source);
  if (!text.ok()) return fail(2, text.error().message());
  const std::string dst = assist::target_grammar(a.to);
  if (dst.empty()) return fail(2, "no grammar for the target language '" + a.to + "'");
  auto root = workspace_root(a.assist, a.source);
  if (!root.ok()) return fail(2, root.error().message());

  std::string out_path;
  const bool to_stdout = a.output == "-";
  if (!to_stdout) {
    std::string wanted = a.output;
    if (wanted.empty()) wanted = std::filesystem::path(a.source).replace_extension(assist::language_extension(dst)).string();
    auto inside = path_inside(*root, wanted);
    if (!inside.ok()) return fail(2, inside.error().message());
    out_path = *inside;
    std::error_code ec;
    if (auto src = std::filesystem::weakly_canonical(a.source, ec); !ec && src.string() == out_path) {
      return fail(2, "the output '" + wanted + "' is the source itself");
    }
    if (std::filesystem::exists(out_path, ec) && !a.force) {
      return fail(2, "'" + wanted + "' exists; pass --force to replace it, or -o another file");
    }
  }

  auto generator = make_generator(a.assist);
  if (!generator.ok()) return fail(2, generator.error().message());
  assist::TranslateRequest req;
  req.path = a.source;
  req.language_id = assist::grammar_for("", a.source);
  req.text = *text;
  req.target = a.to;
  if (a.assist.max_tokens > 0) req.max_tokens_per_unit = a.assist.max_tokens;
  req.temperature = a.assist.temperature;
  const bool tty = ::isatty(2) != 0;
  auto progress = [tty](size_t i, size_t n, const assist::TranslatedUnit& u) {
    const std::string line = fmt::format("[{}/{}] {} {} (lines {}-{})", i + 1, n, u.kind, u.name, u.first_line, u.last_line);
    if (tty) {
      fmt::print(stderr, "\r\033[K{}", line.substr(0, 100));
    } else {
      fmt::print(stderr, "moecode translate: {}\n", line);
    }
  };
  assist::Translator translator(**generator);
  auto result = translator.translate(req, engine::CancelToken(), progress);
  if (tty) fmt::print(stderr, "\r\033[K");
  if (!result.ok()) return fail(2, result.error().message());
  if (a.assist.show_reasoning && !result->reasoning.empty()) {
    fmt::print(stderr, "--- reasoning ---\n{}--- end of reasoning ---\n", result->reasoning);
  }
  std::string code = result->code;
  if (!code.empty() && code.back() != '\n') code += '\n';
  bool written = false;
  if (to_stdout) {
    fmt::print("{}", code);
  } else {
    if (auto st = write_file_atomic(out_path, code); !st.ok()) return fail(2, st.error().message());
    written = true;
  }
  if (a.json) {
    nlohmann::json units = nlohmann::json::array();
    for (const auto& u : result->units) {
      units.push_back({{"kind", u.kind}, {"name", u.name}, {"firstLine", u.first_line}, {"lastLine", u.last_line},
                       {"ok", u.ok}, {"attempts", u.attempts}, {"error", u.error}});
    }
    const nlohmann::json out = {{"source", a.source},   {"output", to_stdout ? "-" : out_path},
                                {"target", dst},        {"units", units},
                                {"failed", result->n_failed}, {"parses", result->syntax.clean()},
                                {"written", written}};
    // With -o -, stdout carries the code: the report goes to stderr.
    fmt::print(to_stdout ? stderr : stdout, "{}\n", out.dump(2));
  } else {
    fmt::print(stderr, "moecode translate: {} {} units, {} translated, {} failed{}\n",
               written ? "wrote " + out_path + ":" : std::string("printed"), result->units.size(),
               result->units.size() - static_cast<size_t>(result->n_failed), result->n_failed,
               result->syntax.clean() ? "" : "; the output does not parse: " + result->syntax.first_problem);
    for (const auto& u : result->units) {
      if (!u.ok) fmt::print(stderr, "  failed: {} '{}' (lines {}-{}): {}\n", u.kind, u.name, u.first_line, u.last_line, u.error);
    }
  }
  exit_code() = result->n_failed == 0 ? 0 : 1;
}

}  // namespace

void add_translate_command(CLI::App& app) {
  auto args = std::make_shared<TranslateArgs>();
  CLI::App* cmd = app.add_subcommand("translate", "Translate a source file to another language with the model");
  cmd->add_option("source", args->source, "Source file")->required();
  cmd->add_option("--to", args->to, "Target language (javascript, typescript, python, go, rust, java, cpp, ...)")
      ->required();
  cmd->add_option("-o,--output", args->output, "Output file (default: SOURCE with the target's extension; - for stdout)");
  cmd->add_flag("--force", args->force, "Replace the output file if it exists");
  cmd->add_flag("--json", args->json, "Print a JSON report");
  add_assist_options(cmd, args->assist);
  cmd->callback([args] { run_translate(*args); });
}

}  // namespace moecode::cli
