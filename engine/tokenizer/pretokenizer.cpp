// Pre-tokenizer patterns per tokenizer.ggml.pre family, and their PCRE2 splitter.
// Thread-safety: the tables are constant; RegexSplitter::split() uses thread_local match
// data and JIT stack, so one splitter serves any number of threads.
#include "engine/tokenizer/pretokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <array>

#include "engine/tokenizer/unicode.h"

namespace moecode::tokenizer {
namespace {

// The GPT-2 pattern (also the core of many later families).
constexpr const char* kGpt2 = R"re('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))re";
// Llama 3 (tiktoken cl100k-style); the (?i:...) contractions spelled out as llama.cpp does.
constexpr const char* kLlama3 =
    R"re((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";
constexpr const char* kQwen2 =
    R"re((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";
constexpr const char* kQwen35 =
    R"re((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";
// DeepSeek LLM: cased letters of its tokenizer.json (written as code points).
constexpr const char* kDeepseekLlmLetters =
    R"re(\s?[A-Za-z\x{B5}\x{C0}-\x{D6}\x{D8}-\x{F6}\x{F8}-\x{1BA}\x{1BC}-\x{1BF}\x{1C4}-\x{293}\x{295}-\x{2AF}\x{370}-\x{373}\x{376}\x{377}\x{37B}-\x{37D}\x{37F}\x{386}\x{388}-\x{38A}\x{38C}\x{38E}-\x{3A1}\x{3A3}-\x{3F5}\x{3F7}-\x{481}\x{48A}-\x{52F}\x{531}-\x{556}\x{10A0}-\x{10C5}\x{13A0}-\x{13F5}\x{13F8}-\x{13FD}\x{1C90}-\x{1CBA}\x{1CBD}-\x{1CBF}\x{1D00}-\x{1D2B}\x{1D6B}-\x{1D77}\x{1D79}-\x{1D9A}\x{1E00}-\x{1F15}\x{1F18}-\x{1F1D}\x{1F20}-\x{1F45}\x{1F48}-\x{1F4D}\x{1F50}-\x{1F57}\x{1F59}\x{1F5B}\x{1F5D}\x{1F5F}-\x{1F7D}\x{1F80}-\x{1FB4}\x{1FB6}-\x{1FBC}\x{1FBE}\x{1FC2}-\x{1FC4}\x{1FC6}-\x{1FCC}\x{1FD0}-\x{1FD3}\x{1FD6}-\x{1FDB}\x{1FE0}-\x{1FEC}\x{1FF2}-\x{1FF4}\x{1FF6}-\x{1FFC}\x{2102}\x{2107}\x{210A}-\x{2113}\x{2115}\x{2119}-\x{211D}\x{2124}\x{2126}\x{2128}\x{212A}-\x{212D}\x{212F}-\x{2134}\x{2139}\x{213C}-\x{213F}\x{2145}-\x{2149}\x{214E}\x{2183}\x{2184}\x{2C00}-\x{2C7B}\x{2C7E}-\x{2CE4}\x{2CEB}-\x{2CEE}\x{2CF2}\x{2CF3}\x{A640}-\x{A66D}\x{A680}-\x{A69B}\x{A722}-\x{A76F}\x{A771}-\x{A787}\x{A78B}-\x{A78E}\x{AB70}-\x{ABBF}\x{FB00}-\x{FB06}\x{FB13}-\x{FB17}\x{FF21}-\x{FF3A}\x{FF41}-\x{FF5A}\x{10400}-\x{1044F}\x{104B0}-\x{104D3}\x{104D8}-\x{104FB}\x{10C80}-\x{10CB2}\x{10CC0}-\x{10CF2}\x{118A0}-\x{118DF}\x{1E900}-\x{1E943}]+)re";
constexpr const char* kCjkHangul = R"re([\x{4E00}-\x{9FA5}\x{800}-\x{4E00}\x{AC00}-\x{D7FF}]+)re";
constexpr const char* kDeepseekV3Main =
    R"re([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";
constexpr const char* kPoro = R"re( ?[^(\s|.,!?\x{2026}\x{3002}\x{FF0C}\x{3001}\x{964}\x{6D4}\x{60C})]+)re";
constexpr const char* kTekken =
    R"re([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";
constexpr const char* kGpt4o =
    R"re([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";
constexpr const char* kSeedCoder =
    R"re((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1}| ?[^\s\p{L}\p{N}\r\n]+|\s*[\r\n]+|\s+(?!\S)|\s+)re";
constexpr const char* kBailing =
    R"re('(?:[sSdDmMtT]|[lL][lL]|[vV][eE]|[rR][eE])|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+)re";
constexpr const char* kExaoneMoe =
    R"re((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?(?:\p{L}\p{M}*(?: \p{L}\p{M}*)*)+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]?|\s*[\r\n]|\s+(?!\S)|\s+)re";
constexpr const char* kMinicpm5 =
    R"re((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}+| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";

struct Family {
  const char* family;
  std::vector<const char*> names;
  std::vector<const char*> patterns;
  bool ignore_merges = false;
  bool default_add_bos = false;
  bool sentencepiece_style = false;  // PreTokenizerSpec's raw_utf8 .. force_add_bos, all on
};

const std::vector<Family>& families() {
  static const std::vector<Family> kFamilies = {
      {"default",
       {"", "default"},
       {R"re([\p{P}\$\+<=>\^~\|]+)re", kGpt2, R"re(\p{N}+)re", R"re([0-9][0-9][0-9])re"}},
      {"llama3",
       {"llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2",
        "jina-v5-nano"},
       {kLlama3},
       /*ignore_merges=*/true,
       /*default_add_bos=*/true},
      {"dbrx", {"dbrx", "smaug-bpe"}, {kLlama3}},
      {"deepseek-llm",
       {"deepseek-llm"},
       {R"re([\r\n])re", kDeepseekLlmLetters,
        R"re(\s?[!-/:-~\x{FF01}-\x{FF0F}\x{FF1A}-\x{FF5E}\x{2018}-\x{201F}\x{3000}-\x{3002}]+)re",
        R"re(\s+$)re", kCjkHangul, R"re(\p{N}+)re"}},
      {"deepseek-coder",
       {"deepseek-coder"},
       {R"re([\r\n])re", R"re(\s?\p{L}+)re", R"re(\s?\p{P}+)re", kCjkHangul, R"re(\p{N})re"}},
      {"deepseek-v3",
       {"deepseek-v3", "hunyuan-dense", "joyai-llm", "hy_v4"},
       {R"re(\p{N}{1,3})re", R"re([\x{4E00}-\x{9FA5}\x{3040}-\x{309F}\x{30A0}-\x{30FF}]+)re",
        kDeepseekV3Main}},
      {"falcon",
       {"falcon"},
       {R"re([\p{P}\$\+<=>\^~\|`]+)re", kGpt2, R"re([0-9][0-9][0-9])re"}},
      {"starcoder",
       {"starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b",
        "mellum2"},
       {R"re(\p{N})re", kGpt2}},
      {"gpt2",
       {"gpt-2", "gpt2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es", "jina-v2-de",
        "a.x-4.0", "mellum", "modern-bert", "mpt", "olmo", "jais", "trillion", "granite-docling",
        "exaone4", "jina-v1-en", "jina-v2-code", "roberta-bpe"},
       {kGpt2}},
      {"qwen2",
       {"qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "megrez", "stablelm2", "hunyuan",
        "solar-open"},
       {kQwen2}},
      {"qwen35", {"qwen35"}, {kQwen35}},
      {"poro", {"poro-chat", "bloom", "gpt3-finnish"}, {kPoro}},
      {"viking", {"viking"}, {kPoro, R"re(\p{N})re"}},
      {"chatglm4", {"glm4", "chatglm-bpe"}, {kLlama3}},
      {"tekken", {"tekken"}, {kTekken}, /*ignore_merges=*/true, /*default_add_bos=*/true},
      {"chameleon",
       {"chameleon"},
       {R"re(<sentinel:[0-9]+>)re", R"re((IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z)re",
        R"re(([\t\n]|    |  ))re", R"re(\p{N})re", R"re([\p{P}!-/:-@\[-`{-~])re", kGpt2},
       false,
       /*default_add_bos=*/true},
      {"gpt-4o", {"gpt-4o", "llama4", "kanana2", "talkie", "minimax-m2"}, {kGpt4o}},
      {"seed-coder", {"seed-coder"}, {kSeedCoder}},
      {"bailingmoe", {"bailingmoe", "bailingmoe2", "llada-moe"}, {kBailing}},
      {"grok-2", {"grok-2"}, {kQwen2}},
      {"exaone-moe", {"exaone-moe"}, {kExaoneMoe}},
      {"minicpm5", {"minicpm5"}, {R"re(\p{N}{1,3})re", kMinicpm5}, /*ignore_merges=*/true},
      {"superbpe", {"superbpe"}, {R"re(\p{N}+)re", R"re((?=(\d{3})+(?!\d)))re"}},
      // tokenizer.ggml.model "gemma4" always takes this one, whatever tokenizer.ggml.pre says.
      // Only newlines split: BPE then runs over whole lines, spaces included (as U+2581).
      {.family = "gemma4",
       .names = {"gemma4", "granite-embed-multi-311m"},
       .patterns = {R"re([^\n]+|[\n]+)re"},
       .sentencepiece_style = true},
  };
  return kFamilies;
}

// Per-thread PCRE2 state: match data (one pair is all we read) and a JIT stack.
struct ThreadMatchState {
  pcre2_match_data* data = nullptr;
  pcre2_match_context* context = nullptr;
  pcre2_jit_stack* jit_stack = nullptr;
  ThreadMatchState() {
    data = pcre2_match_data_create(4, nullptr);
    context = pcre2_match_context_create(nullptr);
    jit_stack = pcre2_jit_stack_create(32 * 1024, 4 * 1024 * 1024, nullptr);
    if (context && jit_stack) pcre2_jit_stack_assign(context, nullptr, jit_stack);
  }
  ~ThreadMatchState() {
    pcre2_jit_stack_free(jit_stack);
    pcre2_match_context_free(context);
    pcre2_match_data_free(data);
  }
};

ThreadMatchState& thread_state() {
  thread_local ThreadMatchState state;
  return state;
}

}  // namespace

Result<PreTokenizerSpec> find_pre_tokenizer(std::string_view name) {
  for (const Family& f : families()) {
    for (const char* n : f.names) {
      if (name == n) {
        PreTokenizerSpec spec;
        spec.family = f.family;
        for (const char* p : f.patterns) spec.patterns.emplace_back(p);
        spec.ignore_merges = f.ignore_merges;
        spec.default_add_bos = f.default_add_bos;
        spec.raw_utf8 = spec.escape_spaces = spec.whole_newline_runs = spec.force_add_bos =
            f.sentencepiece_style;
        return spec;
      }
    }
  }
  return make_error(ErrorCode::kUnsupported,
                    "unknown pre-tokenizer tokenizer.ggml.pre = '" + std::string(name) + "'");
}

std::vector<std::string> pre_tokenizer_names() {
  std::vector<std::string> names;
  for (const Family& f : families()) {
    for (const char* n : f.names) names.emplace_back(n);
  }
  return names;
}

struct RegexSplitter::Pattern {
  pcre2_code* code = nullptr;
  bool jit = false;
  ~Pattern() { pcre2_code_free(code); }
};

RegexSplitter::~RegexSplitter() = default;

Result<std::unique_ptr<RegexSplitter>> RegexSplitter::create(const std::vector<std::string>& patterns) {
  std::unique_ptr<RegexSplitter> splitter(new RegexSplitter());
  for (const std::string& p : patterns) {
    int error = 0;
    PCRE2_SIZE error_offset = 0;
    auto pattern = std::make_unique<Pattern>();
    pattern->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(p.data()), p.size(),
                                  PCRE2_UTF | PCRE2_UCP | PCRE2_NO_UTF_CHECK, &error, &error_offset,
                                  nullptr);
    if (!pattern->code) {
      std::array<PCRE2_UCHAR, 256> msg{};
      pcre2_get_error_message(error, msg.data(), msg.size());
      return make_error(ErrorCode::kInternal, "pre-tokenizer pattern '" + p + "' does not compile at " +
                                                  std::to_string(error_offset) + ": " +
                                                  reinterpret_cast<const char*>(msg.data()));
    }
    pattern->jit = pcre2_jit_compile(pattern->code, PCRE2_JIT_COMPLETE) == 0;
    splitter->patterns_.push_back(std::move(pattern));
  }
  return splitter;
}

