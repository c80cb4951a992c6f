// The Generator over the local engine (see local_generator.h).
#include "lsp/assist/local_generator.h"

#include <cstdlib>
#include <filesystem>
#include <vector>

namespace moecode::assist {

using engine::Token;

Result<std::unique_ptr<Generator>> load_local_generator(const std::string& gguf_path,
                                                        const LocalGeneratorOptions& options) {
  MOE_TRY(std::unique_ptr<LocalGenerator> g, LocalGenerator::load(gguf_path, options));
  return std::unique_ptr<Generator>(std::move(g));
}

Result<std::unique_ptr<LocalGenerator>> LocalGenerator::load(const std::string& gguf_path,
                                                             const LocalGeneratorOptions& options) {
  const FileStamp stamp = file_stamp(gguf_path);  // before the load: a change during it shows later
  engine::LoadOptions load;
  load.backend = options.backend;
  load.n_threads = options.n_threads;
  load.n_ctx = options.n_ctx;
  MOE_TRY(std::shared_ptr<engine::Model> model, engine::Model::load(gguf_path, load));
  engine::SessionOptions so;
  so.n_batch = options.n_batch;
  MOE_TRY(std::unique_ptr<engine::Session> session, model->new_session(so));
  return std::unique_ptr<LocalGenerator>(
      new LocalGenerator(std::move(model), std::move(session), gguf_path, options.backend, stamp));
}

LocalGenerator::LocalGenerator(std::shared_ptr<engine::Model> model, std::unique_ptr<engine::Session> session,
                               std::string path, std::string backend, FileStamp stamp)
    : model_(std::move(model)),
      session_(std::move(session)),
      path_(std::move(path)),
      backend_(std::move(backend)),
      stamp_(stamp) {}

Status LocalGenerator::check() const {
  const FileStamp now = file_stamp(path_);
  // Deleted: the mapping keeps the old file alive, and the model runs on.
  if (!now.exists || !stamp_.exists || now == stamp_) return Status::ok_status();
  std::string how;
  if (now.dev != stamp_.dev || now.ino != stamp_.ino) {
    how = "replaced by another file";
  } else if (now.size < stamp_.size) {
    how = "truncated from " + std::to_string(stamp_.size) + " to " + std::to_string(now.size) + " bytes";
  } else {
    how = "rewritten";
  }
  return make_error(ErrorCode::kUnavailable, "model file '" + path_ + "' changed on disk since it was loaded (" + how + ")");
}

std::string LocalGenerator::describe() const {
  const auto& info = model_->info();
  std::string name = info.name.empty() ? std::filesystem::path(path_).filename().string() : info.name;
  return name + " (" + info.architecture + ", local, " + backend_ + ")";
}

int LocalGenerator::n_ctx() const { return session_->n_ctx(); }

int LocalGenerator::count_tokens(std::string_view text) const {
  return static_cast<int>(model_->tokenizer().encode(text, false, false).size());
}

SpecialTokenTexts LocalGenerator::special_tokens() const { return special_token_texts(model_->tokenizer()); }

bool LocalGenerator::has_special_token(std::string_view text) const {
  return has_control_token(model_->tokenizer(), text);
}

SpecialTokenTexts special_token_texts(const engine::Tokenizer& tok) {
  const engine::SpecialTokens& s = tok.special();
  auto text = [&](Token t) { return t == engine::kNoToken ? std::string() : tok.piece(t, true); };
  SpecialTokenTexts out;
  out.fim_prefix = text(s.fim_pre);
  out.fim_suffix = text(s.fim_suf);
  out.fim_middle = text(s.fim_mid);
  out.fim_pad = text(s.fim_pad);
  out.fim_repo = text(s.fim_rep);
  out.fim_file_sep = text(s.fim_sep);
  out.eos = text(s.eos);
  out.eot = text(s.eot);
  return out;
}

bool has_control_token(const engine::Tokenizer& tok, std::string_view text) {
  const Token t = tok.find_token(text);
  return t != engine::kNoToken && tok.is_special(t);
}

Prompt LocalGenerator::chat_prompt(const std::vector<ChatMessage>& messages) const {
  return render_chat_prompt(*model_, messages);
}

namespace {

// "role: content" paragraphs (the Generator's default), for templates that drop a message.
class PlainChat final : public Generator {
 public:
  std::string describe() const override { return ""; }
  int n_ctx() const override { return 0; }
  int count_tokens(std::string_view) const override { return 0; }
  SpecialTokenTexts special_tokens() const override { return {}; }
  bool has_special_token(std::string_view) const override { return false; }
  Result<Generation> generate(const Prompt&, const GenerationOptions&, const StreamFn&, const CancelToken&) override {
    return make_error(ErrorCode::kUnsupported, "no model");
  }
};

}  // namespace

Prompt render_chat_prompt(const engine::Model& model, const std::vector<ChatMessage>& messages) {
  // The template is rendered around placeholders, which are then replaced by the contents as
  // text parts: the template's control tokens are parsed, the contents' never are.
  auto placeholder = [](size_t i) { return "\x1f@moecode-message-" + std::to_string(i) + "@\x1f"; };
  std::vector<ChatMessage> shells = messages;
  for (size_t i = 0; i < shells.size(); ++i) shells[i].content = placeholder(i);
  std::string rendered = model.apply_chat_template(shells, /*add_assistant_prefix=*/true);
  // The BOS the template may write is added by generate() when the model wants one.
  const engine::Tokenizer& tok = model.tokenizer();
  if (tok.special().bos != engine::kNoToken) {
    const std::string bos = tok.piece(tok.special().bos, true);
    if (!bos.empty() && rendered.starts_with(bos)) rendered.erase(0, bos.size());
  }
  for (size_t i = 0; i < messages.size(); ++i) {
    if (rendered.find(placeholder(i)) != std::string::npos) continue;
    // A template without a system role: the system text goes before the first user message.
    if (messages.size() > 1 && messages[0].role == "system" && messages[1].role == "user") {
      std::vector<ChatMessage> merged(messages.begin() + 1, messages.end());
      merged[0].content = messages[0].content + "\n\n" + merged[0].content;
      return render_chat_prompt(model, merged);
    }
    return PlainChat().chat_prompt(messages);
  }
  Prompt p;
  size_t pos = 0;
  for (size_t i = 0; i < messages.size(); ++i) {
    const std::string ph = placeholder(i);
    const size_t at = rendered.find(ph, pos);
    p.add_markup(rendered.substr(pos, at - pos));
    p.add_text(messages[i].content);
    pos = at + ph.size();
  }
  p.add_markup(rendered.substr(pos));
  return p;
}

Result<std::vector<Token>> tokenize_prompt(const engine::Tokenizer& tok, const Prompt& prompt) {
  std::vector<Token> tokens;
  const bool bos = tok.special().add_bos && tok.special().bos != engine::kNoToken;
  if (bos) tokens.push_back(tok.special().bos);
  for (const PromptPart& part : prompt.parts) {
    if (part.kind == PromptPart::Kind::kSpecial) {
      const Token t = tok.find_token(part.text);
      if (t == engine::kNoToken) {
        return make_error(ErrorCode::kInvalidArgument, "the model has no token '" + part.text + "'");
      }
      tokens.push_back(t);
    } else {
      const bool markup = part.kind == PromptPart::Kind::kMarkup;
      const auto ids = tok.encode(part.text, false, /*parse_special=*/markup);
      tokens.insert(tokens.end(), ids.begin(), ids.end());
    }
  }
  return tokens;
}

namespace {

int draft_max() {
  static const int n = [] {
    const char* v = std::getenv("MOECODE_DRAFT");
    if (!v || !*v) return 8;
    const int x = std::atoi(v);
    return x < 0 ? 0 : x > 64 ? 64 : x;
  }();
  return n;
}

}  // namespace

Result<Generation> LocalGenerator::generate(const Prompt& prompt, const GenerationOptions& options,
                                            const StreamFn& on_piece, const CancelToken& cancel) {
  MOE_RETURN_IF_ERROR(check());
  const engine::Tokenizer& tok = model_->tokenizer();
  MOE_TRY(std::vector<Token> tokens, tokenize_prompt(tok, prompt));
  const bool bos = tok.special().add_bos && tok.special().bos != engine::kNoToken;
  // Keep the prompt and the answer inside the window: drop the oldest tokens (after BOS).
  const int limit = session_->n_ctx() - options.max_tokens;
  if (limit <= 1) return make_error(ErrorCode::kOutOfRange, "max_tokens leaves no room for a prompt");
  if (static_cast<int>(tokens.size()) > limit) {
    const size_t drop = tokens.size() - static_cast<size_t>(limit);
    tokens.erase(tokens.begin() + (bos ? 1 : 0), tokens.begin() + (bos ? 1 : 0) + static_cast<long>(drop));
  }

  engine::GenerateOptions go;
  go.max_tokens = options.max_tokens;
  // Prompt lookup (greedy requests only; the same tokens): fixes, translations and edits
  // repeat nearby code, which then decodes several tokens per model evaluation.
  // MOECODE_DRAFT=0 turns it off (or sets another draft length).
  go.draft_max = draft_max();
  go.sampling.temperature = options.temperature;
  go.sampling.top_p = options.top_p;
  go.sampling.seed = options.seed;
  go.stop_strings = options.stop_strings;
  for (const std::string& s : options.stop_special) {
    const Token t = tok.find_token(s);
    if (t != engine::kNoToken) go.stop_tokens.push_back(t);
  }
  engine::TextCallback cb;
  if (on_piece) cb = [&](std::string_view text, Token) { return on_piece(text); };
  auto r = session_->generate(tokens, go, cb, &cancel);
  if (!r.ok()) return r.error();
  if (r->stop == engine::StopReason::kCancelled || cancel.cancelled()) {
    return make_error(ErrorCode::kCancelled, "generation cancelled");
  }
  Generation g;
  g.text = std::move(r->text);
  switch (r->stop) {
    case engine::StopReason::kMaxTokens:
    case engine::StopReason::kContextFull: g.finish = FinishReason::kLength; break;
    case engine::StopReason::kCallback: g.finish = FinishReason::kCallback; break;
    default: g.finish = FinishReason::kStop; break;
  }
  g.n_prompt_tokens = static_cast<int>(tokens.size());
  g.n_cached_tokens = r->prompt.n_reused;
  g.n_generated_tokens = static_cast<int>(r->tokens.size());
  g.prompt_ms = r->prompt_ms;
  g.generate_ms = r->generate_ms;
  return g;
}

}  // namespace moecode::assist
