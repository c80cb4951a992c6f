#!/usr/bin/env bash
# CI for the VS Code extension (CTest runs it; see ../CMakeLists.txt):
#   ci.sh test              build (tsc) and run the tests against $MOECODE_BINARY
#   ci.sh package OUT.vsix  package offline with vsce into OUT.vsix, check what it holds,
#                           and activate the unpacked package against the real server
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ ! -f node_modules/vscode-languageclient/package.json ] || [ ! -x node_modules/.bin/tsc ]; then
  echo "editors/vscode: node_modules is missing: run scripts/setup (it runs 'npm ci --ignore-scripts' here)" >&2
  exit 1
fi
case "${1:-test}" in
  test)
    npm run --silent build
    npm test
    ;;
  package)
    out="${2:?usage: ci.sh package OUT.vsix}"
    mkdir -p "$(dirname "$out")"
    rm -f "$out"
    # vsce runs the vscode:prepublish script (npm run build) first; it needs no network.
    node_modules/.bin/vsce package --out "$out"
    bytes=$(wc -c < "$out")
    files=$(unzip -Z1 "$out")
    for f in extension/package.json extension/LICENSE.txt extension/readme.md extension/out/src/extension.js \
             extension/node_modules/vscode-languageclient/lib/node/main.js; do
      grep -qxF "$f" <<<"$files" || { echo "ci.sh: $f is missing from $out" >&2; exit 1; }
    done
    if grep -E '^extension/(src|test|out/test)/' <<<"$files"; then echo "ci.sh: sources or tests in $out" >&2; exit 1; fi
    [ "$bytes" -lt 1000000 ] || { echo "ci.sh: $out is $bytes bytes; .vscodeignore lets too much in" >&2; exit 1; }
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    unzip -q "$out" -d "$tmp"
    node out/test/vsix_smoke.js "$tmp"
    echo "ci.sh: $out: $bytes bytes, $(wc -l <<<"$files") files"
    ;;
  *)
    echo "usage: ci.sh test | ci.sh package OUT.vsix" >&2
    exit 2
    ;;
esac
