// The engine's Tokenizer over a VocabData (see tokenizer_impl.h). Thread-safety: the
// object is immutable after build_tokenizer(); encode() keeps per-call (and, inside the
// BPE model and the regex splitter, per-thread) state only.
#include "engine/tokenizer/tokenizer_impl.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <climits>
#include <cstring>
#include <initializer_list>

#include "engine/tokenizer/bpe.h"
#include "engine/tokenizer/pretokenizer.h"
#include "engine/tokenizer/special_matcher.h"
#include "engine/tokenizer/spm.h"
#include "engine/tokenizer/token_index.h"
#include "engine/tokenizer/unicode.h"
#include "engine/tokenizer/wpm.h"

namespace moecode::tokenizer {
namespace {

using engine::kNoToken;
using engine::Token;

constexpr uint32_t kAttrSpecialMask = kAttrControl | kAttrUserDefined | kAttrUnknown;
constexpr const char* kSpaceEscape = "\xE2\x96\x81";  // U+2581, SentencePiece's space

enum class Kind { kBpe, kSpm, kWpm };

uint32_t attr_of_type(int32_t type) {
  switch (static_cast<TokenType>(type)) {
    case TokenType::kNormal: return kAttrNormal;
    case TokenType::kUnknown: return kAttrUnknown;
    case TokenType::kControl: return kAttrControl;
    case TokenType::kUserDefined: return kAttrUserDefined;
    case TokenType::kUnused: return kAttrUnused;
    case TokenType::kByte: return kAttrByte;
    case TokenType::kUndefined: break;
  }
  return 0;
}

// "<0xAB>" -> 0xAB, or -1.
int parse_byte_token(std::string_view text) {
  if (text.size() != 6 || text.substr(0, 3) != "<0x" || text[5] != '>') return -1;
  int v = 0;
  for (char c : text.substr(3, 2)) {
    v <<= 4;
    if (c >= '0' && c <= '9') v |= c - '0';
    else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
    else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
    else return -1;
  }
  return v;
}

void replace_all(std::string* s, std::string_view from, std::string_view to) {
  std::string out;
  out.reserve(s->size());
  size_t pos = 0;
  for (size_t hit; (hit = s->find(from, pos)) != std::string::npos; pos = hit + from.size()) {
    out.append(*s, pos, hit - pos);
    out.append(to);
  }
  out.append(*s, pos, std::string::npos);
  *s = std::move(out);
}

bool contains_any(const std::string& s, std::initializer_list<std::string_view> subs) {
  return std::any_of(subs.begin(), subs.end(), [&](std::string_view x) { return s.find(x) != std::string::npos; });
}

// Token texts that llama.cpp recognizes as special roles when the file does not name them.
const std::initializer_list<std::string_view> kEotTexts = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>",
    "<EOT>", "_<EOT>", "[EOT]", "<\xEF\xBD\x9C" "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>",
    "<end_of_utterance>"};
const std::initializer_list<std::string_view> kFimPreTexts = {
    "<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<\xEF\xBD\x9C" "fim\xE2\x96\x81" "begin\xEF\xBD\x9C>",
    "<PRE>", "\xE2\x96\x81<PRE>", "<|code_prefix|>", "<|prefix|>"};
const std::initializer_list<std::string_view> kFimSufTexts = {
    "<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<\xEF\xBD\x9C" "fim\xE2\x96\x81hole\xEF\xBD\x9C>",
    "<SUF>", "\xE2\x96\x81<SUF>", "<|code_suffix|>", "<|suffix|>"};
const std::initializer_list<std::string_view> kFimMidTexts = {
    "<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<\xEF\xBD\x9C" "fim\xE2\x96\x81" "end\xEF\xBD\x9C>",
    "<MID>", "\xE2\x96\x81<MID>", "<|code_middle|>", "<|middle|>"};
const std::initializer_list<std::string_view> kFimPadTexts = {"<|fim_pad|>", "<fim-pad>", "<fim_pad>",
                                                                "<PAD>", "[PAD]"};
const std::initializer_list<std::string_view> kFimRepTexts = {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>",
                                                                "<REPO>", "<reponame>"};
const std::initializer_list<std::string_view> kFimSepTexts = {"<|file_sep|>"};
const std::initializer_list<std::string_view> kEogTexts = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>",
    "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]",
    "<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>",
    "<\xEF\xBD\x9C" "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>", "[e~["};

