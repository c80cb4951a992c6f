# Writes OUT: a C++ file defining moecode::grammars::embedded_query(lang, kind), which
# returns the text of DIR/<lang>/<kind>.scm (or an empty view). Run at build time.
file(GLOB _files RELATIVE ${DIR} ${DIR}/*/*.scm)
list(SORT _files)
set(_body "")
foreach(_rel ${_files})
  file(READ ${DIR}/${_rel} _text)
  string(FIND "${_text}" ")moecode_scm\"" _bad)
  if(NOT _bad EQUAL -1)
    message(FATAL_ERROR "${_rel} contains the raw-string delimiter )moecode_scm\"")
  endif()
  get_filename_component(_lang ${_rel} DIRECTORY)
  get_filename_component(_kind ${_rel} NAME_WE)
  string(APPEND _body "  {\"${_lang}\", \"${_kind}\", R\"moecode_scm(${_text})moecode_scm\"},\n")
endforeach()
file(WRITE ${OUT}.tmp
"// Generated from grammars/queries by grammars/embed_queries.cmake. Do not edit.
#include <string_view>

namespace moecode::grammars {
namespace {
struct EmbeddedQuery {
  std::string_view lang, kind, text;
};
constexpr EmbeddedQuery kQueries[] = {
${_body}  {\"\", \"\", \"\"},
};
}  // namespace

std::string_view embedded_query(std::string_view lang, std::string_view kind) {
  for (const auto& q : kQueries) {
    if (q.lang == lang && q.kind == kind) return q.text;
  }
  return {};
}

}  // namespace moecode::grammars
")
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)
file(REMOVE ${OUT}.tmp)
