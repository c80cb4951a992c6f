// Asking a model and reading its answer (see answer.h).
#include "lsp/assist/answer.h"

#include <algorithm>
#include <cctype>
#include <functional>

#include "lsp/assist/syntax.h"

namespace moecode::assist {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string trim(std::string_view s) {
  size_t b = 0;
  size_t e = s.size();
  while (b < e && is_space(s[b])) ++b;
  while (e > b && is_space(s[e - 1])) --e;
  return std::string(s.substr(b, e - b));
}

// Decodes the UTF-8 code point at s[i] (advancing i); invalid bytes decode as themselves.
uint32_t next_code_point(std::string_view s, size_t& i) {
  const unsigned char c = static_cast<unsigned char>(s[i]);
  const int n = c < 0x80 ? 0 : (c >> 5) == 0x6 ? 1 : (c >> 4) == 0xE ? 2 : (c >> 3) == 0x1E ? 3 : -1;
  if (n <= 0 || i + static_cast<size_t>(n) >= s.size()) {
    ++i;
    return c;
  }
  uint32_t cp = c & (0x3Fu >> n);
  for (int k = 1; k <= n; ++k) {
    const unsigned char cc = static_cast<unsigned char>(s[i + static_cast<size_t>(k)]);
    if ((cc & 0xC0) != 0x80) {
      ++i;
      return c;
    }
    cp = (cp << 6) | (cc & 0x3Fu);
  }
  i += static_cast<size_t>(n) + 1;
  return cp;
}

bool is_cjk(uint32_t cp) {
  return (cp >= 0x3000 && cp <= 0x303F) ||    // CJK symbols and punctuation ("，" is FF0C below)
         (cp >= 0x3040 && cp <= 0x30FF) ||    // Hiragana, Katakana
         (cp >= 0x3100 && cp <= 0x312F) ||    // Bopomofo
         (cp >= 0x3130 && cp <= 0x318F) ||    // Hangul compatibility jamo
         (cp >= 0x3400 && cp <= 0x4DBF) ||    // CJK extension A
         (cp >= 0x4E00 && cp <= 0x9FFF) ||    // CJK unified ideographs
         (cp >= 0xAC00 && cp <= 0xD7AF) ||    // Hangul syllables
         (cp >= 0xF900 && cp <= 0xFAFF) ||    // CJK compatibility ideographs
         (cp >= 0xFF00 && cp <= 0xFFEF) ||    // half- and full-width forms ("（", "，")
         (cp >= 0x20000 && cp <= 0x2FA1F);    // extensions B-F, compatibility supplement
}

// Fence info strings that name a grammar.
bool names_language(std::string_view info, std::string_view grammar) {
  std::string tag(info.substr(0, info.find_first_of(" \t{")));
  std::transform(tag.begin(), tag.end(), tag.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (tag.empty()) return false;
  if (tag == grammar) return true;
  const std::string from_tag = grammar_for(tag, "x." + tag);
  if (from_tag == grammar) return true;
  static const std::vector<std::pair<std::string_view, std::string_view>> kAliases = {
      {"py", "python"}, {"python3", "python"}, {"js", "javascript"}, {"node", "javascript"},
      {"ts", "typescript"}, {"c++", "cpp"}, {"cxx", "cpp"}, {"golang", "go"}, {"rs", "rust"},
      {"sh", "bash"}, {"shell", "bash"}, {"cs", "c_sharp"}, {"c#", "c_sharp"}, {"rb", "ruby"}};
  for (const auto& [alias, name] : kAliases) {
    if (tag == alias && grammar == name) return true;
  }
  return false;
}

}  // namespace

// ---- loops ------------------------------------------------------------------------------------

LoopDetector::LoopDetector(LoopOptions options) : options_(options) {}

bool LoopDetector::feed(std::string_view piece) {
  // Units: runs of word characters (letters, digits, '_', any non-ASCII byte), and each other
  // visible character alone, so a loop without spaces ('{"1.1.1.1...') has units to repeat.
  for (char c : piece) {
    if (looped_) return true;
    const auto u = static_cast<unsigned char>(c);
    if (is_space(c)) {
      push_word();
    } else if (std::isalnum(u) || c == '_' || u >= 0x80) {
      word_ += c;
    } else {
      push_word();
      word_ = c;
      push_word();
    }
  }
  return looped_;
}

void LoopDetector::finish() { push_word(); }

void LoopDetector::push_word() {
  if (word_.empty() || looped_) return;
  hashes_.push_back(std::hash<std::string>{}(word_));
  words_.push_back(std::move(word_));
  word_.clear();
  check();
}

void LoopDetector::check() {
  const size_t n = hashes_.size();
  const size_t min_repeats = static_cast<size_t>(std::max(2, options_.min_repeats));
  for (size_t period = 1; period <= options_.max_period; ++period) {
    const size_t repeats = std::max(min_repeats, (options_.min_words + period - 1) / period);
    const size_t span = period * repeats;
    if (span > n) {
      if (period * min_repeats > n) break;  // longer periods need even more words
      continue;
    }
    bool cycle = true;
    for (size_t k = 1; k <= span - period && cycle; ++k) cycle = hashes_[n - k] == hashes_[n - k - period];
    if (!cycle) continue;
    size_t total = span;  // how far back the cycle goes
    while (total + 1 <= n && hashes_[n - total - 1] == hashes_[n - total - 1 + period]) ++total;
    std::string sample;
    for (size_t k = n - period; k < n && sample.size() < 80; ++k) sample += (sample.empty() ? "" : " ") + words_[k];
    looped_ = true;
    description_ = "a cycle of " + std::to_string(period) + (period == 1 ? " word" : " words") + " repeated " +
                   std::to_string(total / period) + " times: '" + sample + (sample.size() >= 80 ? "...'" : "'");
    return;
  }
}

bool ends_in_loop(std::string_view text, std::string* description, LoopOptions options) {
  LoopDetector d(options);
  d.feed(text);
  d.finish();
  if (description) *description = d.description();
  return d.looped();
}

// ---- asking -----------------------------------------------------------------------------------

Result<Answer> ask(Generator& generator, const std::vector<ChatMessage>& messages, const AskOptions& options,
                   const CancelToken& cancel) {
  LoopDetector loops;
  auto on_piece = [&](std::string_view piece) { return !(options.detect_loops && loops.feed(piece)); };
  MOE_TRY(Generation g, generator.chat(messages, options.generation, on_piece, cancel));
  if (cancel.cancelled()) return make_error(ErrorCode::kCancelled, "cancelled");
  Answer a;
  const engine::ReasonedText split = engine::split_reasoning(g.text);
  a.text = split.answer;
  a.reasoning = split.reasoning;
  a.looped = loops.looped();
  a.loop = loops.description();
  a.generation = std::move(g);
  return a;
}

// ---- code in answers ----------------------------------------------------------------------------

std::vector<CodeBlock> code_blocks(std::string_view answer) {
  std::vector<CodeBlock> blocks;
  size_t pos = 0;
  while (pos < answer.size()) {
    // A fence opens at the start of a line: ``` or ~~~ (3 or more), then an info string.
    size_t line_end = answer.find('\n', pos);
    if (line_end == std::string_view::npos) line_end = answer.size();
    std::string_view line = answer.substr(pos, line_end - pos);
    const size_t indent = line.find_first_not_of(' ');
    const std::string_view body = indent == std::string_view::npos ? std::string_view() : line.substr(indent);
    const char fc = body.empty() ? 0 : body[0];
    if ((fc == '`' || fc == '~') && body.size() >= 3 && body[1] == fc && body[2] == fc) {
      size_t fence_len = 3;
      while (fence_len < body.size() && body[fence_len] == fc) ++fence_len;
      CodeBlock b;
      b.fenced = true;
      b.closed = false;
      b.language = trim(body.substr(fence_len));
      size_t p = line_end < answer.size() ? line_end + 1 : answer.size();
      while (p < answer.size()) {
        size_t e = answer.find('\n', p);
        if (e == std::string_view::npos) e = answer.size();
        const std::string_view l = answer.substr(p, e - p);
        const std::string t = trim(l);
        if (t.size() >= fence_len && t.find_first_not_of(fc) == std::string::npos) {
          b.closed = true;
          p = e < answer.size() ? e + 1 : answer.size();
          break;
        }
        b.code.append(l);
        b.code += '\n';
        p = e < answer.size() ? e + 1 : answer.size();
      }
      // Fences indented like list items: the code keeps its own indentation only.
      blocks.push_back(std::move(b));
      pos = p;
      continue;
    }
    pos = line_end < answer.size() ? line_end + 1 : answer.size();
  }
  if (blocks.empty()) {
    std::string code(answer);
    while (!code.empty() && (code.back() == '\n' || code.back() == ' ' || code.back() == '\r')) code.pop_back();
    while (!code.empty() && code.front() == '\n') code.erase(0, 1);
    if (!code.empty()) {
      code += '\n';
      blocks.push_back(CodeBlock{"", std::move(code), false, true});
    }
  }
  return blocks;
}

std::optional<CodeBlock> pick_code(std::string_view answer, std::string_view grammar) {
  std::vector<CodeBlock> blocks = code_blocks(answer);
  for (CodeBlock& b : blocks) {
    if (names_language(b.language, grammar) && !trim(b.code).empty()) return std::move(b);
  }
  for (CodeBlock& b : blocks) {
    if (!trim(b.code).empty()) return std::move(b);
  }
  return std::nullopt;
}

// ---- the mixed-language guard ------------------------------------------------------------------

bool has_cjk(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    if (static_cast<unsigned char>(text[i]) < 0x80) {
      ++i;
      continue;
    }
    if (is_cjk(next_code_point(text, i))) return true;
  }
  return false;
}

std::optional<ForeignText> cjk_in_code(std::string_view grammar, std::string_view code) {
  std::vector<ByteSpan> skip;
  if (auto spans = comment_and_string_spans(grammar, code); spans.ok()) skip = std::move(*spans);
  size_t next_skip = 0;
  for (size_t i = 0; i < code.size();) {
    while (next_skip < skip.size() && skip[next_skip].end <= i) ++next_skip;
    if (next_skip < skip.size() && skip[next_skip].start <= i) {
      i = skip[next_skip].end;
      continue;
    }
    if (static_cast<unsigned char>(code[i]) < 0x80) {
      ++i;
      continue;
    }
    const size_t at = i;
    if (!is_cjk(next_code_point(code, i))) continue;
    ForeignText f;
    f.line = 1 + static_cast<int>(std::count(code.begin(), code.begin() + static_cast<long>(at), '\n'));
    const size_t b = code.rfind('\n', at);
    const size_t from = b == std::string_view::npos ? 0 : b + 1;
    size_t e = code.find('\n', at);
    if (e == std::string_view::npos) e = code.size();
    f.fragment = trim(code.substr(from, e - from));
    return f;
  }
  return std::nullopt;
}

}  // namespace moecode::assist