bool in_list(std::string_view text, std::initializer_list<std::string_view> list) {
  return std::find(list.begin(), list.end(), text) != list.end();
}

class TokenizerImpl final : public engine::Tokenizer {
 public:
  static Result<std::shared_ptr<const engine::Tokenizer>> build(VocabData vocab);

  std::vector<Token> encode(std::string_view text, bool add_special, bool parse_special) const override;
  std::string decode(std::span<const Token> tokens, bool render_special) const override;
  std::string piece(Token token, bool render_special) const override;
  int32_t n_vocab() const override { return static_cast<int32_t>(index_->size()); }
  const engine::SpecialTokens& special() const override { return special_; }
  bool is_end_of_generation(Token token) const override {
    return token >= 0 && token < n_vocab() && eog_[token];
  }
  Token find_token(std::string_view text) const override { return index_->find(text); }
  bool is_special(Token token) const override {
    return token >= 0 && token < n_vocab() && (attrs_[token] & (kAttrControl | kAttrUserDefined));
  }
  const std::string& model_name() const override { return model_name_; }
  const std::string& pre_name() const override { return pre_name_; }

 private:
  TokenizerImpl() = default;
  Status init_special_ids(const VocabData& v);
  void detect_special_roles(const VocabData& v);
  void build_pieces();
  void encode_text(std::string_view text, bool after_special, std::vector<Token>* out) const;
  void encode_chunk(std::string_view text, bool parse_special, std::vector<Token>* out) const;

  Kind kind_ = Kind::kBpe;
  std::string model_name_, pre_name_;
  std::unique_ptr<TokenIndex> index_;
  std::vector<float> scores_;
  std::vector<uint32_t> attrs_;
  std::vector<std::string> pieces_;  // rendered text of each token (special tokens included)
  engine::SpecialTokens special_;
  Token sep_ = kNoToken;
  bool add_sep_ = false;
  bool add_space_prefix_ = false;
  bool escape_spaces_ = false;  // BPE over SentencePiece-style texts: ' ' is U+2581
  std::vector<uint8_t> eog_;
  std::unique_ptr<SpecialMatcher> matcher_;
  std::unique_ptr<BpeModel> bpe_;
  std::unique_ptr<RegexSplitter> splitter_;
  std::array<Token, 256> byte_tokens_{};
  WordPieceOptions wpm_;
};

