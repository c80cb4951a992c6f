#!/usr/bin/env bash
# Runs every editors/nvim/test/*_test.lua in its own headless Neovim (a time limit per file);
# exits 1 when any fails. Env: MOECODE_BINARY (default build/bin/moecode), MOECODE_DEFAULT_MODEL,
# NVIM (default nvim), MOECODE_NVIM_TEST_TIMEOUT (seconds per file, default 120).
# Usage: test/run.sh [FILE_test.lua...]
set -u
here="$(cd "$(dirname "$0")" && pwd)"
nvim="${NVIM:-nvim}"
limit="${MOECODE_NVIM_TEST_TIMEOUT:-120}"
export MOECODE_BINARY="${MOECODE_BINARY:-$(cd "$here/../../.." && pwd)/build/bin/moecode}"

if ! command -v "$nvim" >/dev/null; then
  echo "run.sh: $nvim not found (apt-get install neovim)" >&2
  exit 1
fi
if [ ! -x "$MOECODE_BINARY" ]; then
  echo "run.sh: no moecode binary at $MOECODE_BINARY (build it, or set MOECODE_BINARY)" >&2
  exit 1
fi
echo "# $("$nvim" --version | head -1); server $MOECODE_BINARY"

if [ "$#" -gt 0 ]; then files=("$@"); else files=("$here"/*_test.lua); fi
failed=()
SECONDS=0
for f in "${files[@]}"; do
  name="$(basename "$f")"
  echo "== $name"
  # Each file runs in a fresh Neovim; HOME-independent state (no shada, no swap files).
  timeout --kill-after=5 "$limit" "$nvim" --headless -u NONE -i NONE -n \
    -c "luafile $f" </dev/null
  rc=$?
  if [ "$rc" -ne 0 ]; then
    [ "$rc" -eq 124 ] && echo "FAIL $name: timed out after ${limit} s"
    failed+=("$name")
  fi
done
elapsed=$SECONDS
if [ "${#failed[@]}" -gt 0 ]; then
  echo "== FAILED: ${failed[*]} (${elapsed} s)"
  exit 1
fi
echo "== all ${#files[@]} test files passed (${elapsed} s)"
