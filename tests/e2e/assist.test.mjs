// End-to-end: fixes, rewrites and translation through the LSP, with a real client
// (vscode-languageserver-protocol) against the real binary and a scripted generator: code
// actions offered without running the model, resolved lazily into versioned minimal edits,
// the command fallback for clients without resolve, refusals of malformed answers, and the
// translate command creating a file inside the workspace only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { startServer, waitFor } from './lsp_client.mjs';

const require = createRequire(import.meta.url);
const lsp = require('vscode-languageserver-protocol/node');

const SOURCE = 'def area(radius):\n    return 3.14159 * radius ** 2\n\n\ndef total(items):\n' +
  '    s = 0\n    for it in items:\n        s += it\n    return sm\n';
const FIXED_TOTAL = '```python\ndef total(items):\n    s = 0\n    for it in items:\n        s += it\n    return s\n```';
const SM = { range: { start: { line: 8, character: 11 }, end: { line: 8, character: 13 } },
  message: "undefined name 'sm'", severity: 1, source: 'pyflakes' };

const FULL_CAPS = {
  textDocument: { codeAction: { resolveSupport: { properties: ['edit'] } } },
  workspace: { applyEdit: true, workspaceEdit: { documentChanges: true, resourceOperations: ['create'] } },
};

async function session(script, capabilities = FULL_CAPS) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'moecode-e2e-assist-'));
  const server = startServer(script);
  const messages = [];
  server.connection.onNotification('window/showMessage', (m) => messages.push(m));
  const applied = [];
  server.connection.onRequest(lsp.ApplyWorkspaceEditRequest.type, (p) => { applied.push(p); return { applied: true }; });
  await server.connection.sendRequest(lsp.InitializeRequest.type, {
    processId: process.pid, rootUri: null, capabilities,
    workspaceFolders: [{ uri: pathToFileURL(dir).href, name: 'ws' }],
  });
  await server.connection.sendNotification(lsp.InitializedNotification.type, {});
  const uri = pathToFileURL(path.join(dir, 'shapes.py')).href;
  fs.writeFileSync(path.join(dir, 'shapes.py'), SOURCE);
  await server.connection.sendNotification(lsp.DidOpenTextDocumentNotification.type, {
    textDocument: { uri, languageId: 'python', version: 1, text: SOURCE },
  });
  // The model loads on the scheduler after initialize: wait for that job to end, so that a
  // test's "no job runs" checks see only what the test itself started.
  let st;
  await waitFor(async () => {
    st = await server.connection.sendRequest(lsp.ExecuteCommandRequest.type, { command: 'moecode.status' });
    return st.modelLoaded && !st.busy && st.queue === 0;
  }, 10000, () => `the model's load: ${JSON.stringify(st)}`);
  const close = async () => {
    await server.connection.sendRequest(lsp.ShutdownRequest.type);
    await server.connection.sendNotification(lsp.ExitNotification.type);
    assert.equal(await server.exited, 0, server.stderr());
    fs.rmSync(dir, { recursive: true });
  };
  return { server, dir, uri, messages, applied, close };
}

const codeActions = (s, range, diagnostics, only) => s.server.connection.sendRequest(lsp.CodeActionRequest.type, {
  textDocument: { uri: s.uri }, range, context: { diagnostics, only },
});

