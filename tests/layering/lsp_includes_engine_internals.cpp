// Deliberately broken: lsp code may use the engine's public API only, never its internals
// (a kernel, a backend, a quant block, the GGUF reader). Built only by the layering test.
#include "lsp/cli/model_path.h"
#include "engine/gguf/gguf.h"
