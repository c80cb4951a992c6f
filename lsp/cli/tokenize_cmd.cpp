// `moecode tokenize -m MODEL (TEXT | --file F) [--add-special] [--parse-special] [--json]`
// and `moecode detokenize -m MODEL --ids 1,2,3 [--skip-special]`: the model's tokenizer
// on the command line (GGUF metadata only; no weights are loaded).
// tokenize prints the ids separated by spaces (or {"ids":[...]} with --json); by default no
// BOS/EOS is added and special-token text is tokenized as plain text. detokenize writes the
// text exactly, with no newline added.
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "lsp/cli/commands.h"
#include "lsp/cli/model_path.h"
#include "moecode/engine/tokenizer.h"

namespace moecode::cli {

namespace {

void fail(const std::string& message) {
  fmt::print(stderr, "moecode: {}\n", message);
  exit_code() = 1;
}

Result<std::shared_ptr<const engine::Tokenizer>> load_tokenizer(const std::string& model) {
  MOE_TRY(const std::string path, resolve_model_path(model));
  return engine::Tokenizer::load(path);
}

Result<std::string> read_input_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(ErrorCode::kNotFound, fmt::format("cannot read --file '{}'", path));
  std::stringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return make_error(ErrorCode::kIo, fmt::format("error reading --file '{}'", path));
  return ss.str();
}

// "1,2,3" (commas and/or whitespace between ids) -> ids, each checked against the vocabulary.
Result<std::vector<engine::Token>> parse_ids(const std::string& text, int32_t n_vocab) {
  std::vector<engine::Token> ids;
  size_t pos = 0;
  auto is_sep = [](char c) { return c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (pos < text.size()) {
    while (pos < text.size() && is_sep(text[pos])) ++pos;
    if (pos >= text.size()) break;
    size_t end = pos;
    while (end < text.size() && !is_sep(text[end])) ++end;
    const std::string item = text.substr(pos, end - pos);
    errno = 0;
    char* stop = nullptr;
    const long long v = std::strtoll(item.c_str(), &stop, 10);
    if (item.empty() || *stop != '\0' || errno == ERANGE || !(std::isdigit(static_cast<unsigned char>(item[0])) ||
                                                             (item[0] == '-' && item.size() > 1))) {
      return make_error(ErrorCode::kInvalidArgument, fmt::format("invalid token id '{}' in --ids", item));
    }
    if (v < 0 || v >= n_vocab) {
      return make_error(ErrorCode::kOutOfRange,
                        fmt::format("token id {} in --ids is out of range (the vocabulary has {} tokens: 0..{})", v,
                                    n_vocab, n_vocab - 1));
    }
    ids.push_back(static_cast<engine::Token>(v));
    pos = end;
  }
  return ids;
}

struct TokenizeArgs {
  std::string model;
  std::string text;
  std::string file;
  bool add_special = false;
  bool parse_special = false;
  bool json = false;
};

void run_tokenize(const TokenizeArgs& a, bool has_text, bool has_file) {
  if (has_text == has_file) {
    fail(has_text ? "give either TEXT or --file, not both" : "nothing to tokenize: give TEXT or --file FILE");
    return;
  }
  std::string input = a.text;
  if (has_file) {
    auto content = read_input_file(a.file);
    if (!content.ok()) return fail(content.error().message());
    input = std::move(content).value();
  }
  auto tok = load_tokenizer(a.model);
  if (!tok.ok()) return fail(tok.error().message());
  const std::vector<engine::Token> ids = (*tok)->encode(input, a.add_special, a.parse_special);
  std::string out = a.json ? "{\"ids\":[" : "";
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) out += a.json ? "," : " ";
    out += std::to_string(ids[i]);
  }
  out += a.json ? "]}\n" : "\n";
  std::fwrite(out.data(), 1, out.size(), stdout);
}

}  // namespace

void add_tokenize_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("tokenize", "Print the token ids of a text with the model's tokenizer");
  auto args = std::make_shared<TokenizeArgs>();
  auto* text_opt = cmd->add_option("text", args->text, "Text to tokenize");
  auto* file_opt = cmd->add_option("--file", args->file, "Tokenize the contents of this file");
  cmd->add_option("-m,--model", args->model, "GGUF file (default: the default model; see README)");
  cmd->add_flag("--add-special", args->add_special, "Add BOS/EOS as the model asks");
  cmd->add_flag("--parse-special", args->parse_special,
                "Special-token text (e.g. <|im_start|>) becomes that token");
  cmd->add_flag("--json", args->json, "Print {\"ids\":[...]}");
  cmd->callback([args, text_opt, file_opt] { run_tokenize(*args, text_opt->count() > 0, file_opt->count() > 0); });

  auto* detok = app.add_subcommand("detokenize", "Print the text of token ids with the model's tokenizer");
  auto model = std::make_shared<std::string>();
  auto ids_text = std::make_shared<std::string>();
  auto skip_special = std::make_shared<bool>(false);
  detok->add_option("-m,--model", *model, "GGUF file (default: the default model; see README)");
  detok->add_option("--ids", *ids_text, "Token ids separated by commas, e.g. 1,2,3")->required();
  detok->add_flag("--skip-special", *skip_special, "Leave out control tokens (BOS, EOS, <|im_end|>...)");
  detok->callback([model, ids_text, skip_special] {
    auto tok = load_tokenizer(*model);
    if (!tok.ok()) return fail(tok.error().message());
    auto ids = parse_ids(*ids_text, (*tok)->n_vocab());
    if (!ids.ok()) return fail(ids.error().message());
    const std::string text = (*tok)->decode(*ids, !*skip_special);
    std::fwrite(text.data(), 1, text.size(), stdout);
  });
}

}  // namespace moecode::cli
