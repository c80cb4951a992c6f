// The language table: grammar entry points, file-name rules and embedded queries.
// Immutable static data; thread-safe.
#include "grammars/languages.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <string>

extern "C" {
const TSLanguage* tree_sitter_c();
const TSLanguage* tree_sitter_cpp();
const TSLanguage* tree_sitter_python();
const TSLanguage* tree_sitter_javascript();
const TSLanguage* tree_sitter_typescript();
const TSLanguage* tree_sitter_tsx();
const TSLanguage* tree_sitter_go();
const TSLanguage* tree_sitter_rust();
const TSLanguage* tree_sitter_java();
const TSLanguage* tree_sitter_bash();
const TSLanguage* tree_sitter_json();
const TSLanguage* tree_sitter_ruby();
const TSLanguage* tree_sitter_c_sharp();
const TSLanguage* tree_sitter_php();
const TSLanguage* tree_sitter_lua();
}

namespace moecode::grammars {
namespace {

// Language::ts(): the grammar with dense parse tables, built on first use (thread-safe).
template <const TSLanguage* (*Grammar)()>
const TSLanguage* dense() {
  static const TSLanguage* const language = with_dense_parse_table(Grammar());
  return language;
}

struct Table {
  std::array<Language, 15> languages;
  std::string tsx_tags;  // typescript/tags.scm + tsx/tags.scm (JSX)
  Table() {
    tsx_tags = std::string(embedded_query("typescript", "tags")) + "\n" + std::string(embedded_query("tsx", "tags"));
    auto make = [](std::string_view name, const TSLanguage* (*ts)(), const TSLanguage* (*grammar)(),
                   std::string_view comment) {
      return Language{name, ts, comment, embedded_query(name, "tags"), grammar};
    };
    languages = {
        make("c", dense<tree_sitter_c>, tree_sitter_c, "//"),
        make("cpp", dense<tree_sitter_cpp>, tree_sitter_cpp, "//"),
        make("python", dense<tree_sitter_python>, tree_sitter_python, "#"),
        make("javascript", dense<tree_sitter_javascript>, tree_sitter_javascript, "//"),
        make("typescript", dense<tree_sitter_typescript>, tree_sitter_typescript, "//"),
        make("tsx", dense<tree_sitter_tsx>, tree_sitter_tsx, "//"),
        make("go", dense<tree_sitter_go>, tree_sitter_go, "//"),
        make("rust", dense<tree_sitter_rust>, tree_sitter_rust, "//"),
        make("java", dense<tree_sitter_java>, tree_sitter_java, "//"),
        make("bash", dense<tree_sitter_bash>, tree_sitter_bash, "#"),
        make("json", dense<tree_sitter_json>, tree_sitter_json, ""),
        make("ruby", dense<tree_sitter_ruby>, tree_sitter_ruby, "#"),
        make("c_sharp", dense<tree_sitter_c_sharp>, tree_sitter_c_sharp, "//"),
        make("php", dense<tree_sitter_php>, tree_sitter_php, "//"),
        make("lua", dense<tree_sitter_lua>, tree_sitter_lua, "--"),
    };
    for (auto& l : languages) {
      if (l.name == "tsx") l.tags_query = tsx_tags;
    }
  }
};

const Table& table() {
  static const Table t;
  return t;
}

struct Rule {
  std::string_view suffix;  // matched against the lower-cased extension (with the dot)
  std::string_view language;
};

constexpr Rule kExtensions[] = {
    {".c", "c"},          {".h", "cpp"},          {".cc", "cpp"},        {".cpp", "cpp"},
    {".cxx", "cpp"},      {".c++", "cpp"},        {".hh", "cpp"},        {".hpp", "cpp"},
    {".hxx", "cpp"},      {".h++", "cpp"},        {".ipp", "cpp"},       {".inl", "cpp"},
    {".tpp", "cpp"},      {".cu", "cpp"},         {".cuh", "cpp"},       {".hip", "cpp"},
    {".py", "python"},    {".pyi", "python"},     {".pyw", "python"},    {".js", "javascript"},
    {".mjs", "javascript"}, {".cjs", "javascript"}, {".jsx", "javascript"}, {".ts", "typescript"},
    {".mts", "typescript"}, {".cts", "typescript"}, {".tsx", "tsx"},     {".go", "go"},
    {".rs", "rust"},      {".java", "java"},      {".sh", "bash"},       {".bash", "bash"},
    {".zsh", "bash"},     {".json", "json"},      {".rb", "ruby"},       {".rake", "ruby"},
    {".gemspec", "ruby"}, {".cs", "c_sharp"},     {".php", "php"},       {".lua", "lua"},
};

constexpr Rule kFileNames[] = {
    {"Rakefile", "ruby"}, {"Gemfile", "ruby"}, {".bashrc", "bash"}, {".bash_profile", "bash"},
    {".profile", "bash"},
};

}  // namespace

std::span<const Language> all_languages() { return table().languages; }

const Language* language_by_name(std::string_view name) {
  if (name == "csharp" || name == "c#") name = "c_sharp";
  if (name == "c++") name = "cpp";
  for (const auto& l : table().languages) {
    if (l.name == name) return &l;
  }
  return nullptr;
}

const Language* language_for_path(std::string_view path) {
  const size_t slash = path.find_last_of('/');
  const std::string_view base = slash == std::string_view::npos ? path : path.substr(slash + 1);
  for (const auto& r : kFileNames) {
    if (base == r.suffix) return language_by_name(r.language);
  }
  const size_t dot = base.find_last_of('.');
  if (dot == std::string_view::npos || dot == 0) return nullptr;
  std::string ext(base.substr(dot));
  // ".C" and ".H" are C++ by tradition; every other extension is case-insensitive.
  if (ext == ".C" || ext == ".H") return language_by_name("cpp");
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const auto& r : kExtensions) {
    if (ext == r.suffix) return language_by_name(r.language);
  }
  return nullptr;
}

}  // namespace moecode::grammars
