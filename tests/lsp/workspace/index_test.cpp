// The symbol index: name -> definitions, reverse references, imports resolved to files,
// documents and file events replacing only their file's entries.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "lsp/workspace/index.h"
#include "lsp/workspace/temp_tree.h"

namespace moecode::workspace {
namespace {

using testing::TempTree;

void populate(const TempTree& t) {
  t.write("geo/shapes.py",
          "import math\n\nclass Circle:\n    def __init__(self, r):\n        self.r = r\n\n"
          "    def area(self):\n        return math.pi * self.r ** 2\n\n\ndef total(shapes):\n"
          "    return sum(s.area() for s in shapes)\n");
  t.write("geo/__init__.py", "from .shapes import Circle\n");
  t.write("app/main.py", "from geo.shapes import Circle, total\nfrom . import helpers\n\n"
                         "def run():\n    return total([Circle(1)])\n");
  t.write("app/helpers.py", "def helper():\n    return 1\n");
  t.write("web/canvas.ts", "export class Canvas {\n  add(x: number): void {}\n}\n");
  t.write("web/app.ts", "import { Canvas } from './canvas';\nconst c = new Canvas();\nc.add(1);\n");
  t.write("web/util/index.ts", "export function u() {}\n");
  t.write("web/main.ts", "import { u } from './util';\nu();\n");
  t.write("native/include/geo/vec.h", "struct Vec { float x, y; };\nfloat dot(Vec a, Vec b);\n");
  t.write("native/src/vec.cpp", "#include \"geo/vec.h\"\nfloat dot(Vec a, Vec b) { return a.x * b.x + a.y * b.y; }\n");
  t.write("go/internal/geom/geom.go", "package geom\n\nfunc Square(x float64) float64 { return x * x }\n");
  t.write("go/internal/geom/geom_test.go", "package geom\n");
  t.write("go/cmd/main.go", "package main\n\nimport \"example.com/m/internal/geom\"\n\nfunc main() { geom.Square(2) }\n");
  t.write("rs/src/main.rs", "mod shapes;\nuse crate::shapes::Circle;\nfn main() { let c = Circle::new(); }\n");
  t.write("rs/src/shapes.rs", "pub struct Circle;\nimpl Circle { pub fn new() -> Self { Circle } }\n");
  t.write("java/com/x/geom/Point.java", "package com.x.geom;\npublic class Point { int x; }\n");
  t.write("java/com/x/app/App.java", "package com.x.app;\nimport com.x.geom.Point;\nclass App { Point p; }\n");
}

std::vector<std::string> resolved_paths(const SymbolIndex::View& v, const std::string& from, size_t import_index) {
  const FileEntry* f = v.find(from);
  if (!f || import_index >= f->symbols.imports.size()) return {"<no such import>"};
  std::vector<std::string> out;
  for (FileId id : v.resolve(*f, f->symbols.imports[import_index])) out.push_back(v.file(id)->path);
  return out;
}

TEST(IndexTest, DefinitionsReferencesAndImports) {
  TempTree t;
  populate(t);
  auto index = SymbolIndex::create({t.root()});
  ASSERT_TRUE(index.ok()) << index.error().message();
  auto stats = (*index)->build();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->n_files, 17u);
  EXPECT_EQ(stats->files_by_language.at("python"), 4u);
  auto v = (*index)->view();
  // name -> definitions
  auto defs = v.definitions("area");
  ASSERT_EQ(defs.size(), 1u);
  EXPECT_EQ(v.file(defs[0].file)->path, "geo/shapes.py");
  const Definition& area = v.definition(defs[0]);
  EXPECT_EQ(area.kind, SymbolKind::kMethod);
  EXPECT_EQ(area.container, "Circle");
  EXPECT_EQ(v.signature(defs[0]), "def area(self):");
  EXPECT_EQ(area.range.start.row, 6u);
  EXPECT_EQ(v.definitions("dot").size(), 2u);  // the prototype and the definition
  // reverse references: who calls total()
  auto refs = v.referencing_files("total");
  ASSERT_EQ(refs.size(), 1u);
  EXPECT_EQ(v.file(refs[0].file)->path, "app/main.py");
  EXPECT_EQ(refs[0].count, 1u);
  auto area_refs = v.referencing_files("area");
  ASSERT_EQ(area_refs.size(), 1u);
  EXPECT_EQ(v.file(area_refs[0].file)->path, "geo/shapes.py");
  // imports resolved to files
  EXPECT_EQ(resolved_paths(v, "app/main.py", 0), std::vector<std::string>{"geo/shapes.py"});  // Circle
  EXPECT_EQ(resolved_paths(v, "app/main.py", 2), std::vector<std::string>{"app/helpers.py"});  // from . import helpers
  EXPECT_EQ(resolved_paths(v, "geo/__init__.py", 0), std::vector<std::string>{"geo/shapes.py"});
  EXPECT_EQ(resolved_paths(v, "web/app.ts", 0), std::vector<std::string>{"web/canvas.ts"});
  EXPECT_EQ(resolved_paths(v, "web/main.ts", 0), std::vector<std::string>{"web/util/index.ts"});
  EXPECT_EQ(resolved_paths(v, "native/src/vec.cpp", 0), std::vector<std::string>{"native/include/geo/vec.h"});
  EXPECT_EQ(resolved_paths(v, "go/cmd/main.go", 0), std::vector<std::string>{"go/internal/geom/geom.go"});
  EXPECT_EQ(resolved_paths(v, "rs/src/main.rs", 0), std::vector<std::string>{"rs/src/shapes.rs"});  // mod shapes;
  EXPECT_EQ(resolved_paths(v, "rs/src/main.rs", 1), std::vector<std::string>{"rs/src/shapes.rs"});  // use
  EXPECT_EQ(resolved_paths(v, "java/com/x/app/App.java", 0), std::vector<std::string>{"java/com/x/geom/Point.java"});
  // lookups by absolute and display path
  EXPECT_EQ(v.find(t.path("app/main.py")), v.find("app/main.py"));
  EXPECT_EQ(v.find("no/such.py"), nullptr);
}

// A file's symbols as text: every definition (name, kind, container, range, signature) and
// the names it references with their counts.
std::string symbols_of(const FileEntry& f) {
  std::string out;
  for (const Definition& d : f.symbols.definitions) {
    out += std::string(d.name.view()) + " " + std::to_string(static_cast<int>(d.kind)) + " " +
           std::string(d.container.view()) + " " + std::to_string(d.range.start_byte) + "-" +
           std::to_string(d.range.end_byte) + " " + std::string(f.symbols.signature(d)) + "\n";
  }
  std::vector<std::string> refs;
  for (const NameCount& n : f.ref_names) refs.push_back(std::string(n.name.view()) + "x" + std::to_string(n.count));
  std::sort(refs.begin(), refs.end());
  for (const auto& r : refs) out += r + "\n";
  return out;
}

// The walk hands files to the parse threads as it finds them, and which thread finishes
// first varies: the index is the same whatever the number of threads (file ids in path
// order, roots in order), and the same as one thread's.
TEST(IndexTest, TheSameIndexWithAnyNumberOfParseThreads) {
  TempTree a, b;
  populate(a);
  // Files of very different sizes in many folders, so that threads finish out of order.
  for (int i = 0; i < 60; ++i) {
    std::string body;
    for (int k = 0; k <= (i * 37) % 200; ++k) {
      const std::string n = std::to_string(k);
      body += "def f" + std::to_string(i) + "_" + n + "():\n    return " + n + "\n";
    }
    a.write("pkg" + std::to_string(i % 7) + "/m" + std::to_string(i) + ".py", body);
  }
  b.write("z.py", "def last():\n    return 0\n");
  b.write("a/first.py", "def first():\n    return last()\n");
  std::string one_dump;
  std::vector<std::string> one_order;
  for (int n_workers : {1, 2, 3, 8}) {
    IndexOptions options;
    options.n_workers = n_workers;
    auto index = SymbolIndex::create({a.root(), b.root()}, options);
    ASSERT_TRUE(index.ok()) << index.error().message();
    auto stats = (*index)->build();
    ASSERT_TRUE(stats.ok()) << stats.error().message();
    EXPECT_EQ(stats->n_workers, n_workers);
    const std::string dump = (*index)->debug_dump();
    std::vector<std::string> order;  // paths by file id
    {
      auto v = (*index)->view();
      for (FileId id = 0; id < v.id_limit(); ++id) {
        if (const FileEntry* f = v.file(id)) order.push_back(f->abs_path);
      }
    }
    // Ids in path order, the second root's files after every file of the first.
    ASSERT_GE(order.size(), 2u);
    EXPECT_TRUE(std::is_sorted(order.begin(), order.end() - 2)) << n_workers << " threads";
    EXPECT_EQ(order[order.size() - 2], b.root() + "/a/first.py");
    EXPECT_EQ(order.back(), b.root() + "/z.py");
    if (n_workers == 1) {
      one_dump = dump, one_order = order;
    } else {
      EXPECT_EQ(dump, one_dump) << n_workers << " threads";
      EXPECT_EQ(order, one_order) << n_workers << " threads";
    }
  }
}

// A cancelled build stops its walk and its parse threads and says so; the index keeps what
// it had, and a build after that is whole.
TEST(IndexTest, ACancelledBuildStopsAndTheNextOneIsWhole) {
  TempTree t;
  populate(t);
  IndexOptions options;
  options.n_workers = 3;
  auto index = SymbolIndex::create({t.root()}, options);
  ASSERT_TRUE(index.ok()) << index.error().message();
  std::atomic<bool> cancel{true};
  auto stopped = (*index)->build(&cancel);
  ASSERT_FALSE(stopped.ok());
  EXPECT_EQ(stopped.error().code(), ErrorCode::kCancelled);
  EXPECT_EQ((*index)->view().n_files(), 0u);
  cancel = false;
  auto whole = (*index)->build(&cancel);
  ASSERT_TRUE(whole.ok()) << whole.error().message();
  EXPECT_EQ((*index)->view().n_files(), whole->n_files);
  EXPECT_GT(whole->n_files, 10u);
}

// Files with the same bytes and language are parsed once; each copy is indexed under its own
// path with the first one's symbols, which are those a parse of its own gives.
TEST(IndexTest, CopiesOfAFileAreParsedOnceAndIndexedUnderTheirOwnPaths) {
  TempTree t;
  const std::string shapes = "class Circle:\n    def area(self):\n        return 3.14\n\n\ndef total(s):\n"
                             "    return sum(c.area() for c in s)\n";
  const std::vector<std::string> copies = {"a/shapes.py", "b/shapes.py", "c/geometry.py", "d/shapes.pyi"};
  for (const auto& p : copies) t.write(p, shapes);
  t.write("e/other.py", shapes + "\n");  // one more byte: a file of its own
  auto index = SymbolIndex::create({t.root()});
  ASSERT_TRUE(index.ok()) << index.error().message();
  auto stats = (*index)->build();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->n_files, 5u);
  EXPECT_EQ(stats->n_parsed, 2u);
  EXPECT_EQ(stats->n_duplicates, 3u);
  std::vector<std::string> before;
  {
    auto v = (*index)->view();
    std::vector<std::string> paths;
    for (const DefRef& d : v.definitions("area")) {
      paths.push_back(v.file(d.file)->path);
      EXPECT_EQ(v.signature(d), "def area(self):");
    }
    std::sort(paths.begin(), paths.end());
    EXPECT_EQ(paths, (std::vector<std::string>{"a/shapes.py", "b/shapes.py", "c/geometry.py", "d/shapes.pyi",
                                               "e/other.py"}));
    EXPECT_EQ(v.referencing_files("area").size(), 5u);
    for (const auto& p : copies) {
      const FileEntry* f = v.find(p);
      ASSERT_NE(f, nullptr) << p;
      EXPECT_EQ(f->abs_path, t.path(p));
      EXPECT_EQ(f->n_bytes, shapes.size());
      EXPECT_EQ(f->n_lines, 7u);
      before.push_back(symbols_of(*f));
      EXPECT_EQ(before.back(), before.front()) << p;
      EXPECT_NE(before.back().find("area"), std::string::npos);
      // The positions of a copy's references are read from its own file.
      auto text = (*index)->entry_text(*f);
      ASSERT_TRUE(text.ok());
      auto refs = (*index)->references_in(*f, *text);
      ASSERT_TRUE(refs.ok());
      EXPECT_EQ(refs->size(), f->n_references());
    }
  }
  // A parse of its own (the file opened in the editor) gives each copy the same symbols.
  for (size_t i = 0; i < copies.size(); ++i) {
    ASSERT_TRUE((*index)->update_document(t.path(copies[i]), shapes, {}).ok());
    auto v = (*index)->view();
    EXPECT_EQ(symbols_of(*v.find(copies[i])), before[i]) << copies[i];
  }
}

