// `moecode review [--base REV | --staged] [PATHS...] [--format text|json|sarif|github]
//                 [--fail-on error|warning|note] [-o FILE]`:
// reviews a git diff with the model, hunk by hunk, with the changed definitions and their
// callers (the workspace index) as context, and prints validated findings. Which diff:
//   default   the uncommitted changes (HEAD vs the index and the working tree) when there are
//             any, else the last commit (vs its parent; a root commit vs the empty tree);
//   --staged  HEAD vs the index;  --base REV  REV vs the index and the working tree.
// PATHS limit the files. Deleted, binary, ignored, secret and oversize files are skipped
// (listed); secrets in the text are redacted before any prompt.
// Exit codes: 0 done (no finding at or above --fail-on), 1 a finding at or above --fail-on,
// 2 bad arguments, no repository, an unknown revision, no model.
// Threading: the command's thread only.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <set>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "lsp/assist/review.h"
#include "lsp/cli/assist_args.h"
#include "lsp/cli/commands.h"
#include "lsp/cli/review_report.h"
#include "lsp/workspace/git_diff.h"
#include "lsp/workspace/index.h"
#include "lsp/workspace/secrets.h"

namespace moecode::cli {

namespace {

namespace fs = std::filesystem;

struct ReviewArgs {
  AssistArgs assist;
  std::string base;
  bool staged = false;
  std::vector<std::string> paths;
  std::string format = "text";
  std::string fail_on;
  std::string output;
  int max_hunks = 100;
};

// The callers of a symbol from the workspace index: the call's line with one line around it,
// under the calling definition's first line.
assist::CallerLookup index_callers(std::shared_ptr<workspace::SymbolIndex> index) {
  return [index](const std::string& file, const std::string& symbol, int max) {
    std::vector<assist::CallerSnippet> out;
    workspace::SymbolIndex::View view = index->view();
    for (const workspace::RefCount& rc : view.referencing_files(symbol)) {
      const workspace::FileEntry* f = view.file(rc.file);
      if (!f) continue;
      auto text = index->entry_text(*f);
      if (!text.ok()) continue;
      std::vector<std::string_view> lines;
      for (size_t pos = 0; pos < text->size();) {
        size_t e = text->find('\n', pos);
        if (e == std::string::npos) e = text->size();
        lines.push_back(std::string_view(*text).substr(pos, e - pos));
        pos = e + 1;
      }
      auto refs = index->references_in(*f, *text);
      if (!refs.ok()) continue;
      for (const workspace::Reference& ref : *refs) {
        if (ref.name != symbol || static_cast<int>(out.size()) >= max) continue;
        const workspace::SourceRange range = ref.range();
        const int row = static_cast<int>(range.start.row);
        // The calling definition (the smallest that contains the call), unless it is the
        // symbol's own definition (recursion) in the same file.
        const workspace::Definition* caller = nullptr;
        for (const workspace::Definition& d : f->symbols.definitions) {
          if (d.range.start_byte <= range.start_byte && range.end_byte <= d.range.end_byte &&
              (!caller || d.range.end_byte - d.range.start_byte < caller->range.end_byte - caller->range.start_byte)) {
            caller = &d;
          }
        }
        if (caller && caller->name == symbol && f->path == file) continue;
        std::string snippet;
        const int from = std::max(0, row - 1);
        const int to = std::min(static_cast<int>(lines.size()) - 1, row + 1);
        if (row >= static_cast<int>(lines.size())) continue;  // the file changed since it was indexed
        if (caller && static_cast<int>(caller->range.start.row) < from) {
          snippet += std::string(lines[caller->range.start.row]) + "\n    ...\n";
        }
        for (int l = from; l <= to; ++l) snippet += std::string(lines[static_cast<size_t>(l)]) + "\n";
        const std::vector<workspace::ByteSpan> spans = workspace::find_secrets(snippet);
        if (!spans.empty()) snippet = workspace::redact(snippet, spans);
        out.push_back({symbol, f->path, row + 1, std::move(snippet)});
      }
      if (static_cast<int>(out.size()) >= max) break;
    }
    return out;
  };
}

assist::ReviewFile to_review_file(const workspace::DiffFile& f) {
  assist::ReviewFile rf;
  rf.path = f.path;
  rf.new_text = std::make_shared<const std::string>(f.new_text);
  for (const workspace::DiffHunk& h : f.hunks) {
    assist::ReviewHunk rh;
    rh.new_start = h.new_start;
    rh.new_lines = h.new_lines;
    rh.header = h.header;
    for (const workspace::DiffLine& l : h.lines) rh.lines.push_back({l.origin, l.old_line, l.new_line, l.text});
    rf.hunks.push_back(std::move(rh));
  }
  return rf;
}

class Progress {
 public:
  Progress(size_t total, bool tty) : total_(total), tty_(tty) {}
  void step(size_t done, const std::string& what) {
    if (!tty_) return;
    constexpr size_t kWidth = 24;
    const size_t filled = total_ == 0 ? kWidth : done * kWidth / total_;
    fmt::print(stderr, "\r\033[K[{}{}] {}/{} hunks  {}", std::string(filled, '#'), std::string(kWidth - filled, '.'),
               done, total_, what.substr(0, 60));
    std::fflush(stderr);
  }
  void done() {
    if (tty_) fmt::print(stderr, "\r\033[K");
  }

