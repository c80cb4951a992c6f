// Import resolution by path stems. Pure functions over a PathTable; thread-compatible.
#include "lsp/workspace/imports.h"

#include <algorithm>

namespace moecode::workspace {

namespace {

std::string_view dir_of(std::string_view p) {
  const size_t s = p.find_last_of('/');
  return s == std::string_view::npos ? std::string_view() : p.substr(0, s);
}

std::string join(std::string_view a, std::string_view b) {
  if (a.empty()) return std::string(b);
  if (b.empty()) return std::string(a);
  return std::string(a) + "/" + std::string(b);
}

// "pkg/mod.py" -> "pkg/mod"; "x.d.ts" -> "x". Only the base name's extension is cut.
std::string_view strip_extension(std::string_view p) {
  const size_t slash = p.find_last_of('/');
  const size_t dot = p.find_last_of('.');
  if (dot == std::string_view::npos || (slash != std::string_view::npos && dot < slash) ||
      dot == (slash == std::string_view::npos ? 0 : slash + 1)) {
    return p;
  }
  std::string_view stem = p.substr(0, dot);
  if (stem.ends_with(".d") && (p.ends_with(".ts") || p.ends_with(".mts") || p.ends_with(".cts"))) {
    stem.remove_suffix(2);
  }
  return stem;
}

bool key_matches(std::string_view key, std::string_view q) {
  return key == q || (key.size() > q.size() && key.ends_with(q) && key[key.size() - q.size() - 1] == '/');
}

std::string replace_all(std::string_view s, std::string_view from, std::string_view to) {
  std::string out;
  out.reserve(s.size());
  size_t pos = 0;
  for (;;) {
    const size_t hit = s.find(from, pos);
    if (hit == std::string_view::npos) break;
    out.append(s.substr(pos, hit - pos));
    out.append(to);
    pos = hit + from.size();
  }
  out.append(s.substr(pos));
  return out;
}

// Orders candidates: a path closer to the importing file (longer shared folder prefix)
// first, then by path, so the result is deterministic.
void rank(std::vector<FileId>* ids, const PathTable& table, std::string_view from_path) {
  auto shared = [&](FileId id) {
    const std::string* p = table.path_of(id);
    if (!p) return size_t{0};
    size_t n = 0, i = 0;
    while (i < p->size() && i < from_path.size() && (*p)[i] == from_path[i]) {
      if ((*p)[i] == '/') n = i;
      ++i;
    }
    return n;
  };
  std::sort(ids->begin(), ids->end(), [&](FileId a, FileId b) {
    const size_t sa = shared(a), sb = shared(b);
    if (sa != sb) return sa > sb;
    return *table.path_of(a) < *table.path_of(b);
  });
  ids->erase(std::unique(ids->begin(), ids->end()), ids->end());
}

void append(std::vector<FileId>* out, const std::vector<FileId>& more) { out->insert(out->end(), more.begin(), more.end()); }

// Only files whose path (from the root) is exactly stem-based at `exact` (no suffix match).
std::vector<FileId> exact_stem(const PathTable& t, const std::string& exact) {
  std::vector<FileId> out;
  for (FileId id : t.by_stem(exact)) {
    const std::string* p = t.path_of(id);
    if (!p) continue;
    const std::string_view s = strip_extension(*p);
    if (s == exact || dir_of(*p) == exact) out.push_back(id);
  }
  return out;
}

}  // namespace

std::string normalize_relative(std::string_view path) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    const std::string_view part = path.substr(start, end - start);
    if (part.empty() || part == ".") {
    } else if (part == "..") {
      if (parts.empty()) return {};
      parts.pop_back();
    } else {
      parts.push_back(part);
    }
    start = end + 1;
  }
  std::string out;
  for (auto p : parts) {
    if (!out.empty()) out += '/';
    out += p;
  }
  return out;
}

std::string_view PathTable::last_component(std::string_view p) {
  const size_t s = p.find_last_of('/');
  return s == std::string_view::npos ? p : p.substr(s + 1);
}