test('code actions: offered lazily, resolved into a versioned minimal edit', async () => {
  const s = await session({ replies: [{ match: "undefined name 'sm'", text: FIXED_TOTAL }] });
  // The cursor on the diagnostic (an empty range): the fix only.
  const actions = await codeActions(s, { start: SM.range.start, end: SM.range.start }, [SM]);
  assert.equal(actions.length, 1);
  const [fix] = actions;
  assert.equal(fix.title, "Fix with moecode: undefined name 'sm'");
  assert.equal(fix.kind, 'quickfix');
  assert.deepEqual(fix.diagnostics, [SM]);
  assert.equal(fix.edit, undefined, 'the model runs only in resolve');
  assert.equal(fix.command, undefined);
  let st = await s.server.connection.sendRequest(lsp.ExecuteCommandRequest.type, { command: 'moecode.status' });
  assert.equal(st.busy, false);

  const resolved = await s.server.connection.sendRequest(lsp.CodeActionResolveRequest.type, fix);
  const [change] = resolved.edit.documentChanges;
  assert.deepEqual(change.textDocument, { uri: s.uri, version: 1 });
  assert.deepEqual(change.edits, [{ range: { start: { line: 8, character: 0 }, end: { line: 8, character: 13 } },
    newText: '    return s' }]);
  // A selection also offers a rewrite; "only" filters by kind.
  const sel = { start: { line: 0, character: 0 }, end: { line: 1, character: 10 } };
  const both = await codeActions(s, sel, [SM]);
  assert.deepEqual(both.map((a) => a.kind), ['quickfix', 'refactor.rewrite']);
  const onlyFix = await codeActions(s, sel, [SM], ['quickfix']);
  assert.deepEqual(onlyFix.map((a) => a.kind), ['quickfix']);
  const onlyRefactor = await codeActions(s, sel, [SM], ['refactor']);
  assert.deepEqual(onlyRefactor.map((a) => a.kind), ['refactor.rewrite']);
  await s.close();
});

