#!/usr/bin/env bash
# Post-install fixes for the grammar sources in node_modules/ (scripts/setup runs this after
# `npm ci --ignore-scripts`). Idempotent.
#   tree-sitter-lua@2.1.3: the external scanner mallocs its state and never initialises it,
#   which makes parses depend on the build (ERROR nodes at -O0 and -O3). calloc fixes it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

lua=node_modules/tree-sitter-lua/src/scanner.c
if [ -f "$lua" ]; then
  if grep -q 'return malloc(sizeof(struct ScannerState));' "$lua"; then
    sed -i 's/return malloc(sizeof(struct ScannerState));/return calloc(1, sizeof(struct ScannerState));/' "$lua"
    echo "    grammars: patched $lua (calloc)"
  fi
  grep -q 'return calloc(1, sizeof(struct ScannerState));' "$lua" \
    || { echo "postinstall: $lua has neither the malloc line nor the fix; check the tree-sitter-lua pin" >&2; exit 1; }
fi
