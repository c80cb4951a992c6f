// End-to-end: a real LSP client (vscode-languageserver-protocol / vscode-jsonrpc, the
// libraries VS Code's client is built on) against the real `moecode serve --stdio` binary.
// Completions come from a scripted generator (deterministic answers and delays), so every
// server path is exercised without a model; lsp_model.test.mjs runs the real models.
// Run: MOECODE_BINARY=build/bin/moecode node --test tests/e2e/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { startServer, utf16Position, applyEdit, lcg, waitFor } from './lsp_client.mjs';

const require = createRequire(import.meta.url);
const lsp = require('vscode-languageserver-protocol/node');

const URI = 'file:///work/demo.py';

const ADD_SCRIPT = {
  replies: [{ match: 'def add(a, b):', text: '\n    return a + b\n\nprint(add(1, 2))\n' }],
  fallback: 'pass',
};

async function initialized(server, capabilities = {}, initializationOptions, workspaceFolders = null) {
  const result = await server.connection.sendRequest(lsp.InitializeRequest.type, {
    processId: process.pid,
    rootUri: null,
    capabilities,
    initializationOptions,
    workspaceFolders,
    clientInfo: { name: 'moecode-e2e' },
  });
  await server.connection.sendNotification(lsp.InitializedNotification.type, {});
  return result;
}

async function open(server, text, uri = URI, languageId = 'python') {
  await server.connection.sendNotification(lsp.DidOpenTextDocumentNotification.type, {
    textDocument: { uri, languageId, version: 1, text },
  });
}

async function shutdownAndExit(server) {
  await server.connection.sendRequest(lsp.ShutdownRequest.type);
  await server.connection.sendNotification(lsp.ExitNotification.type);
  return server.exited;
}

test('lifecycle: initialize advertises the capabilities; shutdown + exit ends with 0', async () => {
  const server = startServer(ADD_SCRIPT);
  const result = await initialized(server, {
    general: { positionEncodings: ['utf-16'] },
    textDocument: { inlineCompletion: {} },
  });
  const caps = result.capabilities;
  assert.equal(caps.positionEncoding, 'utf-16');
  assert.equal(caps.textDocumentSync.change, lsp.TextDocumentSyncKind.Incremental);
  assert.equal(caps.textDocumentSync.openClose, true);
  assert.equal(caps.inlineCompletionProvider, true);
  assert.ok(caps.completionProvider);
  assert.deepEqual(caps.executeCommandProvider.commands, ['moecode.status', 'moecode.context', 'moecode.insertCompletion',
    'moecode.fix', 'moecode.rewrite', 'moecode.translate']);
  assert.deepEqual(caps.codeActionProvider, { codeActionKinds: ['quickfix', 'refactor.rewrite'], resolveProvider: true });
  assert.equal(result.serverInfo.name, 'moecode');
  assert.equal(await shutdownAndExit(server), 0);
  assert.doesNotMatch(server.stderr(), /AddressSanitizer|runtime error/);
});

test('lifecycle: exit without shutdown ends with 1', async () => {
  const server = startServer(ADD_SCRIPT);
  await initialized(server);
  await server.connection.sendNotification(lsp.ExitNotification.type);
  assert.equal(await server.exited, 1);
});

test('lifecycle: requests before initialize get ServerNotInitialized', async () => {
  const server = startServer(ADD_SCRIPT);
  await assert.rejects(
    server.connection.sendRequest(lsp.CompletionRequest.type, {
      textDocument: { uri: URI }, position: { line: 0, character: 0 },
    }),
    (e) => e.code === -32002,
  );
  await initialized(server);
  assert.equal(await shutdownAndExit(server), 0);
});