Result<std::shared_ptr<const engine::Tokenizer>> TokenizerImpl::build(VocabData v) {
  std::shared_ptr<TokenizerImpl> t(new TokenizerImpl());
  t->model_name_ = v.model;
  t->pre_name_ = v.pre;
  const size_t n = v.tokens.size();
  if (n == 0) return make_error(ErrorCode::kCorrupt, "tokenizer.ggml.tokens is empty");
  if (n > static_cast<size_t>(INT32_MAX)) {
    return make_error(ErrorCode::kCorrupt, "tokenizer.ggml.tokens has " + std::to_string(n) + " entries");
  }
  if (!v.scores.empty() && v.scores.size() < n) {
    return make_error(ErrorCode::kCorrupt, "tokenizer.ggml.scores has " + std::to_string(v.scores.size()) +
                                               " entries for " + std::to_string(n) + " tokens");
  }
  if (!v.types.empty() && v.types.size() < n) {
    return make_error(ErrorCode::kCorrupt, "tokenizer.ggml.token_type has " + std::to_string(v.types.size()) +
                                               " entries for " + std::to_string(n) + " tokens");
  }

  PreTokenizerSpec spec;
  if (v.model == "gpt2") {
    t->kind_ = Kind::kBpe;
    MOE_TRY(spec, find_pre_tokenizer(v.pre));
  } else if (v.model == "gemma4") {
    // llama.cpp sets the pre-tokenizer of this model itself (tokenizer.ggml.pre is ignored).
    t->kind_ = Kind::kBpe;
    MOE_TRY(spec, find_pre_tokenizer("gemma4"));
  } else if (v.model == "llama") {
    t->kind_ = Kind::kSpm;
  } else if (v.model == "bert") {
    t->kind_ = Kind::kWpm;
  } else {
    return make_error(ErrorCode::kUnsupported,
                      "tokenizer.ggml.model = '" + v.model + "' is not supported (gpt2, gemma4, llama, bert)");
  }

  for (size_t i = 0; i < n; ++i) {
    if (v.tokens[i].empty()) v.tokens[i] = "[EMPTY_" + std::to_string(i) + "]";
  }
  t->scores_ = v.scores;
  t->scores_.resize(n, 0.0f);
  t->attrs_.resize(n, kAttrNormal);
  for (size_t i = 0; i < n && !v.types.empty(); ++i) t->attrs_[i] = attr_of_type(v.types[i]);

  if (t->kind_ == Kind::kBpe) {
    const BpeOptions options{.byte_level = !spec.raw_utf8,
                             .ignore_merges = spec.ignore_merges,
                             .whole_newline_runs = spec.whole_newline_runs};
    MOE_TRY(t->bpe_, BpeModel::build(v.tokens, v.merges, options));
    t->escape_spaces_ = spec.escape_spaces;
    MOE_TRY(t->splitter_, RegexSplitter::create(spec.patterns));
  }
  t->index_ = std::make_unique<TokenIndex>(v.tokens);
  if (t->index_->n_distinct() != n) {
    // Some text appears twice: name the first repeat.
    for (size_t i = 0; i < n; ++i) {
      const Token first = t->index_->find(v.tokens[i]);
      if (first != static_cast<Token>(i)) {
        return make_error(ErrorCode::kCorrupt, "tokenizer.ggml.tokens: duplicate token '" + v.tokens[i] +
                                                   "' at ids " + std::to_string(first) + " and " + std::to_string(i));
      }
    }
  }

  // Flags: family defaults, then the file's keys.
  bool add_bos = false, add_eos = false;
  if (t->kind_ == Kind::kBpe) {
    add_bos = spec.default_add_bos;
  } else if (t->kind_ == Kind::kSpm) {
    add_bos = true;
    t->add_space_prefix_ = true;
  } else {
    add_bos = true;
    t->add_sep_ = true;
  }
  if (v.add_bos) add_bos = *v.add_bos;
  if (spec.force_add_bos) add_bos = true;  // llama.cpp's gemma4 workaround (its PR 21500)
  if (v.add_eos) add_eos = *v.add_eos;
  if (v.add_sep) t->add_sep_ = *v.add_sep;
  if (v.add_space_prefix && t->kind_ == Kind::kSpm) t->add_space_prefix_ = *v.add_space_prefix;
  t->special_.add_bos = add_bos;
  t->special_.add_eos = add_eos;
  t->wpm_.lowercase = v.normalizer_lowercase.value_or(true);
  t->wpm_.strip_accents = v.normalizer_strip_accents.value_or(t->wpm_.lowercase);

  MOE_RETURN_IF_ERROR(t->init_special_ids(v));
  t->detect_special_roles(v);

  // Byte tokens (SentencePiece byte fallback).
  for (int b = 0; b < 256; ++b) {
    static const char* kHex = "0123456789ABCDEF";
    const char name[7] = {'<', '0', 'x', kHex[b >> 4], kHex[b & 15], '>', 0};
    Token id = t->index_->find(name);
    if (id == kNoToken) id = t->index_->find(std::string(1, static_cast<char>(b)));
    t->byte_tokens_[b] = id;
  }

  std::vector<SpecialMatcher::Entry> entries;
  for (size_t i = 0; i < n; ++i) {
    const uint32_t a = t->attrs_[i];
    if (!(a & kAttrSpecialMask)) continue;
    entries.push_back({static_cast<Token>(i), v.tokens[i], (a & (kAttrControl | kAttrUnknown)) == 0,
                       (a & kAttrLstrip) != 0, (a & kAttrRstrip) != 0});
  }
  t->matcher_ = std::make_unique<SpecialMatcher>(std::move(entries));
  t->build_pieces();

  // The newline token.
  if (t->kind_ == Kind::kSpm) {
    t->special_.nl = t->byte_tokens_['\n'];
  } else if (t->kind_ == Kind::kWpm) {
    t->special_.nl = t->special_.pad;
  } else {
    const std::vector<Token> nl = t->encode("\n", false, false);
    t->special_.nl = nl.empty() ? t->special_.pad : nl[0];
  }
  return std::shared_ptr<const engine::Tokenizer>(std::move(t));
}

