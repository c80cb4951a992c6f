// Inline completion pipeline (see completion.h).
#include "lsp/assist/completion.h"

#include <algorithm>
#include <cctype>
#include <chrono>

#include "lsp/assist/stop_rules.h"

namespace moecode::assist {

namespace {

bool is_word_char(unsigned char c) { return std::isalnum(c) || c == '_' || c >= 0x80; }

std::string_view rtrim(std::string_view s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

const char* finish_reason_name(FinishReason reason) {
  switch (reason) {
    case FinishReason::kLength: return "length";
    case FinishReason::kStop: return "stop";
    case FinishReason::kCallback: return "natural end";
  }
  return "unknown";
}

Completer::Completer(Generator& generator, ContextProvider& provider)
    : generator_(generator), provider_(provider), format_(detect_fim_format(generator)) {}

ContextRequest Completer::context_request(const CompletionRequest& request) const {
  ContextRequest creq = request.context;
  creq.cursor = std::min(request.context.cursor, request.context.text->size());
  creq.token_budget = request.options.context_budget;
  // Leave room for the answer inside the model's window.
  const int room = generator_.n_ctx() - request.options.max_tokens - 16;
  if (room > 0) creq.token_budget = std::min(creq.token_budget, room);
  return creq;
}

Result<ContextPreview> Completer::preview(const CompletionRequest& request, const CancelToken& cancel) {
  if (!request.context.text) return make_error(ErrorCode::kInvalidArgument, "context request without text");
  const ContextRequest creq = context_request(request);
  ContextPreview out;
  MOE_TRY(out.context,
          provider_.gather(creq, [this](std::string_view s) { return generator_.count_tokens(s); }, cancel));
  out.prompt = render_prompt(format_, out.context);
  out.format = format_.name;
  out.budget = creq.token_budget;
  for (const PromptPart& part : out.prompt.parts) {
    out.n_tokens += part.kind == PromptPart::Kind::kText ? generator_.count_tokens(part.text) : 1;
  }
  return out;
}

Result<ContextPreview> preview_without_model(ContextProvider& provider, const CompletionRequest& request,
                                             const CancelToken& cancel) {
  if (!request.context.text) return make_error(ErrorCode::kInvalidArgument, "context request without text");
  const auto approx = [](std::string_view s) { return static_cast<int>((s.size() + 3) / 4); };
  ContextRequest creq = request.context;
  creq.cursor = std::min(creq.cursor, creq.text->size());
  creq.token_budget = request.options.context_budget;
  ContextPreview out;
  MOE_TRY(out.context, provider.gather(creq, approx, cancel));
  FimFormat plain;
  plain.name = "prefix-only";
  out.prompt = render_prompt(plain, out.context);
  out.format = plain.name;
  out.budget = creq.token_budget;
  out.n_tokens = approx(out.prompt.render());
  out.approximate = true;
  return out;
}

std::string describe_preview(const ContextPreview& preview) {
  const CompletionContext& c = preview.context;
  std::string out = "# moecode context: " + std::to_string(preview.n_tokens) + (preview.approximate ? " tokens (approximate: no model loaded)" : " tokens") +
                    " of a " + std::to_string(preview.budget) + "-token budget, format " + preview.format + "\n";
  out += "# " + std::to_string(c.snippets.size()) + (c.snippets.size() == 1 ? " snippet" : " snippets") +
         " from the repository, then the document around the cursor\n";
  for (const Snippet& s : c.snippets) {
    out += "\n## " + s.path + "\n" + s.text;
    if (s.text.empty() || s.text.back() != '\n') out += '\n';
  }
  out += "\n## " + (c.path.empty() ? std::string("(this document)") : c.path) + " (cursor)\n";
  out += c.prefix + "<CURSOR>" + c.suffix;
  if (out.back() != '\n') out += '\n';
  return out;
}

Result<CompletionResult> Completer::complete(const CompletionRequest& request, const CancelToken& cancel) {
  const auto t0 = std::chrono::steady_clock::now();
  if (!request.context.text) return make_error(ErrorCode::kInvalidArgument, "completion request without text");
  const std::string_view text = *request.context.text;
  const size_t cursor = std::min(request.context.cursor, text.size());

  MOE_TRY(CompletionContext ctx, provider_.gather(
                                     context_request(request),
                                     [this](std::string_view s) { return generator_.count_tokens(s); }, cancel));

  // BPE vocabularies attach a space to the word after it (" if", "Ġif"): a prompt that ends in
  // a space ends in a token the model rarely saw there (an indented empty line, "f(a, "), and
  // the model answers off-track (a newline, a new function). The space goes back to the model
  // to generate, and comes off the front of its answer.
  bool heal_space = !ctx.prefix.empty() && ctx.prefix.back() == ' ';
  if (heal_space) ctx.prefix.pop_back();
  const Prompt prompt = render_prompt(format_, ctx);
  GenerationOptions gen;
  gen.max_tokens = request.options.max_tokens;
  gen.temperature = request.options.temperature;
  gen.stop_special = format_.stop_special;

  CompletionStopper stopper(stop_rules_at(text, cursor, request.options.max_lines));
  auto on_piece = [&](std::string_view piece) {
    if (heal_space && !piece.empty()) {
      // A different start means the model went elsewhere: its text is kept as it is.
      if (piece.front() == ' ') piece.remove_prefix(1);
      heal_space = false;
    }
    return piece.empty() ? !stopper.done() : stopper.feed(piece);
  };
  MOE_TRY(Generation generation, generator_.generate(prompt, gen, on_piece, cancel));
  if (cancel.cancelled()) return make_error(ErrorCode::kCancelled, "completion cancelled");

  CompletionResult out;
  out.format = format_.name;
  out.text = stopper.finish();
  out.generation = std::move(generation);
  out.replace_start = out.replace_end = cursor;
  // A one-line completion that ends with what follows the cursor on its line (a closing
  // bracket, say) replaces that text rather than duplicating it.
  size_t line_end = text.find('\n', cursor);
  if (line_end == std::string_view::npos) line_end = text.size();
  if (line_end > cursor && text[line_end - 1] == '\r') --line_end;
  const std::string_view rest = rtrim(text.substr(cursor, line_end - cursor));
  if (!rest.empty() && out.text.find('\n') == std::string::npos && out.text.size() >= rest.size() &&
      std::string_view(out.text).substr(out.text.size() - rest.size()) == rest) {
    out.replace_end = cursor + rest.size();
  }
  size_t w = cursor;
  while (w > 0 && is_word_char(static_cast<unsigned char>(text[w - 1]))) --w;
  out.word_start = w;
  out.total_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return out;
}

}  // namespace moecode::assist
