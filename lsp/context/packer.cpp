// ContextEngine::pack(): selection and packing of repository context (see context.h).
// The engine's state (token-count cache, repo-map cache) is internally synchronised;
// pack() may run on several threads at once.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>

#include "lsp/context/context.h"
#include "lsp/context/repo_map.h"
#include "lsp/context/similar.h"
#include "lsp/workspace/secrets.h"
#include "lsp/workspace/tags.h"

namespace moecode::context {

using workspace::Admission;
using workspace::ByteSpan;
using workspace::DefRef;
using workspace::Definition;
using workspace::FileEntry;
using workspace::FileId;
using workspace::FileSymbols;
using workspace::SymbolIndex;
using workspace::SymbolKind;
using workspace::Verdict;

std::string_view section_name(Section s) {
  switch (s) {
    case Section::kRepoMap: return "repo_map";
    case Section::kOutline: return "outline";
    case Section::kDefinition: return "definition";
    case Section::kSimilar: return "similar";
    case Section::kCursor: return "cursor";
  }
  return "unknown";
}

std::string SnippetFormat::header(std::string_view path, std::string_view comment) const {
  if (!file_separator.empty()) return fmt::format("{}{}\n", file_separator, path);
  return fmt::format("{} {}\n", comment.empty() ? "//" : comment, path);
}

size_t default_budget(size_t n_ctx, size_t generation_reserve) {
  constexpr size_t kMax = 128 * 1024;
  if (n_ctx <= generation_reserve) return std::min(n_ctx / 2, kMax);
  return std::min(n_ctx - generation_reserve, kMax);
}

Snippet PackedContext::cursor_snippet(const TokenCounter& counter) const {
  Snippet s;
  s.path = cursor_path;
  s.start_line = prefix_start_line;
  s.end_line = suffix_end_line;
  s.section = Section::kCursor;
  s.text = cursor_header + prefix + suffix;
  s.tokens = counter.count(s.text);
  return s;
}

namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

constexpr uint32_t kPrefixQuantum = 16;  // the prefix window starts on a multiple of this line
constexpr size_t kLeftoverQuantum = 64;  // leftover cursor budget is shared in steps of this
constexpr size_t kMinUseful = 12;        // below this many tokens a section stops trying

// A text split into lines, with its secret spans; line(i) is redacted and keeps its '\n'.
class TextLines {
 public:
  explicit TextLines(std::string_view text) : text_(text), secrets_(workspace::find_secrets(text)) {
    starts_.push_back(0);
    for (uint32_t i = 0; i < text.size(); ++i) {
      if (text[i] == '\n' && i + 1 < text.size()) starts_.push_back(i + 1);
    }
    if (text.empty()) starts_.clear();
  }
  uint32_t n_lines() const { return static_cast<uint32_t>(starts_.size()); }
  uint32_t begin_of(uint32_t line) const { return line < starts_.size() ? starts_[line] : static_cast<uint32_t>(text_.size()); }
  uint32_t end_of(uint32_t line) const { return begin_of(line + 1); }
  uint32_t line_of(uint32_t byte) const {
    if (starts_.empty()) return 0;
    auto it = std::upper_bound(starts_.begin(), starts_.end(), byte);
    return static_cast<uint32_t>(it - starts_.begin()) - 1;
  }
  std::string range(uint32_t b, uint32_t e) const { return workspace::redact_range(text_, b, e, secrets_); }
  std::string line(uint32_t i) const { return range(begin_of(i), end_of(i)); }
  // Lines [first, last) joined, ending with '\n'.
  std::string lines(uint32_t first, uint32_t last) const {
    std::string s = range(begin_of(first), begin_of(last));
    if (!s.empty() && s.back() != '\n') s += '\n';
    return s;
  }
  std::string_view raw_line(uint32_t i) const { return text_.substr(begin_of(i), end_of(i) - begin_of(i)); }