 private:
  size_t total_;
  bool tty_;
};

void run_review(const ReviewArgs& a) {
  auto fail = [](int code, const std::string& msg) {
    fmt::print(stderr, "moecode review: {}\n", msg);
    exit_code() = code;
  };
  const auto t0 = std::chrono::steady_clock::now();
  auto root = workspace_root(a.assist, ".");
  if (!root.ok()) return fail(2, root.error().message());

  workspace::DiffRequest req;
  req.repo_dir = *root;
  req.mode = a.staged ? workspace::DiffMode::kStaged : !a.base.empty() ? workspace::DiffMode::kBase
                                                                       : workspace::DiffMode::kAuto;
  req.base = a.base;
  const std::string workdir = workspace::enclosing_git_worktree(*root);
  if (workdir.empty()) return fail(2, "'" + *root + "' is not inside a git work tree");
  std::error_code ec;
  const std::string real_workdir = fs::weakly_canonical(workdir, ec).string();
  for (const std::string& p : a.paths) {
    auto inside = path_inside(real_workdir, p);
    if (!inside.ok()) return fail(2, inside.error().message());
    const std::string rel = fs::path(*inside).lexically_relative(real_workdir).generic_string();
    req.paths.push_back(rel == "." ? "" : rel);
  }
  auto diff = workspace::read_diff(req);
  if (!diff.ok()) return fail(2, diff.error().message());

  ReviewReport report;
  report.mode = workspace::diff_mode_name(diff->mode);
  report.description = diff->description;
  report.base_commit = diff->base_commit;
  report.root = diff->workdir;
  for (const workspace::SkippedFile& s : diff->skipped) report.skipped.push_back({s.path, s.reason});
  for (const workspace::DiffFile& f : diff->files) {
    report.files.push_back({f.path, f.status, static_cast<int>(f.hunks.size())});
    report.n_hunks += static_cast<int>(f.hunks.size());
    if (f.n_redacted > 0) {
      report.notes.push_back(fmt::format("{}: {} secret{} redacted before review", f.path, f.n_redacted,
                                         f.n_redacted == 1 ? "" : "s"));
    }
  }
  for (const SkippedPath& s : report.skipped) report.notes.push_back(s.path + ": not reviewed (" + s.reason + ")");
  fmt::print(stderr, "moecode review: reviewing {}: {} {}, {} {}\n", diff->description, diff->files.size(),
             diff->files.size() == 1 ? "file" : "files", report.n_hunks, report.n_hunks == 1 ? "hunk" : "hunks");

  std::unique_ptr<assist::Generator> generator;
  if (report.n_hunks > 0) {
    auto g = make_generator(a.assist);
    if (!g.ok()) return fail(2, g.error().message());
    generator = std::move(*g);
    report.model = generator->describe();
  }

  // Callers from the workspace index (the working tree's files).
  assist::CallerLookup callers;
  if (report.n_hunks > 0 && !a.assist.no_context) {
    workspace::IndexOptions index_options;
    index_options.cache = workspace::ShardCache::open_default();
    auto index = workspace::SymbolIndex::create({diff->workdir}, index_options);
    if (index.ok()) {
      std::shared_ptr<workspace::SymbolIndex> shared(std::move(*index));
      if (auto stats = shared->build(); stats.ok()) {
        callers = index_callers(shared);
      } else {
        report.notes.push_back("no caller context: " + stats.error().message());
      }
    } else {
      report.notes.push_back("no caller context: " + index.error().message());
    }
  }

  const std::set<std::string> diff_paths = [&] {
    std::set<std::string> s;
    for (const workspace::DiffFile& f : diff->files) s.insert(f.path);
    return s;
  }();
  assist::ReviewOptions options;
  if (a.assist.max_tokens > 0) options.max_tokens = a.assist.max_tokens;
  options.temperature = a.assist.temperature;
  Progress progress(static_cast<size_t>(std::min(report.n_hunks, a.max_hunks)), ::isatty(2) != 0);
  size_t done = 0;
  if (generator) {
    assist::Reviewer reviewer(*generator, callers);
    for (const workspace::DiffFile& f : diff->files) {
      const assist::ReviewFile rf = to_review_file(f);
      for (size_t h = 0; h < rf.hunks.size(); ++h) {
        if (static_cast<int>(done) >= a.max_hunks) {
          report.notes.push_back(fmt::format("{}: hunk {} and later not reviewed (--max-hunks {})", f.path, h + 1,
                                             a.max_hunks));
          break;
        }
        progress.step(done, fmt::format("{}:{}", f.path, rf.hunks[h].new_start));
        auto hunk = reviewer.review_hunk(rf, h, options, engine::CancelToken());
        ++done;
        if (!hunk.ok()) {
          report.notes.push_back(fmt::format("{}: hunk at line {} not reviewed: {}", f.path, rf.hunks[h].new_start,
                                             hunk.error().message()));
          continue;
        }
        ++report.n_hunks_reviewed;
        if (a.assist.show_reasoning && !hunk->reasoning.empty()) {
          progress.done();
          fmt::print(stderr, "--- reasoning ({}:{}) ---\n{}\n--- end of reasoning ---\n", f.path, rf.hunks[h].new_start,
                     hunk->reasoning);
        }
        report.notes.insert(report.notes.end(), hunk->notes.begin(), hunk->notes.end());
        for (assist::Finding& finding : hunk->findings) {
          // Defence in depth: a finding only ever points into a file of this diff.
          if (!diff_paths.count(finding.file)) {
            report.notes.push_back("a finding outside the reviewed files was dropped ('" + finding.file + "')");
            continue;
          }
          report.findings.push_back(std::move(finding));
        }
      }
      if (static_cast<int>(done) >= a.max_hunks) break;
    }
    progress.step(done, "done");
    progress.done();
  }
  assist::deduplicate(report.findings, &report.notes);
  assist::sort_findings(report.findings);
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  std::string text;
  const bool to_stdout = a.output.empty() || a.output == "-";
  if (a.format == "json") {
    text = report_json(report).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  } else if (a.format == "sarif") {
    text = report_sarif(report).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  } else if (a.format == "github") {
    text = render_github(report);
    for (const std::string& n : report.notes) fmt::print(stderr, "moecode review: note: {}\n", n);
  } else {
    const char* no_color = std::getenv("NO_COLOR");
    const bool color = to_stdout && ::isatty(1) != 0 && !(no_color && *no_color);
    text = render_text(report, color);
  }
  if (to_stdout) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
  } else if (auto st = write_file_atomic(a.output, text); !st.ok()) {
    return fail(2, st.error().message());
  }
  if (a.format != "text") {
    fmt::print(stderr, "moecode review: {} {} in {} {} ({:.1f} s){}\n", report.findings.size(),
               report.findings.size() == 1 ? "finding" : "findings", report.n_hunks_reviewed,
               report.n_hunks_reviewed == 1 ? "hunk" : "hunks", report.seconds,
               to_stdout ? "" : "; written to " + a.output);
  }
  exit_code() = 0;
  if (!a.fail_on.empty()) {
    assist::Severity threshold = assist::Severity::kError;
    assist::parse_severity(a.fail_on, &threshold);
    if (has_finding_at_least(report, threshold)) exit_code() = 1;
  }
}

}  // namespace

