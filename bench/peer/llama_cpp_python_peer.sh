#!/bin/sh
# moecode's OpenAI-compatible client against a server we did not write: llama-cpp-python's
# (PyPI `llama-cpp-python[server]`). Not part of CI: its sdist compiles llama.cpp (~10 minutes on
# two cores), so it is built once into a virtual environment OUTSIDE the repository.
#
#   bench/peer/llama_cpp_python_peer.sh [MODEL.gguf]
#
# A libllama already built at the sdist's llama.cpp commit can be reused instead: install with
# CMAKE_ARGS=-DLLAMA_BUILD=OFF and export LLAMA_CPP_LIB_PATH=<folder with libllama.so>.
# Environment: LLAMA_CPP_PYTHON_VENV (default /work/ext/llama-cpp-python-venv), PORT (8765),
# MOECODE (build/bin/moecode), PEER_CHECK (build/bin/remote_peer_check).
# Prints remote_peer_check's PASS/FAIL table (recorded in bench/peer/llama_cpp_python_peer.md),
# then `moecode generate --remote` and `moecode generate --chat --remote` against the server.
set -eu
MODEL=${1:-$HOME/.cache/moecode/models/default.gguf}
VENV=${LLAMA_CPP_PYTHON_VENV:-/work/ext/llama-cpp-python-venv}
PORT=${PORT:-8765}
MOECODE=${MOECODE:-build/bin/moecode}
PEER_CHECK=${PEER_CHECK:-build/bin/remote_peer_check}
VERSION=0.3.36

if ! "$VENV/bin/python" -c 'import llama_cpp.server' 2>/dev/null; then
  echo "== building llama-cpp-python $VERSION from its sdist into $VENV (about 10 minutes)"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check --upgrade pip
  CMAKE_ARGS="-DGGML_NATIVE=ON -DLLAMA_CURL=OFF" CMAKE_BUILD_PARALLEL_LEVEL=2 \
    "$VENV/bin/pip" install --disable-pip-version-check "llama-cpp-python[server]==$VERSION"
fi
"$VENV/bin/python" -c 'import llama_cpp; print("llama-cpp-python", llama_cpp.__version__)'

LOG=$(mktemp /tmp/llama-cpp-python-server.XXXXXX.log)
"$VENV/bin/python" -m llama_cpp.server --model "$MODEL" --model_alias peer-model --host 127.0.0.1 \
  --port "$PORT" --n_ctx 2048 --n_threads 2 >"$LOG" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT INT TERM
i=0
until curl -sf "http://127.0.0.1:$PORT/v1/models" >/dev/null 2>&1; do
  i=$((i + 1))
  if [ $i -gt 600 ] || ! kill -0 $SERVER 2>/dev/null; then
    echo "the server did not start:"; cat "$LOG"; exit 1
  fi
  sleep 0.1
done
echo "== remote_peer_check against llama-cpp-python on :$PORT"
"$PEER_CHECK" --url "http://127.0.0.1:$PORT/v1"
echo "== moecode generate --remote"
"$MOECODE" generate --remote openai --remote-url "http://127.0.0.1:$PORT/v1" -p "def fibonacci(n):" -n 32 --temp 0
echo "== moecode generate --chat --remote"
"$MOECODE" generate --chat --remote openai --remote-url "http://127.0.0.1:$PORT/v1" \
  -p "Write a Python function that reverses a string." -n 64 --temp 0