 private:
  std::string_view text_;
  std::vector<ByteSpan> secrets_;
  std::vector<uint32_t> starts_;
};

bool is_ident_start(unsigned char c) { return std::isalpha(c) || c == '_' || c == '$'; }
bool is_ident_char(unsigned char c) { return std::isalnum(c) || c == '_' || c == '$'; }

double kind_weight(SymbolKind k) {
  switch (k) {
    case SymbolKind::kFunction:
    case SymbolKind::kMethod:
    case SymbolKind::kClass:
    case SymbolKind::kStruct:
    case SymbolKind::kInterface:
    case SymbolKind::kTrait:
    case SymbolKind::kEnum:
    case SymbolKind::kType:
      return 1.0;
    case SymbolKind::kConstant:
    case SymbolKind::kMacro:
      return 0.7;
    case SymbolKind::kModule:
      return 0.3;
    default:
      return 0.5;
  }
}

bool outline_kind(const Definition& d) {
  switch (d.kind) {
    case SymbolKind::kFunction:
    case SymbolKind::kMethod:
    case SymbolKind::kClass:
    case SymbolKind::kStruct:
    case SymbolKind::kInterface:
    case SymbolKind::kTrait:
    case SymbolKind::kEnum:
    case SymbolKind::kType:
    case SymbolKind::kModule:
      return true;
    case SymbolKind::kConstant:
    case SymbolKind::kMacro:
      return d.container.empty();
    default:
      return false;
  }
}

std::string_view dir_of(std::string_view p) {
  const size_t s = p.find_last_of('/');
  return s == std::string_view::npos ? std::string_view() : p.substr(0, s);
}

// A definition's signature indented like its source line (the column of its start).
std::string indented_signature(const workspace::FileSymbols& symbols, const Definition& d, bool first_line_only) {
  std::string_view sig = symbols.signature(d);
  if (first_line_only) sig = sig.substr(0, sig.find('\n'));
  std::string out(std::min<uint32_t>(d.range.start.column, 40), ' ');
  out.append(sig);
  out += '\n';
  return out;
}

std::string_view comment_of(const grammars::Language* lang) {
  return lang && !lang->line_comment.empty() ? lang->line_comment : std::string_view("//");
}

struct Candidate {
  double score = 0;
  FileId file = 0;
  uint32_t def_index = 0;
  std::string path;
  uint32_t line = 0;
};

}  // namespace

struct ContextEngine::Impl {
  const SymbolIndex& index;
  const TokenCounter& base;
  CachingCounter counter;
  ContextOptions opt;
  RepoRanker ranker;

  Impl(const SymbolIndex& i, const TokenCounter& c, ContextOptions o)
      : index(i), base(c), counter(c), opt(std::move(o)) {}

  // ---- per-request state ------------------------------------------------------------
  struct Request {
    const ContextRequest* req = nullptr;
    const SymbolIndex::View* view = nullptr;
    const FileEntry* self = nullptr;    // the cursor file's index entry (null if not indexed)
    FileEntry self_probe;               // stand-in for resolution when it is not indexed
    const FileSymbols* syms = nullptr;  // the cursor document's symbols
    // The names the cursor document references, with counts (an indexed file keeps these,
    // not its references' positions).
    const std::vector<workspace::NameCount>* ref_names = nullptr;
    std::vector<workspace::NameCount> parsed_ref_names;
    FileSymbols parsed;                 // when parsed here
    std::string display;
    const grammars::Language* lang = nullptr;
    std::unique_ptr<TextLines> cur;
    uint32_t cursor_line = 0;
    uint32_t visible_first = 0, visible_last = 0;  // estimated cursor window (0-based, inclusive)
    std::unordered_set<FileId> imported_files;
    std::unordered_map<std::string, std::set<FileId>> imported_names;
    std::map<FileId, std::unique_ptr<TextLines>> texts;  // other files' texts, by id
    std::vector<std::unique_ptr<std::string>> owned;     // their storage
    std::vector<std::unique_ptr<TextLines>> extra_texts;  // texts of files not in the index
    std::set<FileId> complete_in_repo_map;  // files whose repo-map entry lists every outline entry
    // Chosen line ranges per file (0-based inclusive), to avoid repeating code.
    std::map<std::string, std::vector<std::pair<uint32_t, uint32_t>>> shown;
  };

  const TextLines* text_of(Request& r, const FileEntry& f) const {
    auto it = r.texts.find(f.id);
    if (it != r.texts.end()) return it->second.get();
    auto text = index.entry_text(f);
    if (!text.ok()) {
      r.texts[f.id] = nullptr;
      return nullptr;
    }
    r.owned.push_back(std::make_unique<std::string>(std::move(text).value()));
    auto lines = std::make_unique<TextLines>(*r.owned.back());
    const TextLines* p = lines.get();
    r.texts[f.id] = std::move(lines);
    return p;
  }

  static bool overlaps_shown(const Request& r, const std::string& path, uint32_t a, uint32_t b) {
    auto it = r.shown.find(path);
    if (it == r.shown.end()) return false;
    return std::any_of(it->second.begin(), it->second.end(),
                       [&](const auto& s) { return a <= s.second && s.first <= b; });
  }

  Snippet make_snippet(const std::string& path, const grammars::Language* lang, Section section, uint32_t first,
                       uint32_t last, std::string body, const ContextRequest& req, double score) const {
    Snippet s;
    s.path = path;
    s.start_line = first + 1;
    s.end_line = last + 1;
    s.section = section;
    s.text = req.format.header(path, comment_of(lang)) + body;
    if (!s.text.empty() && s.text.back() != '\n') s.text += '\n';
    s.tokens = counter.count(s.text);
    s.score = score;
    return s;
  }

