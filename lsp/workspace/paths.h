// Keeping file writes inside the workspace: a path is inside a root when, made absolute and
// with "." / ".." and the symbolic links of its existing part resolved, it lies under the
// root (resolved the same way). Used by every command that writes a file (fix --apply,
// translate, the LSP translate command). Thread-safe.
#pragma once

#include <string>
#include <vector>

#include "moecode/engine/result.h"

namespace moecode::workspace {

// The resolved `path` (relative paths are taken from the current directory), or an error that
// names the path, the root and what the path resolves to.
Result<std::string> path_inside(const std::string& root, const std::string& path);

// The same against several roots: the first that holds the path.
Result<std::string> path_inside_any(const std::vector<std::string>& roots, const std::string& path);

}  // namespace moecode::workspace