test('sync: 300 random incremental UTF-16 edits (emoji, CRLF) keep the server in step', async () => {
  // Simulate first, so the script can recognise the exact final text in the prompt.
  const rand = lcg(1234);
  const atoms = ['a', 'é', '中', '😀', '𝄞', ' ', '\n', '\r\n', 'x = 1', '\t'];
  let text = 'start 😀\r\nline two\n';
  const edits = [];
  for (let i = 0; i < 300; i++) {
    const a = Math.floor(rand() * (text.length + 1));
    const b = Math.min(text.length, a + Math.floor(rand() * 4));
    let ins = '';
    for (let k = Math.floor(rand() * 3); k > 0; k--) ins += atoms[Math.floor(rand() * atoms.length)];
    // Keep edits off the middle of a surrogate pair and of a CRLF: snap to a boundary.
    const snap = (o) => {
      const c = text.charCodeAt(o);
      if (o > 0 && o < text.length && c >= 0xdc00 && c <= 0xdfff) return o - 1;
      if (o > 0 && o < text.length && text[o] === '\n' && text[o - 1] === '\r') return o - 1;
      return o;
    };
    const s = snap(a);
    const e = Math.max(s, snap(b));
    edits.push({ range: { start: utf16Position(text, s), end: utf16Position(text, e) }, text: ins });
    text = applyEdit(text, s, e, ins);
  }
  const server = startServer({ replies: [{ match: text, text: 'SYNC-OK' }], fallback: 'OUT-OF-SYNC' });
  await initialized(server);
  await open(server, 'start 😀\r\nline two\n', URI, 'plaintext');
  let version = 1;
  for (const edit of edits) {
    await server.connection.sendNotification(lsp.DidChangeTextDocumentNotification.type, {
      textDocument: { uri: URI, version: ++version },
      contentChanges: [edit],
    });
  }
  const end = utf16Position(text, text.length);
  const result = await server.connection.sendRequest(lsp.InlineCompletionRequest.type, {
    textDocument: { uri: URI }, position: end, context: { triggerKind: 1 },
  });
  assert.equal(result.items.length, 1);
  assert.equal(result.items[0].insertText, 'SYNC-OK');
  assert.deepEqual(result.items[0].range, { start: end, end });
  assert.equal(await shutdownAndExit(server), 0);
});

test('inline completion and completion carry the suggestion with the right range', async () => {
  const server = startServer({ replies: [{ match: 'y = o', text: 's.path' }, ...ADD_SCRIPT.replies] });
  await initialized(server);
  await open(server, 'import os\n\ndef add(a, b):\n');
  const inline = await server.connection.sendRequest(lsp.InlineCompletionRequest.type, {
    textDocument: { uri: URI }, position: { line: 2, character: 14 }, context: { triggerKind: 1 },
  });
  assert.equal(inline.items[0].insertText, '\n    return a + b');
  assert.deepEqual(inline.items[0].range.start, { line: 2, character: 14 });

  await server.connection.sendNotification(lsp.DidChangeTextDocumentNotification.type, {
    textDocument: { uri: URI, version: 2 },
    contentChanges: [{ range: { start: { line: 3, character: 0 }, end: { line: 3, character: 0 } }, text: 'y = o' }],
  });
  const list = await server.connection.sendRequest(lsp.CompletionRequest.type, {
    textDocument: { uri: URI }, position: { line: 3, character: 5 }, context: { triggerKind: 1 },
  });
  assert.equal(list.isIncomplete, true);
  assert.equal(list.items.length, 1);
  assert.equal(list.items[0].textEdit.newText, 'os.path');
  assert.equal(list.items[0].filterText, 'os.path');
  assert.deepEqual(list.items[0].textEdit.range, { start: { line: 3, character: 4 }, end: { line: 3, character: 5 } });
  assert.equal(await shutdownAndExit(server), 0);
});

const SLOW = { fallback: 'z'.repeat(4000), tokenDelayMs: 10 };