Status TokenizerImpl::init_special_ids(const VocabData& v) {
  const int64_t n = static_cast<int64_t>(index_->size());
  engine::SpecialTokens& s = special_;
  if (kind_ == Kind::kSpm) {
    s.bos = 1, s.eos = 2, s.unk = 0;
  } else if (kind_ == Kind::kWpm) {
    s.bos = 101, s.unk = 100, sep_ = 102, s.pad = 0;
  }
  // Ids outside the vocabulary are ignored (the default stays), as llama.cpp does.
  auto set = [n](Token* slot, const std::optional<int64_t>& id) {
    if (*slot >= n) *slot = kNoToken;
    if (id && *id >= 0 && *id < n) *slot = static_cast<Token>(*id);
  };
  set(&s.bos, v.bos);
  set(&s.eos, v.eos);
  set(&s.eot, v.eot);
  set(&s.eom, v.eom);
  set(&s.unk, v.unk);
  set(&sep_, v.sep);
  set(&s.pad, v.pad);
  set(&s.fim_pre, v.fim_pre);
  set(&s.fim_suf, v.fim_suf);
  set(&s.fim_mid, v.fim_mid);
  set(&s.fim_pad, v.fim_pad);
  set(&s.fim_rep, v.fim_rep);
  set(&s.fim_sep, v.fim_sep);
  s.sep = sep_;
  if (s.add_bos && s.bos == kNoToken) {
    return make_error(ErrorCode::kCorrupt,
                      "tokenizer.ggml.add_bos_token is true, but tokenizer.ggml.bos_token_id is not set");
  }
  if (s.add_eos && s.eos == kNoToken) {
    return make_error(ErrorCode::kCorrupt,
                      "tokenizer.ggml.add_eos_token is true, but tokenizer.ggml.eos_token_id is not set");
  }
  wpm_.unk = s.unk;
  return Status();
}