TEST(IndexTest, DocumentsOverrideTheDiskUntilClosed) {
  TempTree t;
  populate(t);
  auto index = SymbolIndex::create({t.root()});
  ASSERT_TRUE(index.ok());
  ASSERT_TRUE((*index)->build().ok());
  const uint64_t gen = (*index)->generation();
  ASSERT_TRUE((*index)->update_document(t.path("app/helpers.py"), "def helper2():\n    return 2\n").ok());
  EXPECT_GT((*index)->generation(), gen);
  {
    auto v = (*index)->view();
    EXPECT_TRUE(v.definitions("helper").empty());
    ASSERT_EQ(v.definitions("helper2").size(), 1u);
    const FileEntry* f = v.find("app/helpers.py");
    ASSERT_NE(f, nullptr);
    EXPECT_TRUE(f->open_document);
    EXPECT_EQ(v.definitions("area").size(), 1u);  // other files untouched
  }
  EXPECT_EQ(*(*index)->read_text(t.path("app/helpers.py")), "def helper2():\n    return 2\n");
  // A rebuild keeps the open document's text.
  ASSERT_TRUE((*index)->build().ok());
  EXPECT_EQ((*index)->view().definitions("helper2").size(), 1u);
  ASSERT_TRUE((*index)->close_document(t.path("app/helpers.py")).ok());
  auto v = (*index)->view();
  EXPECT_EQ(v.definitions("helper").size(), 1u);
  EXPECT_TRUE(v.definitions("helper2").empty());
  EXPECT_FALSE(v.find("app/helpers.py")->open_document);
}