test('cancellation: $/cancelRequest answers RequestCancelled; a newer request supersedes the older', async () => {
  const server = startServer(SLOW);
  await initialized(server);
  await open(server, 'def f():\n    ');
  const params = { textDocument: { uri: URI }, position: { line: 1, character: 4 }, context: { triggerKind: 1 } };
  const source = new lsp.CancellationTokenSource();
  const cancelled = server.connection.sendRequest(lsp.InlineCompletionRequest.type, params, source.token);
  setTimeout(() => source.cancel(), 100);
  await assert.rejects(cancelled, (e) => e.code === lsp.LSPErrorCodes.RequestCancelled);

  const older = server.connection.sendRequest(lsp.InlineCompletionRequest.type, params);
  await new Promise((r) => setTimeout(r, 50));
  const source2 = new lsp.CancellationTokenSource();
  const newer = server.connection.sendRequest(lsp.InlineCompletionRequest.type, params, source2.token);
  await assert.rejects(older, (e) => e.code === lsp.LSPErrorCodes.RequestCancelled && /superseded/.test(e.message));
  source2.cancel();
  await assert.rejects(newer, (e) => e.code === lsp.LSPErrorCodes.RequestCancelled);
  const status = await server.connection.sendRequest(lsp.ExecuteCommandRequest.type, { command: 'moecode.status' });
  assert.equal(status.pendingCompletions, 0);
  assert.equal(await shutdownAndExit(server), 0);
});

test('an edit during a completion makes it ContentModified', async () => {
  const server = startServer(SLOW);
  await initialized(server);
  await open(server, 'x');
  const pending = server.connection.sendRequest(lsp.InlineCompletionRequest.type, {
    textDocument: { uri: URI }, position: { line: 0, character: 1 }, context: { triggerKind: 2 },
  });
  await new Promise((r) => setTimeout(r, 150));
  await server.connection.sendNotification(lsp.DidChangeTextDocumentNotification.type, {
    textDocument: { uri: URI, version: 2 }, contentChanges: [{ text: 'xy' }],
  });
  await assert.rejects(pending, (e) => e.code === lsp.LSPErrorCodes.ContentModified);
  assert.equal(await shutdownAndExit(server), 0);
});

test('configuration: initializationOptions, didChangeConfiguration and workspace/configuration', async () => {
  const server = startServer({ replies: [{ match: '# lines', text: 'x = 1\ny = 2\nz = 3\n' }] });
  let pulls = 0;
  server.connection.onRequest(lsp.ConfigurationRequest.type, (params) => {
    pulls++;
    assert.equal(params.items[0].section, 'moecode');
    return [{ maxLines: 1 }];
  });
  await initialized(server, { workspace: { configuration: true } }, { enabledLanguages: ['python'] });
  await open(server, '# lines\n');
  await open(server, '# lines\n', 'file:///work/notes.txt', 'plaintext');
  const pos = { position: { line: 1, character: 0 }, context: { triggerKind: 1 } };
  await waitFor(() => pulls >= 1);
  // The pull after `initialized` set maxLines 1.
  let r = await server.connection.sendRequest(lsp.InlineCompletionRequest.type, { textDocument: { uri: URI }, ...pos });
  assert.deepEqual(r.items.map((i) => i.insertText), ['x = 1']);
  r = await server.connection.sendRequest(lsp.InlineCompletionRequest.type,
    { textDocument: { uri: 'file:///work/notes.txt' }, ...pos });
  assert.equal(r.items.length, 0, 'plaintext is not an enabled language');
  // Push: new settings take effect for the next request.
  await server.connection.sendNotification(lsp.DidChangeConfigurationNotification.type,
    { settings: { moecode: { maxLines: 4, enabledLanguages: ['*'] } } });
  r = await server.connection.sendRequest(lsp.InlineCompletionRequest.type, { textDocument: { uri: URI }, ...pos });
  assert.equal(r.items[0].insertText, 'x = 1\ny = 2\nz = 3');
  r = await server.connection.sendRequest(lsp.InlineCompletionRequest.type,
    { textDocument: { uri: 'file:///work/notes.txt' }, ...pos });
  assert.equal(r.items.length, 1);
  // A bad value is shown to the user and ignored.
  const shown = new Promise((resolve) => server.connection.onNotification(lsp.ShowMessageNotification.type, resolve));
  await server.connection.sendNotification(lsp.DidChangeConfigurationNotification.type,
    { settings: { moecode: { maxTokens: 'lots' } } });
  const msg = await shown;
  assert.equal(msg.type, lsp.MessageType.Error);
  assert.match(msg.message, /maxTokens/);
  // settings: null asks the server to pull (the client answers maxLines 1 again).
  const before = pulls;
  await server.connection.sendNotification(lsp.DidChangeConfigurationNotification.type, { settings: null });
  await waitFor(() => pulls > before);
  const status = await server.connection.sendRequest(lsp.ExecuteCommandRequest.type, { command: 'moecode.status' });
  assert.equal(status.config.maxLines, 1);
  assert.equal(status.config.maxTokens, 64);
  assert.equal(await shutdownAndExit(server), 0);
});

