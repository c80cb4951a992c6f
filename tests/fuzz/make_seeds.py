#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets in tests/fuzz/corpus/<target>/ (all but the
model seeds, which make_model_seeds.cpp writes). Deterministic; run it from anywhere after a
change to a target's input format:  python3 tests/fuzz/make_seeds.py
"""
import json
import os
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, "corpus")


def reset(target):
    d = os.path.join(CORPUS, target)
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d)
    return d


def write(d, name, data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def frame(body):
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
    b = body.encode("utf-8")
    return b"Content-Length: %d\r\n\r\n" % len(b) + b


def req(i, method, params=None):
    m = {"jsonrpc": "2.0", "id": i, "method": method}
    if params is not None:
        m["params"] = params
    return m


def note(method, params=None):
    m = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        m["params"] = params
    return m


# ---- tokenizer_fuzz: [vocab][flags] text --------------------------------------------------
TEXTS = [
    "def add(a, b):\n    return a + b\n",
    "Hello world! 123 4567 8.9",
    "  leading spaces\t\ttabs\r\nCRLF\n\n\n",
    "über naïve café — “quotes” 日本語のテキスト 😀👍🏽 ﷽",
    "<|endoftext|><|im_start|>user\nhi<|im_end|><s></s>[INST]",
    "<fim_prefix>x = <fim_suffix>\n<fim_middle>",
    b"\x00\x01\x7f\xc3(\xa0\xe2\x82\xf0\x9f\x98 broken utf-8",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa bbbbbbbb",
    "I'm you're we'll they'd it's DON'T",
    "한국어 텍스트 그리고 ㄱㄴㄷ",
]


def tokenizer_seeds():
    d = reset("tokenizer_fuzz")
    n = 0
    for vocab in range(10):
        for flags in (0, 3, 4):
            text = TEXTS[(vocab + flags) % len(TEXTS)]
            data = bytes([vocab, flags]) + (text.encode("utf-8") if isinstance(text, str) else text)
            write(d, "seed-%03d" % n, data)
            n += 1
    write(d, "raw-bytes", bytes([0, 0]) + bytes(range(256)))


# ---- jsonrpc_fuzz: [chunk seed] framed stream ---------------------------------------------
def jsonrpc_seeds():
    d = reset("jsonrpc_fuzz")
    streams = {
        "answer": [frame(req(1, "answer", {"x": 1})), frame(req("a", "answer", [1, 2]))],
        "mixed": [frame(req(5, "fail")), frame(req(6, "twice")), frame(req(7, "drop")), frame(req(8, "throw", {})),
                  frame(note("note", {"k": "v"})), frame(req(9, "refused")), frame(req(10, "unknown/method"))],
        "later-cancel": [frame(req(11, "later")), frame(note("$/cancelRequest", {"id": 11})), frame(req(11, "later")),
                         frame(req(12, "later")), frame(note("$/cancelRequest", {"id": 99}))],
        "responses": [frame({"jsonrpc": "2.0", "id": 1, "result": {"applied": True}}),
                      frame({"jsonrpc": "2.0", "id": 2, "error": {"code": -32603, "message": "no"}}),
                      frame({"jsonrpc": "2.0", "id": 3, "result": None}),
                      frame({"jsonrpc": "2.0", "id": 1, "result": 1})],
        "bad-json": [frame("{"), frame("[]"), frame("42"), frame('{"jsonrpc":"1.0","id":1,"method":"answer"}'),
                     frame('{"jsonrpc":"2.0","id":1.5,"method":"answer"}'), frame('{"jsonrpc":"2.0","id":1,"method":5}'),
                     frame('{"jsonrpc":"2.0","id":2,"method":"answer","params":"s"}'), frame("[" * 300 + "]" * 300)],
        "bad-frames": [b"Content-Length: x\r\n\r\n{}", b"Garbage\r\n\r\n", b"Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
                       b"content-length: 2\r\n\r\n{}", b"Content-Type: a\r\nContent-Length: 2\r\n\r\n{}",
                       frame(req(13, "answer"))],
        "too-large": [b"Content-Length: 9000\r\n\r\n" + b'{"jsonrpc":"2.0","id":77,"method":"answer","params":"' + b"x" * 8940 + b'"}',
                      frame(req(14, "answer"))],
        "lf-only": [b"Content-Length: 2\n\n{}", frame(req(15, "answer"))],
    }
    for i, (name, parts) in enumerate(sorted(streams.items())):
        write(d, name, bytes([i * 37 % 256]) + b"".join(parts))


# ---- lsp_params_fuzz: [mode] ... ----------------------------------------------------------
def lsp_params_seeds():
    d = reset("lsp_params_fuzz")
    pos = {"line": 3, "character": 7}
    rng = {"start": {"line": 0, "character": 0}, "end": pos}
    td = {"uri": "file:///w/a.py"}
    params = {
        "initialize": {"processId": 1, "rootUri": "file:///w", "workspaceFolders": [{"uri": "file:///w", "name": "w"}],
                       "capabilities": {"general": {"positionEncodings": ["utf-8", "utf-16"]},
                                        "window": {"workDoneProgress": True},
                                        "workspace": {"configuration": True, "applyEdit": True,
                                                      "workspaceEdit": {"documentChanges": True, "resourceOperations": ["create"]}},
                                        "textDocument": {"inlineCompletion": {}, "codeAction": {"resolveSupport": {"properties": ["edit"]}}}},
                       "initializationOptions": {"moecode": {"maxTokens": 32, "enabledLanguages": ["python"]}},
                       "trace": "verbose", "clientInfo": {"name": "c", "version": "1"}},
        "didOpen": {"textDocument": {"uri": "file:///w/a.py", "languageId": "python", "version": 1, "text": "x = 1\n"}},
        "didChange": {"textDocument": {"uri": "file:///w/a.py", "version": 2},
                      "contentChanges": [{"range": rng, "text": "y"}, {"text": "whole"}]},
        "didClose": {"textDocument": td},
        "didSave": {"textDocument": td, "text": "x"},
        "position": {"textDocument": td, "position": pos, "context": {"triggerKind": 2}},
        "codeAction": {"textDocument": td, "range": rng,
                       "context": {"diagnostics": [{"range": rng, "message": "m", "severity": 1, "source": "s"}], "only": ["quickfix"]}},
        "executeCommand": {"command": "moecode.context", "arguments": [{"textDocument": td, "position": pos}]},
        "folders": {"event": {"added": [{"uri": "file:///x", "name": "x"}], "removed": []}},
        "settings": {"moecode": {"model": "/m.gguf", "threads": 2, "contextBudget": 100, "temperature": 0.5,
                                 "debounceMs": 0, "maxLines": 3, "backend": "cpu"}},
        "uri": "file:///a%20b/%E6%97%A5.py",
        "path": "/tmp/a b/c#d?.py",
    }
    for name, p in params.items():
        write(d, "json-" + name, b"\x00" + json.dumps(p).encode())
    for i, text in enumerate(["a\r\nb\rc\nd".encode(), "é😀x\n日本\r\n\r".encode(), b"\xff\xfe bad \xc3\x28\n", b"",
                              b"x" * 100 + b"\n" * 10]):
        write(d, "positions-%d" % i, b"\x01" + text)
    edits = b""
    for enc, l0, c0, l1, c1, txt in [(0x80, 0, 1, 0, 2, b"Z"), (0x81, 1, 0, 2, 0, b""), (0x82, 0, 0, 0, 0, "😀\n".encode()),
                                     (0x80, 5, 9, 1, 0, b"bad"), (0, 0, 0, 0, 0, b"all new\r\ntext")]:
        edits += bytes([enc, l0, c0, l1, c1, len(txt)]) + txt
    write(d, "document-0", b"\x02" + "héllo\nwörld\n😀 end\n".encode() + b"\x00" + edits)


# ---- lsp_server_fuzz: [flags] message per line ----------------------------------------------
def lsp_server_seeds():
    d = reset("lsp_server_fuzz")
    uri = "file:///w/a.py"
    td = {"uri": uri}
    text = "def add(a, b):\n    return \n\nprint(add(1, 2))\n"
    pos = {"textDocument": td, "position": {"line": 1, "character": 11}}
    rng = {"start": {"line": 1, "character": 0}, "end": {"line": 1, "character": 11}}
    diag = {"range": rng, "message": "undefined name 'c'", "severity": 1}
    opened = note("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}})
    change = note("textDocument/didChange", {"textDocument": {"uri": uri, "version": 2},
                                              "contentChanges": [{"range": {"start": {"line": 1, "character": 11}, "end": {"line": 1, "character": 11}}, "text": "a"}]})
    sessions = {
        "complete": [opened, req(1, "textDocument/inlineCompletion", dict(pos, context={"triggerKind": 1})),
                     req(2, "textDocument/completion", pos), change, req(3, "textDocument/completion", pos)],
        "cancel": [opened, req(1, "textDocument/inlineCompletion", pos), note("$/cancelRequest", {"id": 1}),
                   req(2, "textDocument/inlineCompletion", pos), req(3, "textDocument/inlineCompletion", pos)],
        "commands": [opened, req(1, "workspace/executeCommand", {"command": "moecode.status", "arguments": [{"textDocument": td}]}),
                     req(2, "workspace/executeCommand", {"command": "moecode.context", "arguments": [pos]}),
                     req(3, "workspace/executeCommand", {"command": "moecode.insertCompletion", "arguments": [pos]}),
                     {"jsonrpc": "2.0", "id": 2, "result": {"applied": True}}],
        "actions": [opened, req(1, "textDocument/codeAction", {"textDocument": td, "range": rng, "context": {"diagnostics": [diag]}}),
                    req(2, "codeAction/resolve", {"title": "Fix", "kind": "quickfix",
                                                  "data": {"uri": uri, "version": 1, "kind": "fix", "range": rng, "message": "undefined name 'c'"}})],
        "rewrite": [opened, req(1, "workspace/executeCommand", {"command": "moecode.rewrite",
                                                                 "arguments": [{"textDocument": td, "range": rng, "instruction": "Fix it"}]})],
        "translate": [opened, req(1, "workspace/executeCommand", {"command": "moecode.translate",
                                                                   "arguments": [{"textDocument": td, "to": "javascript"}]})],
        "config": [opened, note("workspace/didChangeConfiguration", {"settings": {"moecode": {"maxTokens": 4, "debounceMs": 0}}}),
                   note("workspace/didChangeConfiguration", {"settings": None}), req(1, "textDocument/completion", pos),
                   note("$/setTrace", {"value": "verbose"}), req(2, "textDocument/completion", pos)],
        "lifecycle": [opened, req(1, "shutdown"), req(2, "textDocument/completion", pos), note("exit")],
        "close": [opened, note("textDocument/didSave", {"textDocument": td}), note("textDocument/didClose", {"textDocument": td}),
                  req(1, "textDocument/completion", pos), opened],
    }
    for i, (name, msgs) in enumerate(sorted(sessions.items())):
        body = "\n".join(json.dumps(m) for m in msgs)
        write(d, name, bytes([1 if i % 3 else 3]) + body.encode())
    write(d, "config-pull", b"\x01" + "\n".join(json.dumps(m) for m in sessions["config"]).encode() + b'\n{"moecode":{"maxLines":2}}')


# ---- tags_fuzz: [lang][start hi][start lo][del][n] inserted source --------------------------
LANGS = ["c", "cpp", "python", "javascript", "typescript", "tsx", "go", "rust", "java", "bash", "json", "ruby",
         "c_sharp", "php", "lua"]
SAMPLES = {"c": "c/sample.c", "cpp": "cpp/sample.cpp", "python": "python/sample.py", "javascript": "javascript/sample.js",
           "typescript": "typescript/sample.ts", "tsx": "tsx/sample.tsx", "go": "go/sample.go", "rust": "rust/sample.rs",
           "bash": "bash/sample.sh", "ruby": "ruby/sample.rb", "php": "php/sample.php", "lua": "lua/sample.lua"}
EXTRA = {"java": "class A { int f(int x) { return g(x); } interface I {} }\n",
         "json": '{"a": [1, 2, {"b": null}], "c": "d"}\n',
         "c_sharp": "namespace N { class C { void M() { F(); } } interface I {} }\n"}


def tags_seeds():
    d = reset("tags_fuzz")
    for i, lang in enumerate(LANGS):
        if lang in SAMPLES:
            with open(os.path.join(ROOT, "tests", "grammars", SAMPLES[lang]), "rb") as f:
                src = f.read()
        else:
            src = EXTRA[lang].encode()
        for k, ins in enumerate([b"x", b"\n", b"(", b"def ", b""]):
            start = (len(src) * (k + 1) // 6)
            write(d, "%s-%d" % (lang, k), bytes([i, start >> 8, start & 255, (k * 3) % 7, len(ins)]) + ins + src)


# ---- dictionaries (libFuzzer -dict) for the JSON targets -----------------------------------
WORDS = ["jsonrpc", "2.0", "id", "method", "params", "result", "error", "code", "message", "Content-Length",
         "initialize", "initialized", "shutdown", "exit", "textDocument/didOpen", "textDocument/didChange",
         "textDocument/didClose", "textDocument/didSave", "textDocument/inlineCompletion", "textDocument/completion",
         "textDocument/codeAction", "codeAction/resolve", "workspace/executeCommand", "workspace/didChangeConfiguration",
         "$/cancelRequest", "$/setTrace", "window/workDoneProgress/cancel", "moecode.status", "moecode.context",
         "moecode.insertCompletion", "moecode.fix", "moecode.rewrite", "moecode.translate", "textDocument", "uri",
         "file:///w/a.py", "languageId", "python", "version", "text", "contentChanges", "range", "start", "end", "line",
         "character", "position", "context", "triggerKind", "diagnostics", "severity", "only", "quickfix",
         "refactor.rewrite", "command", "arguments", "instruction", "to", "output", "overwrite", "data", "kind", "settings",
         "moecode", "maxTokens", "maxLines", "debounceMs", "contextBudget", "temperature", "enabledLanguages", "model",
         "capabilities", "workspaceFolders", "rootUri", "initializationOptions", "positionEncodings", "utf-8", "utf-16",
         "utf-32", "answer", "fail", "twice", "drop", "later", "throw", "note", "refused", "applied", "fix", "rewrite"]


def dictionaries():
    lines = ['"\\"%s\\""' % w for w in WORDS]
    lines += ['"{"', '"}"', '"["', '"]"', '":"', '","', '"null"', '"true"', '"false"', '"-1"', '"4294967296"',
              '"\\\\u0000"', '"\\\\ud83d\\\\ude00"', '"Content-Length: "', '"\\x0d\\x0a\\x0d\\x0a"', '"\\x0a"']
    for t in ("jsonrpc_fuzz", "lsp_params_fuzz", "lsp_server_fuzz"):
        with open(os.path.join(HERE, t + ".dict"), "w") as f:
            f.write("# libFuzzer dictionary (tests/fuzz/make_seeds.py): JSON-RPC and LSP words\n")
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    dictionaries()
    tokenizer_seeds()
    jsonrpc_seeds()
    lsp_params_seeds()
    lsp_server_seeds()
    tags_seeds()
    for t in sorted(os.listdir(CORPUS)):
        p = os.path.join(CORPUS, t)
        print("%-18s %3d files %7d bytes" % (t, len(os.listdir(p)), sum(os.path.getsize(os.path.join(p, f)) for f in os.listdir(p))))