  // ---- 5. repo map ------------------------------------------------------------------
  size_t select_repo_map(Request& r, size_t cap, std::vector<Snippet>* out) const {
    if (cap < kMinUseful) return 0;
    const auto ranked = ranker.rank(*r.view, r.self ? std::optional<FileId>(r.self->id) : std::nullopt);
    size_t used = 0;
    size_t misses = 0;
    for (const RankedFile& rf : *ranked) {
      if (cap - used < kMinUseful || misses > 8) break;
      const FileEntry* f = r.view->file(rf.id);
      if (!f) continue;
      // The file's most referenced definitions, shown in file order.
      std::vector<std::pair<uint64_t, uint32_t>> picks;
      for (uint32_t i = 0; i < f->symbols.definitions.size(); ++i) {
        const Definition& d = f->symbols.definitions[i];
        if (!outline_kind(d)) continue;
        uint64_t refs = 0;
        for (const auto& rc : r.view->referencing_files(d.name)) {
          if (rc.file != f->id) refs += rc.count;
        }
        picks.push_back({refs, i});
      }
      if (picks.empty()) continue;
      std::stable_sort(picks.begin(), picks.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
      const bool complete = picks.size() <= opt.max_repo_map_defs_per_file;
      if (picks.size() > opt.max_repo_map_defs_per_file) picks.resize(opt.max_repo_map_defs_per_file);
      std::sort(picks.begin(), picks.end(), [](const auto& a, const auto& b) { return a.second < b.second; });
      std::string body;
      uint32_t first = UINT32_MAX, last = 0;
      for (const auto& [refs, i] : picks) {
        const Definition& d = f->symbols.definitions[i];
        body += indented_signature(f->symbols, d, true);
        first = std::min(first, d.range.start.row);
        last = std::max(last, d.range.start.row);
      }
      Snippet s = make_snippet(f->path, f->language, Section::kRepoMap, first, last, std::move(body), *r.req, rf.rank);
      if (used + s.tokens > cap) {
        ++misses;
        continue;
      }
      used += s.tokens;
      if (complete) r.complete_in_repo_map.insert(f->id);
      out->push_back(std::move(s));
    }
    return used;
  }

  // ---- 3. outlines ------------------------------------------------------------------
  size_t select_outlines(Request& r, size_t cap, std::vector<Snippet>* out) const {
    if (cap < kMinUseful) return 0;
    std::map<FileId, double> score;
    for (FileId id : r.imported_files) score[id] += 1.0;
    // Files that define what the cursor file references, by uses (names in text order: a
    // fixed order of the sums below).
    std::vector<workspace::NameCount> uses(r.ref_names->begin(), r.ref_names->end());
    std::sort(uses.begin(), uses.end(), [](const auto& x, const auto& y) { return x.name.view() < y.name.view(); });
    for (const auto& [name, n] : uses) {
      const auto defs = r.view->definitions_of(name);
      std::set<FileId> files;
      for (const auto& d : defs) files.insert(d.file);
      if (files.empty() || files.size() > 5) continue;
      for (FileId id : files) score[id] += 0.05 * n / files.size();
    }
    if (r.self) score.erase(r.self->id);
    // A file whose every outline entry the repo map already shows needs no outline.
    for (FileId id : r.complete_in_repo_map) score.erase(id);
    std::vector<std::pair<double, const FileEntry*>> files;
    for (const auto& [id, s] : score) {
      if (const FileEntry* f = r.view->file(id)) files.push_back({std::min(s, 1.5), f});
    }
    std::sort(files.begin(), files.end(), [](const auto& a, const auto& b) {
      if (a.first != b.first) return a.first > b.first;
      return a.second->path < b.second->path;
    });
    size_t used = 0;
    for (const auto& [s, f] : files) {
      if (cap - used < kMinUseful) break;
      std::string body;
      uint32_t first = UINT32_MAX, last = 0, n = 0;
      for (const Definition& d : f->symbols.definitions) {
        if (!outline_kind(d)) continue;
        if (++n > opt.max_outline_entries) break;
        body += indented_signature(f->symbols, d, false);
        first = std::min(first, d.range.start.row);
        last = std::max(last, d.range.start.row);
      }
      if (body.empty()) continue;
      Snippet snip = make_snippet(f->path, f->language, Section::kOutline, first, last, std::move(body), *r.req, s);
      if (used + snip.tokens > cap) continue;
      used += snip.tokens;
      out->push_back(std::move(snip));
    }
    std::sort(out->begin(), out->end(), [](const Snippet& a, const Snippet& b) { return a.path < b.path; });
    return used;
  }

  // ---- 2. definitions ---------------------------------------------------------------
  // Identifiers near the cursor, weighted by proximity (lines before the cursor count more).
  std::vector<std::pair<std::string, double>> identifiers_near_cursor(const Request& r) const {
    const TextLines& cur = *r.cur;
    const uint32_t L = r.cursor_line;
    const uint32_t first = L > 30 ? L - 30 : 0;
    const uint32_t last = std::min(cur.n_lines(), L + 11);
    std::map<std::string, double> weight;
    // The word touching the cursor is being typed: it is no context (and it changes on
    // every keystroke). Its other occurrences count.
    const uint32_t cursor = r.req->cursor_byte;
    for (uint32_t l = first; l < last; ++l) {
      const std::string_view line = cur.raw_line(l);
      const uint32_t line_begin = cur.begin_of(l);
      const double w = (l <= L ? 1.0 : 0.6) / (1.0 + std::abs(static_cast<double>(l) - L) / 6.0);
      size_t i = 0;
      while (i < line.size()) {
        if (!is_ident_start(static_cast<unsigned char>(line[i]))) {
          ++i;
          continue;
        }
        size_t j = i + 1;
        while (j < line.size() && is_ident_char(static_cast<unsigned char>(line[j]))) ++j;
        const std::string_view id = line.substr(i, j - i);
        const bool at_cursor = line_begin + i <= cursor && cursor <= line_begin + j;
        if (id.size() >= 2 && !at_cursor) weight[std::string(id)] += w;
        i = j;
      }
    }
    return {weight.begin(), weight.end()};
  }

  std::string render_definition(Request& r, const FileEntry& f, const Definition& d, uint32_t* first_out,
                                uint32_t* last_out) const {
    const TextLines* t = text_of(r, f);
    if (!t || d.range.start.row >= t->n_lines()) return {};
    uint32_t first = d.range.start.row;
    uint32_t last = d.range.end.row;
    if (d.range.end.column == 0 && last > first) --last;
    last = std::min(last, t->n_lines() - 1);
    // Doc comments and decorators right above the definition come with it.
    const std::string_view comment = comment_of(f.language);
    for (int k = 0; k < 12 && first > 0; ++k) {
      std::string_view above = t->raw_line(first - 1);
      while (!above.empty() && (above.front() == ' ' || above.front() == '\t')) above.remove_prefix(1);
      if (above.starts_with("@") || above.starts_with(comment) || above.starts_with("/*") ||
          above.starts_with("*") || above.starts_with("#[")) {
        --first;
      } else {
        break;
      }
    }
    *first_out = first;
    *last_out = last;
    const size_t n_lines = last - first + 1;
    if (n_lines <= opt.max_definition_lines) return t->lines(first, last + 1);
    if (workspace::is_type_kind(d.kind)) {
      // A large type: its own lines up to the body, then its members' signatures.
      std::string body = t->lines(first, d.range.start.row) + indented_signature(f.symbols, d, false);
      size_t n = 0;
      for (const Definition& m : f.symbols.definitions) {
        if (m.range.start_byte <= d.range.start_byte || m.range.end_byte > d.range.end_byte) continue;
        if (!outline_kind(m) || ++n > opt.max_outline_entries) continue;
        body += indented_signature(f.symbols, m, false);
      }
      return body;
    }
    const uint32_t keep = static_cast<uint32_t>(opt.max_definition_lines * 4 / 5);
    return t->lines(first, first + keep) +
           std::string(std::min<uint32_t>(d.range.start.column, 40) + 4, ' ') + std::string(comment) + " ...\n";
  }

  size_t select_definitions(Request& r, size_t cap, std::vector<Snippet>* out) const {
    if (cap < kMinUseful) return 0;
    const auto idents = identifiers_near_cursor(r);
    const std::string_view self_dir = dir_of(r.display);
    std::vector<Candidate> cands;
    for (const auto& [name, use] : idents) {
      const auto defs = r.view->definitions(name);
      if (defs.empty()) continue;
      const double ambiguity = 1.0 + 0.5 * std::log(static_cast<double>(defs.size()));
      const auto named = r.imported_names.find(name);
      std::vector<Candidate> mine;
      for (const DefRef& dr : defs) {
        const FileEntry* f = r.view->file(dr.file);
        if (!f) continue;
        const Definition& d = r.view->definition(dr);
        double conf;
        if (r.self && f->id == r.self->id) {
          if (d.range.start.row <= r.visible_last && r.visible_first <= d.range.end.row) continue;  // in view
          conf = 0.7;
        } else {
          conf = dir_of(f->path) == self_dir ? 0.45 : 0.25;
          if (r.imported_files.count(f->id)) conf = 0.8;
          if (named != r.imported_names.end() && named->second.count(f->id)) conf = 1.0;
          if (!d.container.empty()) {
            auto c = r.imported_names.find(d.container.str());
            if (c != r.imported_names.end() && c->second.count(f->id)) conf = std::max(conf, 0.95);
          }
        }
        // A name defined in several unrelated places: none of them is likely the one meant.
        if (conf < 0.4 && defs.size() > 2) continue;
        mine.push_back({use * conf * kind_weight(d.kind) / ambiguity, f->id, dr.index, f->path, d.range.start.row});
      }
      std::sort(mine.begin(), mine.end(), [](const Candidate& a, const Candidate& b) {
        if (a.score != b.score) return a.score > b.score;
        return std::tie(a.path, a.line) < std::tie(b.path, b.line);
      });
      if (mine.size() > 3) mine.resize(3);
      cands.insert(cands.end(), mine.begin(), mine.end());
    }
    std::sort(cands.begin(), cands.end(), [](const Candidate& a, const Candidate& b) {
      if (a.score != b.score) return a.score > b.score;
      return std::tie(a.path, a.line) < std::tie(b.path, b.line);
    });
    size_t used = 0;
    for (const Candidate& c : cands) {
      if (cap - used < kMinUseful) break;
      const FileEntry* f = r.view->file(c.file);
      const Definition& d = f->symbols.definitions[c.def_index];
      uint32_t first = 0, last = 0;
      std::string body = render_definition(r, *f, d, &first, &last);
      if (body.empty() || overlaps_shown(r, f->path, first, last)) continue;
      Snippet s = make_snippet(f->path, f->language, Section::kDefinition, first, last, std::move(body), *r.req, c.score);
      if (used + s.tokens > cap) continue;
      used += s.tokens;
      r.shown[f->path].push_back({first, last});
      out->push_back(std::move(s));
    }
    std::sort(out->begin(), out->end(), [](const Snippet& a, const Snippet& b) {
      return std::tie(a.path, a.start_line) < std::tie(b.path, b.start_line);
    });
    return used;
  }

  // ---- 4. similar windows -------------------------------------------------------------
  size_t select_similar(Request& r, size_t cap, std::vector<Snippet>* out) const {
    if (cap < kMinUseful || r.req->recent.empty()) return 0;
    const uint32_t L = r.cursor_line;
    const uint32_t qfirst = L > opt.similar_window_lines ? L - static_cast<uint32_t>(opt.similar_window_lines) : 0;
    const TokenSet query(r.cur->lines(qfirst, L));
    if (query.empty()) return 0;
    struct Found {
      double score;
      std::string path;
      const grammars::Language* lang;
      const TextLines* text;
      SimilarWindow w;
    };
    std::vector<Found> found;
    std::set<std::string> seen;
    for (size_t rank = 0; rank < r.req->recent.size(); ++rank) {
      const RecentFile& rf = r.req->recent[rank];
      const Admission adm = rf.text ? index.admit_document(rf.path, *rf.text) : index.admit(rf.path, true);
      if (!adm.ok() || !seen.insert(adm.abs_path).second) continue;
      if (r.self && adm.abs_path == r.self->abs_path) continue;
      if (!r.self && adm.display_path == r.display) continue;
      const TextLines* text = nullptr;
      if (!rf.text) {
        if (const FileEntry* f = r.view->find(adm.abs_path)) text = text_of(r, *f);
      }
      if (!text) {
        if (rf.text) {
          r.owned.push_back(std::make_unique<std::string>(*rf.text));
        } else {
          auto t = read_admitted(adm.abs_path);
          if (!t.ok()) continue;
          r.owned.push_back(std::make_unique<std::string>(std::move(t).value()));
        }
        r.extra_texts.push_back(std::make_unique<TextLines>(*r.owned.back()));
        text = r.extra_texts.back().get();
      }
      const double recency = 1.0 / (1.0 + 0.2 * static_cast<double>(rank));
      std::string joined = text->lines(0, text->n_lines());
      for (const SimilarWindow& w : best_windows(joined, query, static_cast<uint32_t>(opt.similar_window_lines), 2,
                                                 opt.min_similarity)) {
        found.push_back({w.score * recency, adm.display_path, grammars::language_for_path(adm.abs_path), text, w});
      }
    }
    std::stable_sort(found.begin(), found.end(), [](const Found& a, const Found& b) {
      if (a.score != b.score) return a.score > b.score;
      return std::tie(a.path, a.w.start_line) < std::tie(b.path, b.w.start_line);
    });
    size_t used = 0, n = 0;
    for (const Found& f : found) {
      if (cap - used < kMinUseful || n >= opt.max_similar_windows) break;
      const uint32_t last = f.w.end_line - 1;
      if (overlaps_shown(r, f.path, f.w.start_line, last)) continue;
      Snippet s = make_snippet(f.path, f.lang, Section::kSimilar, f.w.start_line, last,
                               f.text->lines(f.w.start_line, f.w.end_line), *r.req, f.score);
      if (used + s.tokens > cap) continue;
      used += s.tokens;
      ++n;
      r.shown[f.path].push_back({f.w.start_line, last});
      out->push_back(std::move(s));
    }
    std::sort(out->begin(), out->end(), [](const Snippet& a, const Snippet& b) {
      return std::tie(a.path, a.start_line) < std::tie(b.path, b.start_line);
    });
    return used;
  }

  Result<std::string> read_admitted(const std::string& abs) const {
    FILE* f = std::fopen(abs.c_str(), "rb");
    if (!f) return make_error(ErrorCode::kIo, fmt::format("cannot read '{}'", abs));
    std::string s;
    char buf[65536];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
    std::fclose(f);
    if (workspace::is_binary(s)) return make_error(ErrorCode::kInvalidArgument, fmt::format("'{}' is binary", abs));
    return s;
  }
};

ContextEngine::ContextEngine(const SymbolIndex& index, const TokenCounter& counter, ContextOptions options)
    : impl_(std::make_unique<Impl>(index, counter, std::move(options))) {}

ContextEngine::~ContextEngine() = default;

const TokenCounter& ContextEngine::counter() const { return impl_->counter; }

Result<PackedContext> ContextEngine::pack(const ContextRequest& req) const {
  const auto t_start = Clock::now();
  const Impl& im = *impl_;
  if (req.cursor_byte > req.text.size()) {
    return make_error(ErrorCode::kOutOfRange, fmt::format("cursor at byte {} is past the end of '{}' ({} bytes)",
                                                          req.cursor_byte, req.path, req.text.size()));
  }
  const Admission adm = im.index.admit_document(req.path, req.text);
  if (adm.verdict == Verdict::kSecret) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("'{}' is a secret file: no context is built for it", req.path));
  }
  if (adm.verdict == Verdict::kBinary) {
    return make_error(ErrorCode::kInvalidArgument, fmt::format("'{}' is binary: no context is built for it", req.path));
  }

  Impl::Request r;
  r.req = &req;
  r.display = adm.root >= 0 && !adm.display_path.empty() ? adm.display_path : req.path;
  r.lang = grammars::language_for_path(req.path);
  const SymbolIndex::View view = im.index.view();
  r.view = &view;
  if (adm.root >= 0) r.self = view.find(adm.abs_path);
  const bool self_current = r.self && (r.self->document_text ? *r.self->document_text == req.text
                                                             : r.self->n_bytes == req.text.size());
  if (self_current) {
    r.syms = &r.self->symbols;
    r.ref_names = &r.self->ref_names;
  } else {
    if (r.lang) {
      thread_local workspace::TagExtractor extractor;
      auto tree = extractor.parse(*r.lang, req.text, nullptr, workspace::find_secrets(req.text), &r.parsed);
      if (!tree.ok()) r.parsed = FileSymbols{};
    }
    r.syms = &r.parsed;
    r.parsed_ref_names = workspace::count_reference_names(r.parsed);
    r.ref_names = &r.parsed_ref_names;
  }
  // Imports of the cursor file, resolved.
  const FileEntry* resolver_self = r.self;
  if (!resolver_self && r.lang) {
    r.self_probe.path = r.display;
    r.self_probe.language = r.lang;
    resolver_self = &r.self_probe;
  }
  if (resolver_self) {
    for (const auto& imp : r.syms->imports) {
      for (FileId id : view.resolve(*resolver_self, imp)) {
        if (r.self && id == r.self->id) continue;
        r.imported_files.insert(id);
        if (!imp.name.empty()) r.imported_names[imp.name.str()].insert(id);
      }
    }
  }

  PackedContext out;
  out.cursor_path = r.display;
  const size_t B = req.budget_tokens ? req.budget_tokens : im.opt.default_budget;
  out.budget = B;
  out.cursor_header = req.format.header(r.display, comment_of(r.lang));
  const size_t H = im.counter.count(out.cursor_header);
  const size_t B_eff = B > H ? B - H : 0;

  // ---- the cursor file's windows (1) ----
  const auto t_cursor = Clock::now();
  r.cur = std::make_unique<TextLines>(req.text);
  const TextLines& cur = *r.cur;
  const uint32_t L = cur.line_of(req.cursor_byte);
  r.cursor_line = L;
  const uint32_t line_b = cur.begin_of(L), line_e = cur.end_of(L);
  const std::string prefix_part = cur.range(line_b, req.cursor_byte);
  const std::string suffix_part = cur.range(req.cursor_byte, line_e);
  auto line_tokens = [&](uint32_t i) { return im.counter.count(cur.line(i)); };
  const size_t cursor_share = static_cast<size_t>(im.opt.shares[4] * B_eff);
  const size_t suffix_cap = std::min(static_cast<size_t>(im.opt.suffix_share * B_eff), cursor_share / 2);
  // Suffix window: the rest of the cursor line, then whole lines while they fit.
  std::string suffix = suffix_part;
  size_t suffix_tokens = im.counter.count(suffix_part);
  uint32_t suffix_end = L;  // last line included (0-based)
  if (suffix_tokens > suffix_cap) {
    suffix.clear();  // a giant line: nothing after the cursor
    suffix_tokens = 0;
  } else {
    for (uint32_t i = L + 1; i < cur.n_lines(); ++i) {
      const size_t t = line_tokens(i);
      if (suffix_tokens + t > suffix_cap) break;
      suffix_tokens += t;
      suffix_end = i;
    }
    if (suffix_end > L) suffix += cur.lines(L + 1, suffix_end + 1);
  }
  // How far back the prefix can reach within `alloc` tokens (line granularity).
  const size_t prefix_part_tokens = im.counter.count(prefix_part);
  auto prefix_start = [&](size_t alloc, size_t* used, bool* whole) {
    size_t acc = prefix_part_tokens;
    uint32_t s = L;
    while (s > 0) {
      const size_t t = line_tokens(s - 1);
      if (acc + t > alloc) break;
      acc += t;
      --s;
    }
    *whole = s == 0 && acc <= alloc;
    *used = acc;
    return s;
  };
  const size_t prefix_base = cursor_share > suffix_tokens ? cursor_share - suffix_tokens : 0;
  size_t prefix_need = 0;
  bool whole_prefix = false;
  const uint32_t est_start = prefix_start(prefix_base, &prefix_need, &whole_prefix);
  size_t leftover = whole_prefix && prefix_base > prefix_need ? prefix_base - prefix_need : 0;
  leftover = leftover / kLeftoverQuantum * kLeftoverQuantum;
  r.visible_first = est_start;
  r.visible_last = suffix_end;
  out.section_ms[4] = ms_since(t_cursor);

  // ---- sections in prompt order, unused budget flowing forward ----
  double other_shares = 0;
  for (size_t s = 0; s < 4; ++s) other_shares += im.opt.shares[s];
  std::array<std::vector<Snippet>, 4> chosen;
  size_t carry = 0, used_total = 0;
  for (size_t s = 0; s < 4; ++s) {
    const auto t0 = Clock::now();
    const double share = im.opt.shares[s];
    const size_t cap = static_cast<size_t>(share * B_eff) +
                       (other_shares > 0 ? static_cast<size_t>(leftover * share / other_shares) : 0) + carry;
    size_t used = 0;
    switch (static_cast<Section>(s)) {
      case Section::kRepoMap: used = im.select_repo_map(r, cap, &chosen[s]); break;
      case Section::kOutline: used = im.select_outlines(r, cap, &chosen[s]); break;
      case Section::kDefinition: used = im.select_definitions(r, cap, &chosen[s]); break;
      case Section::kSimilar: used = im.select_similar(r, cap, &chosen[s]); break;
      default: break;
    }
    carry = cap > used ? cap - used : 0;
    used_total += used;
    out.section_ms[s] = ms_since(t0);
  }

  // ---- the prefix window gets what is left ----
  const auto t_prefix = Clock::now();
  const size_t prefix_alloc = B_eff > used_total + suffix_tokens ? B_eff - used_total - suffix_tokens : 0;
  size_t prefix_used = 0;
  bool whole = false;
  uint32_t start = prefix_start(prefix_alloc, &prefix_used, &whole);
  if (start > 0) start = std::min(L, (start + kPrefixQuantum - 1) / kPrefixQuantum * kPrefixQuantum);
  std::string prefix = cur.lines(start, L);
  if (start == L) prefix.clear();
  prefix += prefix_part;
  if (prefix_part_tokens > prefix_alloc) {
    // Not even the cursor line fits: keep its end, cut at a UTF-8 boundary.
    size_t keep = std::min(prefix_part.size(), prefix_alloc * 2);
    size_t cut = prefix_part.size() - keep;
    while (cut < prefix_part.size() && (static_cast<unsigned char>(prefix_part[cut]) & 0xC0) == 0x80) ++cut;
    prefix = prefix_part.substr(cut);
  }
  out.section_ms[4] += ms_since(t_prefix);

  // ---- the suffix stays a small part of the prompt ----
  {
    size_t rest = H + (prefix_part_tokens <= prefix_alloc ? prefix_used : prefix_alloc);
    for (size_t s = 0; s < 4; ++s) {
      for (const auto& snip : chosen[s]) rest += snip.tokens;
    }
    // ...but a small file's suffix is not cut to nothing: up to min_suffix_tokens stay.
    const size_t limit = std::max(static_cast<size_t>(im.opt.max_suffix_ratio * static_cast<double>(rest)),
                                  std::min(im.opt.min_suffix_tokens, suffix_cap));
    if (suffix_tokens > limit) {
      size_t acc = im.counter.count(suffix_part);
      if (acc > limit) {
        suffix.clear();
        suffix_end = L;
      } else {
        uint32_t e = L;
        for (uint32_t i = L + 1; i <= suffix_end; ++i) {
          const size_t t = line_tokens(i);
          if (acc + t > limit) break;
          acc += t;
          e = i;
        }
        suffix_end = e;
        suffix = suffix_part;
        if (e > L) suffix += cur.lines(L + 1, e + 1);
      }
    }
  }

  // ---- assemble, then make sure of the exact count ----
  for (size_t s = 0; s < 4; ++s) {
    for (auto& snip : chosen[s]) out.snippets.push_back(std::move(snip));
  }
  out.prefix = std::move(prefix);
  out.suffix = std::move(suffix);
  out.prefix_start_line = start + 1;
  out.suffix_end_line = suffix_end + 1;
  auto rebuild_context = [&] {
    out.context.clear();
    for (const auto& s : out.snippets) out.context += s.text;
  };
  rebuild_context();
  out.tokens = im.base.count(out.prompt());
  while (out.tokens > B) {
    // Drop the least valuable snippet (similar, then definitions, outlines, repo map),
    // then shorten the cursor windows.
    bool dropped = false;
    for (Section sec : {Section::kSimilar, Section::kDefinition, Section::kOutline, Section::kRepoMap}) {
      int worst = -1;
      for (size_t i = 0; i < out.snippets.size(); ++i) {
        if (out.snippets[i].section != sec) continue;
        if (worst < 0 || out.snippets[i].score < out.snippets[worst].score) worst = static_cast<int>(i);
      }
      if (worst >= 0) {
        out.snippets.erase(out.snippets.begin() + worst);
        dropped = true;
        break;
      }
    }
    if (!dropped) {
      if (!out.suffix.empty() && out.suffix.size() > out.prefix.size() / 4) {
        out.suffix.resize(out.suffix.size() / 2);
        while (!out.suffix.empty() && (static_cast<unsigned char>(out.suffix.back()) & 0xC0) == 0x80) out.suffix.pop_back();
        if (!out.suffix.empty() && (static_cast<unsigned char>(out.suffix.back()) & 0xC0) == 0xC0) out.suffix.pop_back();
      } else if (!out.prefix.empty()) {
        size_t cut = out.prefix.size() / 4 + 1;
        while (cut < out.prefix.size() && (static_cast<unsigned char>(out.prefix[cut]) & 0xC0) == 0x80) ++cut;
        out.prefix.erase(0, cut);
      } else if (!out.suffix.empty()) {
        out.suffix.clear();
      } else {
        out.cursor_header.clear();
      }
    }
    rebuild_context();
    out.tokens = im.base.count(out.prompt());
  }
  // Line numbers (1-based) of what was kept: the prefix holds whole lines before the
  // cursor line plus its start; the suffix the rest of the cursor line and whole lines.
  const uint32_t prefix_lines = static_cast<uint32_t>(std::count(out.prefix.begin(), out.prefix.end(), '\n'));
  out.prefix_start_line = L + 1 - std::min(L, prefix_lines);
  const uint32_t suffix_lines = static_cast<uint32_t>(std::count(out.suffix.begin(), out.suffix.end(), '\n'));
  if (out.suffix.empty()) out.suffix_end_line = L + 1;
  else if (out.suffix.back() == '\n') out.suffix_end_line = L + suffix_lines;
  else out.suffix_end_line = L + suffix_lines + 1;
  size_t snippet_tokens = 0;
  for (const auto& s : out.snippets) {
    out.section_tokens[static_cast<size_t>(s.section)] += s.tokens;
    snippet_tokens += s.tokens;
  }
  out.section_tokens[4] = out.tokens > snippet_tokens ? out.tokens - snippet_tokens : 0;
  out.total_ms = ms_since(t_start);
  return out;
}

}  // namespace moecode::context
