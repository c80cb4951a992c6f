#!/usr/bin/env bash
# Captures a real Neovim session showing ghost text from the real server and the default
# model (tmux capture-pane) into doc/ghost-text.txt. Needs tmux, nvim, build/bin/moecode and
# the default model (scripts/setup); NVIM picks the Neovim. Usage: scripts/capture-ghost-text.sh [OUT]
set -eu
here="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$here/doc/ghost-text.txt}"
bin="${MOECODE_BINARY:-$(cd "$here/../.." && pwd)/build/bin/moecode}"
model="${MOECODE_DEFAULT_MODEL:-${XDG_CACHE_HOME:-$HOME/.cache}/moecode/models/default.gguf}"
ws="$(mktemp -d)"
trap "tmux kill-session -t moecode-capture 2>/dev/null; rm -rf \"$ws\"" EXIT
mkdir -p "$ws/.git"
cat > "$ws/calc.py" <<'PY'
def add(a, b):
    """Return the sum of a and b."""
    return a + b


def fibonacci(n):
    """Return the n-th Fibonacci number."""
PY
cat > "$ws/init.lua" <<LUA
vim.opt.runtimepath:prepend('$here')
vim.cmd('filetype plugin indent on')
vim.o.number = true   -- real lines are numbered, ghost lines (virt_lines) are not
vim.o.laststatus = 2
vim.o.statusline = "%f %= %{v:lua.require'moecode'.statusline()} "
require('moecode').setup({ path = '$bin', settings = { model = '$model', maxTokens = 48 } })
LUA
tmux kill-session -t moecode-capture 2>/dev/null || true
tmux new-session -d -s moecode-capture -x 72 -y 16 "cd $ws && ${NVIM:-nvim} -n -i NONE -u init.lua calc.py"
sleep 2
tmux send-keys -t moecode-capture 'G' 'o'          # a new line in the body of fibonacci() (indented)
sleep 0.5
tmux send-keys -t moecode-capture 'M-\'             # <M-\>: ask for a suggestion now
sleep 4                                              # debounce + completion (~0.5 s) + slack
tmux capture-pane -p -t moecode-capture > "$out"
echo "wrote $out"
cat "$out"