void TokenizerImpl::detect_special_roles(const VocabData& v) {
  engine::SpecialTokens& s = special_;
  const Token n = n_vocab();
  auto mark_control = [&](Token id) { attrs_[id] |= kAttrControl; };
  for (Token id = 0; id < n; ++id) {
    const std::string& text = index_->text(id);
    struct Role {
      Token* slot;
      std::initializer_list<std::string_view> texts;
    };
    const Role roles[] = {{&s.eot, kEotTexts},       {&s.eom, {"<|eom_id|>"}},  {&s.fim_pre, kFimPreTexts},
                          {&s.fim_suf, kFimSufTexts}, {&s.fim_mid, kFimMidTexts}, {&s.fim_pad, kFimPadTexts},
                          {&s.fim_rep, kFimRepTexts}, {&s.fim_sep, kFimSepTexts}};
    for (const Role& r : roles) {
      if (*r.slot == kNoToken && in_list(text, r.texts)) {
        *r.slot = id;
        mark_control(id);
      }
    }
  }
  for (Token id = 0; id < n; ++id) {
    if ((attrs_[id] & kAttrControl) && index_->text(id).find("unused") != std::string::npos) {
      attrs_[id] |= kAttrUnused;
    }
  }
  // End-of-generation tokens.
  eog_.assign(n, 0);
  for (Token id : {s.fim_pad, s.fim_rep, s.fim_sep}) {
    if (id != kNoToken) eog_[id] = 1;
  }
  for (Token id = 0; id < n; ++id) {
    const std::string& text = index_->text(id);
    if (in_list(text, kEogTexts)) {
      eog_[id] = 1;
      mark_control(id);
    }
    // gpt-oss: these structural tokens are always rendered.
    if (text == "<|channel|>" || text == "<|message|>" || text == "<|start|>" || text == "<|constrain|>") {
      attrs_[id] = kAttrUserDefined;
    }
  }
  for (Token id : {s.eos, s.eot, s.eom}) {
    if (id != kNoToken) eog_[id] = 1;
  }
  // Harmony-style vocabularies: "<|end|>" ends a message, not the generation.
  auto find_eog = [&](std::string_view text) {
    const Token id = index_->find(text);
    return id != kNoToken && eog_[id] ? id : kNoToken;
  };
  const Token end = find_eog("<|end|>");
  if (end != kNoToken && ((find_eog("<|return|>") != kNoToken && find_eog("<|call|>") != kNoToken) ||
                          (find_eog("<|calls|>") != kNoToken && find_eog("<|flush|>") != kNoToken))) {
    eog_[end] = 0;
    attrs_[end] = kAttrUserDefined;
  }
  // Gemma 4 and PLaMo-2 vocabularies: "</s>" is ordinary text there, not an end.
  const Token s_end = find_eog("</s>");
  if (s_end != kNoToken && (find_eog("<|tool_response>") != kNoToken || find_eog("<|plamo:eos|>") != kNoToken)) {
    eog_[s_end] = 0;
    attrs_[s_end] = kAttrNormal;
  }
  // Attributes some families set by name (llama.cpp's table).
  std::string name = v.general_name;
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
  auto set_attr = [&](std::string_view text, uint32_t attr, bool on) {
    const Token id = index_->find(text);
    if (id == kNoToken) return;
    attrs_[id] = on ? (attrs_[id] | attr) : (attrs_[id] & ~attr);
  };
  if (contains_any(v.pre, {"jina-v2-de", "jina-v2-es", "jina-v2-code"}) ||
      contains_any(v.architecture, {"nomic-bert-moe", "jina-bert-v3"})) {
    set_attr("<mask>", kAttrLstrip, true);
  } else if (contains_any(name, {"phi-3", "phi3"})) {
    for (Token id = 0; id < n; ++id) {
      if (attrs_[id] & kAttrSpecialMask) attrs_[id] |= kAttrRstrip;
    }
    set_attr("</s>", kAttrRstrip, true);
    for (std::string_view t : {"<unk>", "<s>", "<|endoftext|>"}) set_attr(t, kAttrRstrip, false);
  } else if (contains_any(name, {"modern-bert"})) {
    set_attr("[MASK]", kAttrLstrip, true);
  }
}

void TokenizerImpl::build_pieces() {
  const Token n = n_vocab();
  pieces_.resize(n);
  for (Token id = 0; id < n; ++id) {
    const uint32_t a = attrs_[id];
    const std::string& text = index_->text(id);
    if (a & kAttrSpecialMask) {
      pieces_[id] = text;
    } else if (a & kAttrNormal) {
      if (kind_ == Kind::kBpe && !escape_spaces_) {
        const std::string* bytes = bpe_->token_bytes(id);
        pieces_[id] = bytes ? *bytes : text;  // text outside the byte alphabet stays as is
      } else {
        pieces_[id] = text;
        replace_all(&pieces_[id], kSpaceEscape, " ");
      }
    } else if (a & kAttrByte) {
      const int b = parse_byte_token(text);
      if (b >= 0) pieces_[id] = std::string(1, static_cast<char>(b));
    }
  }
}

std::string TokenizerImpl::piece(Token token, bool render_special) const {
  if (token < 0 || token >= n_vocab()) return {};
  if (!render_special && (attrs_[token] & (kAttrControl | kAttrUnknown))) return {};
  return pieces_[token];
}