void PathTable::add(FileId id, std::string_view path) {
  paths_[id] = std::string(path);
  const std::string stem(strip_extension(path));
  stems_[std::string(last_component(stem))].push_back({id, stem});
  const std::string_view base = last_component(stem);
  if (base == "__init__" || base == "index" || base == "mod") {
    const std::string pkg(dir_of(stem));
    if (!pkg.empty()) stems_[std::string(last_component(pkg))].push_back({id, pkg});
  }
  const std::string dir(dir_of(path));
  dirs_[std::string(last_component(dir))].push_back({id, dir});
}

void PathTable::remove(FileId id, std::string_view path) {
  auto drop = [id](std::unordered_map<std::string, std::vector<Entry>>& m, const std::string& k) {
    auto it = m.find(k);
    if (it == m.end()) return;
    std::erase_if(it->second, [id](const Entry& e) { return e.id == id; });
    if (it->second.empty()) m.erase(it);
  };
  const std::string stem(strip_extension(path));
  drop(stems_, std::string(last_component(stem)));
  const std::string_view base = last_component(stem);
  if (base == "__init__" || base == "index" || base == "mod") {
    const std::string pkg(dir_of(stem));
    if (!pkg.empty()) drop(stems_, std::string(last_component(pkg)));
  }
  const std::string dir(dir_of(path));
  drop(dirs_, std::string(last_component(dir)));
  paths_.erase(id);
}

std::vector<FileId> PathTable::by_stem(std::string_view stem) const {
  std::vector<FileId> out;
  auto it = stems_.find(std::string(last_component(stem)));
  if (it == stems_.end()) return out;
  for (const Entry& e : it->second) {
    if (key_matches(e.key, stem)) out.push_back(e.id);
  }
  return out;
}

std::vector<FileId> PathTable::in_dir(std::string_view dir) const {
  std::vector<FileId> out;
  auto it = dirs_.find(std::string(last_component(dir)));
  if (it == dirs_.end()) return out;
  for (const Entry& e : it->second) {
    if (key_matches(e.key, dir)) out.push_back(e.id);
  }
  return out;
}

const std::string* PathTable::path_of(FileId id) const {
  auto it = paths_.find(id);
  return it == paths_.end() ? nullptr : &it->second;
}

