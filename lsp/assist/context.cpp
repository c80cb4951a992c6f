// The built-in context provider (see context.h).
#include "lsp/assist/context.h"

#include <algorithm>

namespace moecode::assist {

namespace {

// A window of B bytes holds at most B tokens; it is taken to hold at least B / kMaxBytesPerToken
// (windows bigger than that are not even counted).
constexpr size_t kMaxBytesPerToken = 12;

// Moves `i` back to the start of a UTF-8 character.
size_t utf8_floor(std::string_view s, size_t i) {
  while (i > 0 && i < s.size() && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) --i;
  return i;
}

}  // namespace

Result<CompletionContext> WindowContextProvider::gather(const ContextRequest& request,
                                                        const TokenCounter& count_tokens,
                                                        const engine::CancelToken& cancel) {
  if (!request.text) return make_error(ErrorCode::kInvalidArgument, "context request without text");
  const std::string_view text = *request.text;
  const size_t cursor = std::min(request.cursor, text.size());
  const int budget = std::max(request.token_budget, 16);
  // The suffix follows the prefix in most FIM prompts, so an edit at the cursor makes the
  // engine re-evaluate all of it: keep it short (a quarter of the budget, 256 tokens at most).
  const int suffix_budget = std::min(budget / 4, kMaxSuffixTokens);
  const int prefix_budget = budget - suffix_budget;

  CompletionContext ctx;
  ctx.path = request.path;
  ctx.language_id = request.language_id;

  // ---- prefix: the smallest anchor line whose window fits the budget -------------------------
  std::vector<size_t> starts{0};  // starts of the lines up to the cursor's
  for (size_t i = 0; i < cursor; ++i) {
    if (text[i] == '\n') starts.push_back(i + 1);
  }
  const size_t cursor_line = starts.size() - 1;
  std::vector<size_t> candidates;  // byte offsets, ascending
  for (size_t line = 0; line <= cursor_line; line += kAnchorLines) {
    if ((cursor - starts[line]) <= static_cast<size_t>(prefix_budget) * kMaxBytesPerToken) {
      candidates.push_back(starts[line]);
    }
  }
  if (candidates.empty() || candidates.back() != starts[cursor_line]) candidates.push_back(starts[cursor_line]);
  // Binary search for the first candidate that fits (fit is monotone in the start offset).
  size_t lo = 0, hi = candidates.size();
  while (lo < hi) {
    if (cancel.cancelled()) return make_error(ErrorCode::kCancelled, "completion cancelled");
    const size_t mid = (lo + hi) / 2;
    const int n = count_tokens(text.substr(candidates[mid], cursor - candidates[mid]));
    if (n <= prefix_budget) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  size_t prefix_start;
  if (lo < candidates.size()) {
    prefix_start = candidates[lo];
  } else {
    // Even the cursor's line alone is over budget (minified code): keep its last bytes.
    const size_t keep = std::min(cursor - starts[cursor_line], static_cast<size_t>(prefix_budget) * 3);
    prefix_start = utf8_floor(text, cursor - keep);
  }
  ctx.prefix = std::string(text.substr(prefix_start, cursor - prefix_start));
  ctx.prefix_start = prefix_start;

  // ---- suffix: whole lines after the cursor within its budget ------------------------------
  size_t end = std::min(text.size(), cursor + static_cast<size_t>(suffix_budget) * 4);
  if (end < text.size()) {
    const size_t nl = text.rfind('\n', end);
    if (nl != std::string_view::npos && nl >= cursor) end = nl + 1;
    end = utf8_floor(text, end);
  }
  while (end > cursor) {
    if (cancel.cancelled()) return make_error(ErrorCode::kCancelled, "completion cancelled");
    if (count_tokens(text.substr(cursor, end - cursor)) <= suffix_budget) break;
    const size_t half = cursor + (end - cursor) / 2;
    const size_t nl = text.rfind('\n', half);
    end = (nl != std::string_view::npos && nl >= cursor) ? nl + 1 : utf8_floor(text, half);
  }
  ctx.suffix = std::string(text.substr(cursor, end - cursor));
  return ctx;
}

}  // namespace moecode::assist