std::string TokenizerImpl::decode(std::span<const Token> tokens, bool render_special) const {
  std::string out;
  bool text_start = true;  // SentencePiece: encode() put a space before this text run
  for (Token t : tokens) {
    if (t < 0 || t >= n_vocab()) continue;
    const uint32_t a = attrs_[t];
    if (a & kAttrSpecialMask) {
      if (render_special || !(a & (kAttrControl | kAttrUnknown))) out += pieces_[t];
      text_start = true;
      continue;
    }
    std::string_view p = pieces_[t];
    if (add_space_prefix_ && text_start && !p.empty() && p[0] == ' ') p.remove_prefix(1);
    text_start = false;
    out += p;
  }
  return out;
}

std::vector<Token> TokenizerImpl::encode(std::string_view text, bool add_special, bool parse_special) const {
  std::vector<Token> out;
  out.reserve(text.size() / 3 + 4);
  if (add_special && special_.add_bos && kind_ != Kind::kWpm) out.push_back(special_.bos);
  if (add_special && kind_ == Kind::kWpm && special_.bos != kNoToken) out.push_back(special_.bos);
  // Offsets are 32-bit: feed huge inputs in 1 GiB chunks.
  constexpr size_t kChunk = size_t{1} << 30;
  for (size_t pos = 0; pos < text.size(); pos += kChunk) {
    encode_chunk(text.substr(pos, kChunk), parse_special, &out);
  }
  if (add_special && special_.add_eos && kind_ != Kind::kWpm) out.push_back(special_.eos);
  if (add_special && kind_ == Kind::kWpm && add_sep_ && sep_ != kNoToken) out.push_back(sep_);
  return out;
}

void TokenizerImpl::encode_chunk(std::string_view text, bool parse_special, std::vector<Token>* out) const {
  std::vector<Fragment> fragments;
  matcher_->partition(text, parse_special, &fragments);
  bool after_special = true;
  for (const Fragment& f : fragments) {
    if (f.token != kNoToken) {
      out->push_back(f.token);
      after_special = true;
    } else {
      encode_text(text.substr(f.offset, f.length), after_special, out);
      after_special = false;
    }
  }
}

void TokenizerImpl::encode_text(std::string_view text, bool after_special, std::vector<Token>* out) const {
  switch (kind_) {
    case Kind::kBpe: {
      std::string escaped;
      if (escape_spaces_ && text.find(' ') != std::string_view::npos) {
        escaped.assign(text);
        replace_all(&escaped, " ", kSpaceEscape);
        text = escaped;
      }
      // The split patterns need well-formed UTF-8: ill-formed bytes are split as if they were
      // DEL characters, while the merging still sees the original bytes.
      std::string sanitized;
      std::string_view subject = text;
      if (utf8_valid_prefix(text) != text.size()) {
        sanitized.assign(text);
        for (size_t pos = 0; pos < text.size();) {
          const size_t start = pos;
          const uint32_t cp = utf8_decode(text, &pos);
          const bool real_fffd = cp == kReplacementChar && pos - start == 3 &&
                                 std::memcmp(text.data() + start, "\xEF\xBF\xBD", 3) == 0;
          if (cp == kReplacementChar && !real_fffd) std::fill(sanitized.begin() + start, sanitized.begin() + pos, '\x7F');
        }
        subject = sanitized;
      }
      thread_local std::vector<Span> spans;
      spans.clear();
      splitter_->split(subject, &spans);
      for (const Span& s : spans) bpe_->encode_word(text.substr(s.offset, s.length), out);
      break;
    }
    case Kind::kSpm: {
      std::string escaped;
      escaped.reserve(text.size() + 8);
      if (add_space_prefix_ && after_special) escaped += ' ';
      escaped.append(text);
      replace_all(&escaped, " ", kSpaceEscape);
      spm_encode(*index_, scores_, byte_tokens_, escaped, out);
      break;
    }
    case Kind::kWpm:
      wpm_encode(*index_, wpm_, text, out);
      break;
  }
}

}  // namespace

Result<std::shared_ptr<const engine::Tokenizer>> build_tokenizer(VocabData vocab) {
  return TokenizerImpl::build(std::move(vocab));
}

}  // namespace moecode::tokenizer
