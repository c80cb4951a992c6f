// Resolving imports to workspace files: "from .shapes import Circle" -> shapes.py,
// #include "geo/shape.h" -> src/geo/shape.h, import "./util" -> util.ts,
// use crate::geometry::Circle -> geometry.rs, import com.x.Point -> com/x/Point.java,
// import "example.com/m/geom" -> the .go files of a folder ending in geom/.
// PathTable is the lookup structure the index keeps up to date (not thread-safe: the index
// guards it); resolve_import() is a pure function of it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "grammars/languages.h"
#include "lsp/workspace/symbols.h"

namespace moecode::workspace {

using FileId = uint32_t;

class PathTable {
 public:
  void add(FileId id, std::string_view path);
  void remove(FileId id, std::string_view path);

  // Files whose stem (path without its extension; a package's __init__, index or mod file
  // also stands for its folder) is `stem` or ends with "/" + stem.
  std::vector<FileId> by_stem(std::string_view stem) const;
  // Files directly in a folder that is `dir` or ends with "/" + dir.
  std::vector<FileId> in_dir(std::string_view dir) const;
  // The path of a file in the table.
  const std::string* path_of(FileId id) const;

 private:
  struct Entry {
    FileId id;
    std::string key;  // the stem or the folder
  };
  static std::string_view last_component(std::string_view p);
  std::unordered_map<std::string, std::vector<Entry>> stems_;  // by last component
  std::unordered_map<std::string, std::vector<Entry>> dirs_;   // by last component
  std::unordered_map<FileId, std::string> paths_;
};

// The files `imp` (found in file `from_path`, of language `lang`) refers to, best first:
// paths relative to the importing file before suffix matches; at most `max_files`.
std::vector<FileId> resolve_import(const PathTable& table, const grammars::Language& lang,
                                   std::string_view from_path, const Import& imp, size_t max_files = 8);

// Lexical normalisation of a '/'-separated relative path ("a/./b/../c" -> "a/c"); a path
// that climbs above its start gives "" (not in the workspace).
std::string normalize_relative(std::string_view path);

}  // namespace moecode::workspace