TEST(IndexTest, DocumentsThatMayNotBeIndexedAreNot) {
  TempTree t;
  populate(t);
  t.write(".gitignore", "ignored/\n");
  auto index = SymbolIndex::create({t.root()}, IndexOptions{.max_file_bytes = 4096});
  ASSERT_TRUE(index.ok());
  ASSERT_TRUE((*index)->build().ok());
  EXPECT_TRUE((*index)->update_document(t.path(".env.py"), "def leaked(): pass\n").ok());
  EXPECT_TRUE((*index)->update_document(t.path("ignored/x.py"), "def ignored_fn(): pass\n").ok());
  EXPECT_TRUE((*index)->update_document("/tmp/elsewhere.py", "def elsewhere(): pass\n").ok());
  EXPECT_TRUE((*index)->update_document(t.path("big.py"), "def big(): pass\n" + std::string(5000, '#')).ok());
  EXPECT_TRUE((*index)->update_document(t.path("bin.py"), std::string("def binary(): pass\n\0", 20)).ok());
  auto v = (*index)->view();
  for (const char* name : {"leaked", "ignored_fn", "elsewhere", "big", "binary"}) {
    EXPECT_TRUE(v.definitions(name).empty()) << name;
  }
  EXPECT_EQ((*index)->admit_document(t.path(".env.py"), "x").verdict, Verdict::kSecret);
  EXPECT_EQ((*index)->admit_document("/tmp/elsewhere.py", "x").verdict, Verdict::kOutsideRoot);
}