test('code actions: a reasoning model\'s <think> text stays out of the edit and is kept in the log', async () => {
  const s = await session({ replies: [{ match: "undefined name 'sm'",
    text: '<think>The loop sums into s, so sm is a typo for s.</think>\n' + FIXED_TOTAL }] });
  const [fix] = await codeActions(s, SM.range, [SM]);
  const resolved = await s.server.connection.sendRequest(lsp.CodeActionResolveRequest.type, fix);
  const [change] = resolved.edit.documentChanges;
  assert.deepEqual(change.edits.map((e) => e.newText), ['    return s']);
  assert.ok(!JSON.stringify(resolved).includes('typo'), 'no reasoning in the code action');
  await waitFor(() => s.server.stderr().includes('sm is a typo for s'));
  assert.match(s.server.stderr(), /fix: the model's reasoning \(not in the edit\)/);
  await s.close();
});

test('code actions: an edit since the offer is ContentModified; a malformed answer is refused and said', async () => {
  const s = await session({ replies: [{ match: '', text: '```python\ndef total(items:\n    s = 0\n    for it in items:\n        s += it\n    return s\n```' }] });
  const [fix] = await codeActions(s, SM.range, [SM]);
  await s.server.connection.sendNotification(lsp.DidChangeTextDocumentNotification.type, {
    textDocument: { uri: s.uri, version: 2 },
    contentChanges: [{ range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, text: '# hi\n' }],
  });
  await assert.rejects(s.server.connection.sendRequest(lsp.CodeActionResolveRequest.type, fix),
    (e) => e.code === lsp.LSPErrorCodes.ContentModified);
  const [fresh] = await codeActions(s, { start: { line: 9, character: 11 }, end: { line: 9, character: 13 } },
    [{ ...SM, range: { start: { line: 9, character: 11 }, end: { line: 9, character: 13 } } }]);
  await assert.rejects(s.server.connection.sendRequest(lsp.CodeActionResolveRequest.type, fresh),
    (e) => e.code === lsp.LSPErrorCodes.RequestFailed && /does not parse/.test(e.message));
  await waitFor(() => s.messages.some((m) => /moecode could not fix this: .*does not parse/.test(m.message)));
  assert.equal(s.applied.length, 0);
  await s.close();
});

test('code actions without resolve support run the moecode.fix command, applied through applyEdit', async () => {
  const s = await session({ replies: [{ match: "undefined name 'sm'", text: FIXED_TOTAL }] },
    { workspace: { applyEdit: true } });
  const [fix] = await codeActions(s, SM.range, [SM]);
  assert.equal(fix.command.command, 'moecode.fix');
  const r = await s.server.connection.sendRequest(lsp.ExecuteCommandRequest.type, fix.command);
  assert.equal(r.applied, true);
  assert.equal(r.title, "Fix: undefined name 'sm'");
  assert.equal(s.applied.length, 1);
  // Without documentChanges: a plain `changes` map.
  assert.deepEqual(s.applied[0].edit.changes[s.uri][0].newText, '    return s');
  // moecode.rewrite: a selection and an instruction.
  const s2 = await session({ replies: [{ match: 'use math.pi', text: '```python\ndef area(radius):\n    return math.pi * radius ** 2\n```' }] });
  const rr = await s2.server.connection.sendRequest(lsp.ExecuteCommandRequest.type, {
    command: 'moecode.rewrite',
    arguments: [{ textDocument: { uri: s2.uri }, range: { start: { line: 0, character: 0 }, end: { line: 2, character: 0 } },
      instruction: 'use math.pi' }],
  });
  assert.equal(rr.applied, true);
  assert.deepEqual(s2.applied[0].edit.documentChanges[0].edits,
    [{ range: { start: { line: 1, character: 0 }, end: { line: 1, character: 32 } }, newText: '    return math.pi * radius ** 2' }]);
  await s.close();
  await s2.close();
});

test('moecode.translate creates the new file through applyEdit, inside the workspace only', async () => {
  const s = await session({ replies: [
    { match: 'def area', text: '```javascript\nfunction area(radius) {\n  return 3.14159 * radius ** 2;\n}\n```' },
    { match: 'def total', text: '```javascript\nfunction total(items) {\n  return items.reduce((a, b) => a + b, 0);\n}\n```' },
  ] });
  const progress = [];
  s.server.connection.onNotification('$/progress', (p) => progress.push(p));
  const r = await s.server.connection.sendRequest(lsp.ExecuteCommandRequest.type, {
    command: 'moecode.translate', arguments: [{ textDocument: { uri: s.uri }, to: 'javascript' }],
  });
  const out = pathToFileURL(path.join(s.dir, 'shapes.js')).href;
  assert.equal(r.applied, true);
  assert.equal(r.uri, out);
  assert.equal(r.failed, 0);
  assert.equal(r.parses, true);
  assert.deepEqual(r.units.map((u) => u.name), ['area', 'total']);
  const [create, edit] = s.applied[0].edit.documentChanges;
  assert.deepEqual(create, { kind: 'create', uri: out, options: { overwrite: false, ignoreIfExists: false } });
  assert.equal(edit.textDocument.uri, out);
  assert.match(edit.edits[0].newText, /^function area\(radius\) \{\n[\s\S]*function total\(items\)/);

  const outside = pathToFileURL(path.join(s.dir, '..', 'escape.js')).href;
  await assert.rejects(s.server.connection.sendRequest(lsp.ExecuteCommandRequest.type, {
    command: 'moecode.translate', arguments: [{ textDocument: { uri: s.uri }, to: 'js', output: outside }],
  }), /outside the workspace/);
  fs.writeFileSync(path.join(s.dir, 'shapes.js'), '// mine\n');
  await assert.rejects(s.server.connection.sendRequest(lsp.ExecuteCommandRequest.type, {
    command: 'moecode.translate', arguments: [{ textDocument: { uri: s.uri }, to: 'javascript' }],
  }), /exists/);
  assert.equal(fs.readFileSync(path.join(s.dir, 'shapes.js'), 'utf8'), '// mine\n');
  // With overwrite: no create, the file's whole text is replaced.
  const again = await s.server.connection.sendRequest(lsp.ExecuteCommandRequest.type, {
    command: 'moecode.translate', arguments: [{ textDocument: { uri: s.uri }, to: 'javascript', overwrite: true }],
  });
  assert.equal(again.applied, true);
  const changes = s.applied.at(-1).edit.documentChanges;
  assert.equal(changes.length, 1);
  assert.deepEqual(changes[0].edits[0].range, { start: { line: 0, character: 0 }, end: { line: 1, character: 0 } });
  await assert.rejects(s.server.connection.sendRequest(lsp.ExecuteCommandRequest.type, {
    command: 'moecode.translate', arguments: [{ textDocument: { uri: s.uri }, to: 'klingon' }],
  }), /klingon/);
  await s.close();
});
