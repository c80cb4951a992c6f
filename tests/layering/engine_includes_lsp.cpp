// Deliberately broken: engine code may not include an lsp header. Built only by the
// layering test, which expects this to fail.
#include "moecode/engine/result.h"
#include "lsp/cli/model_path.h"