test('work-done progress reports workspace indexing; insertCompletion applies an edit', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'moecode-e2e-'));
  for (let i = 0; i < 3; i++) fs.writeFileSync(path.join(dir, `f${i}.py`), 'x = 1\n');
  const server = startServer(ADD_SCRIPT);
  const created = [];
  server.connection.onRequest(lsp.WorkDoneProgressCreateRequest.type, (p) => { created.push(p.token); return null; });
  const progress = [];
  const ended = new Promise((resolve) => {
    server.connection.onNotification('$/progress', (p) => {
      progress.push(p);
      if (p.value.kind === 'end') resolve();
    });
  });
  let applied;
  server.connection.onRequest(lsp.ApplyWorkspaceEditRequest.type, (p) => { applied = p; return { applied: true }; });
  await initialized(server, { window: { workDoneProgress: true }, workspace: { applyEdit: true } }, undefined,
    [{ uri: pathToFileURL(dir).href, name: 'tmp' }]);
  await ended;
  assert.equal(created.length, 1);
  assert.equal(progress[0].token, created[0]);
  assert.equal(progress[0].value.kind, 'begin');
  // The tree-sitter symbol index of the folder (x = 1 is a definition in each file).
  assert.match(progress.at(-1).value.message, /^indexed 3 files \(3 definitions\) in \d+ ms(, [1-3] from the index cache)?$/);

  await open(server, 'def add(a, b):\n');
  const r = await server.connection.sendRequest(lsp.ExecuteCommandRequest.type, {
    command: 'moecode.insertCompletion',
    arguments: [{ textDocument: { uri: URI }, position: { line: 0, character: 14 } }],
  });
  assert.equal(r.applied, true);
  assert.equal(applied.edit.changes[URI][0].newText, '\n    return a + b');
  assert.equal(await shutdownAndExit(server), 0);
  fs.rmSync(dir, { recursive: true });
});