std::vector<FileId> resolve_import(const PathTable& t, const grammars::Language& lang, std::string_view from_path,
                                   const Import& imp, size_t max_files) {
  const std::string_view from_dir = dir_of(from_path);
  const std::string_view L = lang.name;
  std::vector<FileId> near, far;
  const std::string mod = imp.module.str();

  if (L == "c" || L == "cpp") {
    // Relative to the including file first, then anywhere (-I paths are unknown).
    const std::string rel = normalize_relative(join(from_dir, mod));
    auto with_ext = [&](const std::vector<FileId>& ids, std::string_view want) {
      std::vector<FileId> out;
      for (FileId id : ids) {
        const std::string* p = t.path_of(id);
        if (p && (*p == want || (p->size() > want.size() && p->ends_with(want) && (*p)[p->size() - want.size() - 1] == '/'))) {
          out.push_back(id);
        }
      }
      return out;
    };
    if (!rel.empty()) {
      for (FileId id : with_ext(t.by_stem(strip_extension(rel)), rel)) {
        if (*t.path_of(id) == rel) near.push_back(id);
      }
    }
    if (near.empty()) far = with_ext(t.by_stem(strip_extension(mod)), mod);
  } else if (L == "python") {
    size_t level = 0;
    while (level < mod.size() && mod[level] == '.') ++level;
    const std::string dotted = replace_all(mod.substr(level), ".", "/");
    std::vector<std::string> stems;
    if (!imp.name.empty()) stems.push_back(join(dotted, imp.name));  // a submodule
    if (!dotted.empty()) stems.push_back(dotted);
    if (level > 0) {
      std::string base(from_dir);
      for (size_t i = 1; i < level; ++i) base = std::string(dir_of(base));
      for (const auto& s : stems) {
        const std::string full = normalize_relative(join(base, s));
        if (!full.empty()) append(&near, exact_stem(t, full));
        if (!near.empty()) break;
      }
    } else {
      for (const auto& s : stems) {
        append(&far, t.by_stem(s));
        if (!far.empty()) break;
      }
    }
  } else if (L == "javascript" || L == "typescript" || L == "tsx") {
    if (mod.starts_with("./") || mod.starts_with("../") || mod == "." || mod == "..") {
      const std::string full = normalize_relative(join(from_dir, mod));
      if (!full.empty()) {
        append(&near, exact_stem(t, full));
        const std::string stem(strip_extension(full));
        if (near.empty() && stem != full) append(&near, exact_stem(t, stem));  // "./x.js" -> x.ts
      }
    } else if (mod.starts_with("@/") || mod.starts_with("~/")) {
      append(&far, t.by_stem(std::string(strip_extension(mod.substr(2)))));
    }
    // Bare specifiers ("react") name packages outside the workspace.
  } else if (L == "go") {
    // The longest tail of the import path that names a folder of the workspace.
    std::string_view path = mod;
    while (!path.empty()) {
      std::vector<FileId> ids = t.in_dir(path);
      std::erase_if(ids, [&](FileId id) {
        const std::string* p = t.path_of(id);
        return !p || !p->ends_with(".go") || p->ends_with("_test.go");
      });
      if (!ids.empty()) {
        far = std::move(ids);
        break;
      }
      const size_t s = path.find('/');
      if (s == std::string_view::npos) break;
      path = path.substr(s + 1);
    }
  } else if (L == "rust") {
    std::string path = replace_all(mod, "::", "/");
    bool relative = false;
    std::string base(from_dir);
    for (;;) {
      if (path.starts_with("crate/")) path = path.substr(6);
      else if (path == "crate") path.clear();
      else if (path.starts_with("self/")) path = path.substr(5), relative = true;
      else if (path.starts_with("super/")) path = path.substr(6), relative = true, base = std::string(dir_of(base));
      else break;
    }
    std::vector<std::string> stems;
    if (!imp.name.empty()) stems.push_back(join(path, imp.name));
    if (!path.empty()) stems.push_back(path);
    for (const auto& s : stems) {
      if (relative || (imp.range.start.row == imp.range.end.row && imp.name.empty() && s.find('/') == std::string::npos)) {
        // `mod x;` and self::/super:: paths are relative to the current module's folder.
        const std::string full = normalize_relative(join(base, s));
        if (!full.empty()) append(&near, exact_stem(t, full));
      }
      if (near.empty()) append(&far, t.by_stem(s));
      if (!near.empty() || !far.empty()) break;
    }
  } else if (L == "java") {
    const std::string path = replace_all(mod, ".", "/");
    if (!imp.name.empty()) {
      append(&far, t.by_stem(join(path, imp.name)));
      if (far.empty()) append(&far, t.by_stem(path));  // static import of a member
    } else {
      for (FileId id : t.in_dir(path)) {
        const std::string* p = t.path_of(id);
        if (p && p->ends_with(".java")) far.push_back(id);
      }
    }
  } else if (L == "c_sharp") {
    // `using` names a namespace, not a file.
  } else {
    // Ruby (require_relative / require), PHP (require, use A\B), Lua (require "a.b"),
    // Bash (source ./x.sh): a path relative to the file first, then anywhere.
    std::string path = L == "php" ? replace_all(mod, "\\", "/") : mod;
    if (L == "lua") path = replace_all(path, ".", "/");
    const std::string rel = normalize_relative(join(from_dir, path));
    if (!rel.empty()) append(&near, exact_stem(t, std::string(strip_extension(rel))));
    if (near.empty()) append(&far, t.by_stem(std::string(strip_extension(path))));
  }

  // Only files of the same language family (C with C++, JavaScript with TypeScript).
  auto family = [](std::string_view name) -> std::string_view {
    if (name == "c" || name == "cpp") return "c";
    if (name == "javascript" || name == "typescript" || name == "tsx") return "js";
    return name;
  };
  auto foreign = [&](FileId id) {
    const std::string* p = t.path_of(id);
    const grammars::Language* l = p ? grammars::language_for_path(*p) : nullptr;
    return !l || family(l->name) != family(L);
  };
  std::erase_if(near, foreign);
  std::erase_if(far, foreign);
  rank(&near, t, from_path);
  rank(&far, t, from_path);
  std::vector<FileId> out = std::move(near);
  for (FileId id : far) {
    if (std::find(out.begin(), out.end(), id) == out.end()) out.push_back(id);
  }
  if (out.size() > max_files) out.resize(max_files);
  return out;
}

}  // namespace moecode::workspace
