// Deliberately broken: assist/ is protocol-free (the CLI reuses it), so an LSP header is out
// of its reach. Built only by the layering test, which expects this to fail.
#include "lsp/assist/completion.h"
#include "lsp/protocol/types.h"
