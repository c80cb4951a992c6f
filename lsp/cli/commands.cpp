// Shared state of the subcommands.
#include "lsp/cli/commands.h"

namespace moecode::cli {

int& exit_code() {
  static int code = 0;
  return code;
}

}  // namespace moecode::cli