test('moecode/status tells the editor the model state and indexing; moecode.context shows the prompt', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'moecode-e2e-'));
  fs.writeFileSync(path.join(dir, 'billing.py'), 'def total(items):\n    return sum(items)\n');
  fs.writeFileSync(path.join(dir, 'report.py'), 'from billing import total\n\nprint(total([1, 2]))\n');
  const server = startServer(ADD_SCRIPT);
  const statuses = [];
  server.connection.onNotification('moecode/status', (p) => statuses.push(p));
  await initialized(server, {}, undefined, [{ uri: pathToFileURL(dir).href, name: 'tmp' }]);
  // The scripted generator is installed before the session starts: the model is ready at once;
  // indexing ends with its summary.
  await waitFor(() => statuses.some((s) => s.indexing.active === false && /indexed/.test(s.indexing.message)));
  const last = statuses.at(-1);
  assert.equal(last.state, 'ready');
  assert.equal(last.model, 'scripted generator');
  assert.equal(last.backend, 'cpu');
  assert.equal(last.indexing.percentage, 100);
  assert.ok(statuses.some((s) => s.indexing.active === true), 'indexing was reported as active first');

  const uri = pathToFileURL(path.join(dir, 'report.py')).href;
  const text = 'from billing import total\n\nprint(total([1, 2]))\n';
  await open(server, text, uri);
  const ctx = await server.connection.sendRequest(lsp.ExecuteCommandRequest.type, {
    command: 'moecode.context', arguments: [{ textDocument: { uri }, position: { line: 2, character: 6 } }],
  });
  assert.equal(ctx.uri, uri);
  assert.ok(ctx.tokens > 0 && ctx.tokens <= ctx.budget, JSON.stringify(ctx));
  // The definition from the other file, then the document with the cursor marked.
  assert.match(ctx.text, /def total\(items\)/);
  assert.ok(ctx.text.includes('print(<CURSOR>total([1, 2]))'), ctx.text);
  assert.ok(ctx.prompt.includes('def total(items)'));
  const st = await server.connection.sendRequest(lsp.ExecuteCommandRequest.type, { command: 'moecode.status' });
  assert.equal(st.state, 'ready');
  assert.equal(st.indexing.active, false);
  await assert.rejects(server.connection.sendRequest(lsp.ExecuteCommandRequest.type, {
    command: 'moecode.context', arguments: [{ textDocument: { uri: 'file:///nope.py' }, position: { line: 0, character: 0 } }],
  }), /document not open/);
  assert.equal(await shutdownAndExit(server), 0);
  fs.rmSync(dir, { recursive: true });
});

test('moecode/status without a model says so, and the context is still shown (approximate count)', async () => {
  const bad = path.join(os.tmpdir(), `moecode-e2e-bad-${process.pid}.gguf`);
  fs.writeFileSync(bad, 'this is not a GGUF file');
  const server = startServer({ model: bad });
  const statuses = [];
  server.connection.onNotification('moecode/status', (p) => statuses.push(p));
  await initialized(server);
  await waitFor(() => statuses.some((s) => s.state === 'error'));
  const err = statuses.find((s) => s.state === 'error');
  assert.match(err.message, /moecode-e2e-bad/);
  assert.equal(statuses[0].state, 'loading');
  await open(server, 'def add(a, b):\n    return a + b\n');
  const ctx = await server.connection.sendRequest(lsp.ExecuteCommandRequest.type, {
    command: 'moecode.context', arguments: [{ textDocument: { uri: URI }, position: { line: 1, character: 4 } }],
  });
  assert.equal(ctx.approximate, true);
  assert.ok(ctx.text.includes('    <CURSOR>return a + b'), ctx.text);
  assert.equal(await shutdownAndExit(server), 0);
  fs.rmSync(bad);
});

test('hostile input over the wire: the server answers errors and keeps serving', async () => {
  const server = startServer(ADD_SCRIPT);
  await initialized(server);
  await assert.rejects(server.connection.sendRequest('moecode/noSuchMethod', {}), (e) => e.code === -32601);
  await assert.rejects(
    server.connection.sendRequest(lsp.InlineCompletionRequest.type, {
      textDocument: { uri: URI }, position: { line: 'zero', character: 0 },
    }),
    (e) => e.code === -32602 && /params\.position\.line/.test(e.message),
  );
  await assert.rejects(
    server.connection.sendRequest(lsp.InlineCompletionRequest.type, {
      textDocument: { uri: 'file:///not/open.py' }, position: { line: 0, character: 0 },
    }),
    (e) => e.code === -32602,
  );
  await open(server, 'def add(a, b):\n');
  const r = await server.connection.sendRequest(lsp.InlineCompletionRequest.type, {
    textDocument: { uri: URI }, position: { line: 0, character: 14 }, context: { triggerKind: 1 },
  });
  assert.equal(r.items.length, 1);
  assert.equal(await shutdownAndExit(server), 0);
});
