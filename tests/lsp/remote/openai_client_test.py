#!/usr/bin/env python3
"""A client we did not write against `moecode serve --http`: the `openai` PyPI package lists the
model, asks for completions and chats, whole and streamed (with usage), with stop strings, seeds
and concurrent requests, and gets OpenAI-shaped errors. Run by CTest with the project's .venv
(exit 77 = skipped when the package is missing).

usage: openai_client_test.py MODEL.gguf   (MOECODE_BINARY names the moecode executable)
"""
import concurrent.futures
import os
import re
import subprocess
import sys
import threading

try:
    import openai
except ImportError:
    print("SKIP: the openai package is not installed (scripts/setup installs tools/requirements.txt into .venv)")
    sys.exit(77)


def start_server(binary, model):
    proc = subprocess.Popen(
        [binary, "serve", "--http", "127.0.0.1:0", "-m", model, "--threads", "1", "-c", "2048", "--parallel", "3"],
        stderr=subprocess.PIPE, text=True)
    port = None
    lines = []
    for line in proc.stderr:
        lines.append(line)
        m = re.search(r"on http 127\.0\.0\.1:(\d+)", line)
        if m:
            port = int(m.group(1))
            break
    if port is None:
        raise SystemExit("FAIL: the server did not start:\n" + "".join(lines))
    # Keep draining stderr so that the server never blocks on a full pipe.
    threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()
    return proc, port


def main():
    binary = os.environ.get("MOECODE_BINARY", "build/bin/moecode")
    model = sys.argv[1]
    proc, port = start_server(binary, model)
    try:
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="unused", max_retries=0, timeout=120)
        checks = []

        models = client.models.list()
        ids = [m.id for m in models.data]
        assert len(ids) == 1, ids
        mid = ids[0]
        checks.append(f"models.list: {mid}")

        # A first answer puts the prompt in a slot's cache; the two compared below both reuse it
        # (the same arithmetic, so greedy gives the same text).
        client.completions.create(model=mid, prompt="def add(a, b):", max_tokens=1, temperature=0)
        whole = client.completions.create(model=mid, prompt="def add(a, b):", max_tokens=16, temperature=0)
        assert whole.object == "text_completion"
        assert whole.choices[0].finish_reason in ("length", "stop")
        assert whole.usage.completion_tokens > 0 and whole.usage.prompt_tokens > 0
        checks.append(f"completions: {whole.usage.completion_tokens} tokens")

        parts = []
        finish = None
        for chunk in client.completions.create(model=mid, prompt="def add(a, b):", max_tokens=16, temperature=0,
                                               stream=True):
            for c in chunk.choices:
                parts.append(c.text)
                finish = c.finish_reason or finish
        assert "".join(parts) == whole.choices[0].text, ("".join(parts), whole.choices[0].text)
        assert finish == whole.choices[0].finish_reason
        checks.append(f"completions stream: {len(parts)} chunks, same text")

        stopped = client.completions.create(model=mid, prompt="1,2,3,", max_tokens=40, temperature=0, stop=["\n", ","])
        assert "\n" not in stopped.choices[0].text and "," not in stopped.choices[0].text
        checks.append("stop strings")

        a = client.completions.create(model=mid, prompt="x", max_tokens=12, temperature=0.9, seed=7)
        b = client.completions.create(model=mid, prompt="x", max_tokens=12, temperature=0.9, seed=7)
        assert a.choices[0].text == b.choices[0].text
        checks.append("seeded sampling")

        chat = client.chat.completions.create(model=mid, messages=[{"role": "system", "content": "Be brief."},
                                                                   {"role": "user", "content": "Say hello"}],
                                              max_tokens=12, temperature=0)
        assert chat.object == "chat.completion"
        assert chat.choices[0].message.role == "assistant"
        assert chat.usage.completion_tokens > 0
        deltas = []
        usage = None
        for chunk in client.chat.completions.create(model=mid, messages=[{"role": "user", "content": "Say hello"}],
                                                    max_tokens=12, temperature=0, stream=True,
                                                    stream_options={"include_usage": True}):
            if chunk.usage is not None:
                usage = chunk.usage
            for c in chunk.choices:
                if c.delta.content:
                    deltas.append(c.delta.content)
        assert usage is not None and usage.completion_tokens > 0
        checks.append(f"chat (whole and streamed, usage {usage.completion_tokens} tokens)")

        def one(i):
            r = client.completions.create(model=mid, prompt=f"item {i}:", max_tokens=20, temperature=0)
            return r.usage.completion_tokens
        with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
            counts = list(pool.map(one, range(6)))
        assert all(n > 0 for n in counts), counts
        checks.append(f"6 concurrent completions on 3 slots: {counts}")

        try:
            client.completions.create(model=mid, prompt="x", max_tokens=4, n=2)
            raise AssertionError("n=2 was accepted")
        except openai.BadRequestError as e:
            assert "'n'" in str(e), e
        checks.append("BadRequestError for an unsupported parameter")

        for c in checks:
            print("ok:", c)
        print("PASS")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


if __name__ == "__main__":
    main()