TEST(IndexTest, FileEventsAddUpdateAndRemoveFiles) {
  TempTree t;
  populate(t);
  auto index = SymbolIndex::create({t.root()});
  ASSERT_TRUE(index.ok());
  ASSERT_TRUE((*index)->build().ok());
  t.write("app/new.py", "def fresh(): pass\n");
  ASSERT_TRUE((*index)->on_file_event(t.path("app/new.py"), FileEvent::kCreated).ok());
  EXPECT_EQ((*index)->view().definitions("fresh").size(), 1u);
  t.write("app/new.py", "def fresher(): pass\n");
  ASSERT_TRUE((*index)->on_file_event(t.path("app/new.py"), FileEvent::kChanged).ok());
  EXPECT_TRUE((*index)->view().definitions("fresh").empty());
  EXPECT_EQ((*index)->view().definitions("fresher").size(), 1u);
  t.remove("app/new.py");
  ASSERT_TRUE((*index)->on_file_event(t.path("app/new.py"), FileEvent::kDeleted).ok());
  EXPECT_TRUE((*index)->view().definitions("fresher").empty());
  // A folder appears, then goes.
  t.write("lib/a.py", "def lib_a(): pass\n");
  t.write("lib/deep/b.py", "def lib_b(): pass\n");
  ASSERT_TRUE((*index)->on_file_event(t.path("lib"), FileEvent::kCreated).ok());
  EXPECT_EQ((*index)->view().definitions("lib_b").size(), 1u);
  t.remove("lib");
  ASSERT_TRUE((*index)->on_file_event(t.path("lib"), FileEvent::kDeleted).ok());
  EXPECT_TRUE((*index)->view().definitions("lib_a").empty());
  EXPECT_TRUE((*index)->view().definitions("lib_b").empty());
  // A file that becomes secret content-wise stays indexed but its signatures are redacted;
  // one that becomes ignored leaves.
  const std::string key = std::string("AKIA") + "IOSFODNN7" + "EXAMPLE";
  t.write("app/helpers.py", "TOKEN = '" + key + "'\ndef helper():\n    return 1\n");
  ASSERT_TRUE((*index)->on_file_event(t.path("app/helpers.py"), FileEvent::kChanged).ok());
  {
    auto v = (*index)->view();
    auto d = v.definitions("TOKEN");
    ASSERT_EQ(d.size(), 1u);
    EXPECT_EQ(v.signature(d[0]).find(key), std::string_view::npos);
    EXPECT_NE(v.signature(d[0]).find("[REDACTED]"), std::string_view::npos);
  }
  // Files that may not be indexed stay out when they appear through events too.
  TempTree outside;
  outside.write("out.py", "def event_outside(): pass\n");
  t.write("ev/credentials.py", "def event_secret(): pass\n");
  t.write("ev/blob.py", std::string("def event_binary(): pass\n\0", 26));
  t.write("ev/big.py", "def event_big(): pass\n" + std::string(2 << 20, '#') + "\n");
  t.link("ev/out.py", outside.path("out.py"));
  for (const char* rel : {"ev/credentials.py", "ev/blob.py", "ev/big.py", "ev/out.py"}) {
    ASSERT_TRUE((*index)->on_file_event(t.path(rel), FileEvent::kCreated).ok()) << rel;
  }
  ASSERT_TRUE((*index)->on_file_event(t.path("ev"), FileEvent::kCreated).ok());
  for (const char* name : {"event_outside", "event_secret", "event_binary", "event_big"}) {
    EXPECT_TRUE((*index)->view().definitions(name).empty()) << name;
  }
  t.write(".gitignore", "app/\n");
  ASSERT_TRUE((*index)->on_file_event(t.path(".gitignore"), FileEvent::kChanged).ok());
  EXPECT_TRUE((*index)->view().definitions("helper").empty());
  EXPECT_TRUE((*index)->view().definitions("run").empty());
  EXPECT_EQ((*index)->view().definitions("area").size(), 1u);
}