void RegexSplitter::split(std::string_view text, std::vector<Span>* out) const {
  if (text.empty()) return;
  ThreadMatchState& state = thread_state();
  std::vector<Span> current{{0, static_cast<uint32_t>(text.size())}};
  std::vector<Span> next;
  const auto* subject_base = reinterpret_cast<PCRE2_SPTR>(text.data());
  for (const auto& pattern : patterns_) {
    next.clear();
    for (const Span& piece : current) {
      const PCRE2_SPTR subject = subject_base + piece.offset;
      const PCRE2_SIZE length = piece.length;
      PCRE2_SIZE start = 0;    // where the next search begins
      PCRE2_SIZE emitted = 0;  // end of the last piece emitted
      while (start < length) {
        const int rc = pattern->jit
                           ? pcre2_jit_match(pattern->code, subject, length, start, 0, state.data,
                                             state.context)
                           : pcre2_match(pattern->code, subject, length, start, PCRE2_NO_UTF_CHECK,
                                         state.data, state.context);
        if (rc < 0) break;  // no match (or a resource limit): the rest stays one piece
        const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(state.data);
        const PCRE2_SIZE ms = ov[0], me = ov[1];
        if (ms > emitted) {
          next.push_back({piece.offset + static_cast<uint32_t>(emitted), static_cast<uint32_t>(ms - emitted)});
          emitted = ms;
        }
        if (me > ms) {
          next.push_back({piece.offset + static_cast<uint32_t>(ms), static_cast<uint32_t>(me - ms)});
          emitted = me;
          start = me;
        } else {
          // An empty match only marks a boundary; step over one character.
          if (ms >= length) break;
          start = ms + utf8_len_from_lead(subject[ms]);
        }
      }
      if (emitted < length) {
        next.push_back({piece.offset + static_cast<uint32_t>(emitted), static_cast<uint32_t>(length - emitted)});
      }
    }
    current.swap(next);
  }
  out->insert(out->end(), current.begin(), current.end());
}

}  // namespace moecode::tokenizer
