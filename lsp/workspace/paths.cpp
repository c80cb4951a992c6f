// Paths inside the workspace (see paths.h).
#include "lsp/workspace/paths.h"

#include <filesystem>

namespace moecode::workspace {

namespace fs = std::filesystem;

Result<std::string> path_inside(const std::string& root, const std::string& path) {
  std::error_code ec;
  const fs::path abs = fs::absolute(path, ec);
  if (ec || path.empty()) return make_error(ErrorCode::kInvalidArgument, "bad path '" + path + "'");
  // weakly_canonical resolves the symbolic links of the part that exists, then "." and "..".
  const fs::path real = fs::weakly_canonical(abs, ec);
  if (ec) return make_error(ErrorCode::kInvalidArgument, "bad path '" + path + "': " + ec.message());
  const fs::path base = fs::weakly_canonical(fs::absolute(root, ec), ec);
  if (ec || root.empty()) return make_error(ErrorCode::kInvalidArgument, "bad workspace root '" + root + "'");
  const std::string r = base.string();
  const std::string p = real.string();
  const bool inside = p == r || (p.size() > r.size() && p.compare(0, r.size(), r) == 0 &&
                                 (r.back() == '/' || p[r.size()] == '/'));
  if (!inside) {
    return make_error(ErrorCode::kInvalidArgument,
                      "refusing '" + path + "': it is outside the workspace " + r + " (resolves to " + p + ")");
  }
  return p;
}

Result<std::string> path_inside_any(const std::vector<std::string>& roots, const std::string& path) {
  if (roots.empty()) {
    return make_error(ErrorCode::kInvalidArgument, "refusing '" + path + "': there is no workspace folder");
  }
  Result<std::string> first = path_inside(roots[0], path);
  if (first.ok()) return first;
  for (size_t i = 1; i < roots.size(); ++i) {
    if (auto r = path_inside(roots[i], path); r.ok()) return r;
  }
  if (roots.size() == 1) return first;
  return make_error(ErrorCode::kInvalidArgument, "refusing '" + path + "': it is outside every workspace folder");
}

}  // namespace moecode::workspace
