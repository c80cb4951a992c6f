// Control for the layering tests: lsp code may include lsp headers and the engine's
// public API.
#include "lsp/cli/model_path.h"
#include "moecode/engine/result.h"