TEST(IndexTest, TwoBuildsGiveTheSameIndex) {
  TempTree t;
  populate(t);
  auto a = SymbolIndex::create({t.root()}, IndexOptions{.n_workers = 1});
  auto b = SymbolIndex::create({t.root()}, IndexOptions{.n_workers = 4});
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE((*a)->build().ok());
  ASSERT_TRUE((*b)->build().ok());
  EXPECT_EQ((*a)->debug_dump(), (*b)->debug_dump());
  EXPECT_NE((*a)->debug_dump().find("def method area container=Circle"), std::string::npos);
}

TEST(IndexTest, SeveralRootsArePrefixedByTheirFolderName) {
  TempTree t1, t2;
  t1.write("a.py", "def in_one(): pass\n");
  t2.write("b.py", "def in_two(): pass\n");
  auto index = SymbolIndex::create({t1.root(), t2.root()});
  ASSERT_TRUE(index.ok());
  ASSERT_TRUE((*index)->build().ok());
  auto v = (*index)->view();
  const std::string name1 = t1.root().substr(t1.root().find_last_of('/') + 1);
  const std::string name2 = t2.root().substr(t2.root().find_last_of('/') + 1);
  ASSERT_EQ(v.definitions("in_one").size(), 1u);
  EXPECT_EQ(v.file(v.definitions("in_one")[0].file)->path, name1 + "/a.py");
  EXPECT_EQ(v.file(v.definitions("in_two")[0].file)->path, name2 + "/b.py");
  EXPECT_EQ((*index)->admit(t2.path("b.py"), true).root, 1);
}

TEST(IndexTest, ErrorsNameTheRoot) {
  auto missing = SymbolIndex::create({"/no/such/folder"});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message().find("/no/such/folder"), std::string::npos);
  EXPECT_FALSE(SymbolIndex::create({}).ok());
}

}  // namespace
}  // namespace moecode::workspace