void add_review_command(CLI::App& app) {
  auto args = std::make_shared<ReviewArgs>();
  CLI::App* cmd = app.add_subcommand(
      "review", "Review a git diff with the model (default: uncommitted changes, else the last commit)");
  cmd->add_option("paths", args->paths, "Only these files or folders");
  auto* base = cmd->add_option("--base", args->base, "Review the changes since REV (vs the index and working tree)");
  auto* staged = cmd->add_flag("--staged,--cached", args->staged, "Review the staged changes (HEAD vs the index)");
  base->excludes(staged);
  cmd->add_option("--format,-f", args->format, "Output: text, json, sarif (2.1.0) or github (workflow annotations)")
      ->check(CLI::IsMember({"text", "json", "sarif", "github"}));
  cmd->add_option("--fail-on", args->fail_on, "Exit 1 when a finding at or above this severity exists")
      ->check(CLI::IsMember({"error", "warning", "note"}));
  cmd->add_option("-o,--output", args->output, "Write the output to FILE instead of stdout");
  cmd->add_option("--max-hunks", args->max_hunks, "Review at most this many hunks (default 100)")
      ->check(CLI::Range(1, 1 << 20));
  add_assist_options(cmd, args->assist);
  cmd->callback([args] { run_review(*args); });
}

}  // namespace moecode::cli
