// End-to-end: secrets never reach a model through the LSP, whichever path builds the prompt.
// The scripted generator answers "LEAKED" when a prompt contains the secret, so a leak is
// visible from the client: a secret file (.env) gets no completion, context or fix at all; a
// secret inside an ordinary open document is redacted on the document-only path (an
// unindexed file outside the workspace folders, --no-repo-context) as on the repository path,
// and in fixes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { startServer } from './lsp_client.mjs';

const require = createRequire(import.meta.url);
const lsp = require('vscode-languageserver-protocol/node');

// Assembled here so that the source itself holds no secret.
const AWS_KEY = ['AKIA', 'IOSFODNN7', 'EXAMPLE'].join('');
const GH_TOKEN = 'ghp_' + 'a'.repeat(18) + 'B'.repeat(18);
const SCRIPT = {
  replies: [
    { match: AWS_KEY, text: 'LEAKED' },
    { match: GH_TOKEN, text: 'LEAKED' },
    { match: 'REDACTED', text: ' # redacted, as it should be' },
  ],
  fallback: 'fallback',
};

async function start(extraArgs = [], folders = null, script = SCRIPT) {
  const server = startServer(script, extraArgs);
  await server.connection.sendRequest(lsp.InitializeRequest.type, {
    processId: process.pid, rootUri: null, workspaceFolders: folders,
    capabilities: { textDocument: { codeAction: { resolveSupport: { properties: ['edit'] } } } },
  });
  await server.connection.sendNotification(lsp.InitializedNotification.type, {});
  return server;
}

async function open(server, uri, text, languageId = 'python') {
  await server.connection.sendNotification(lsp.DidOpenTextDocumentNotification.type,
    { textDocument: { uri, languageId, version: 1, text } });
}

const inline = (server, uri, position) => server.connection.sendRequest('textDocument/inlineCompletion', {
  textDocument: { uri }, position, context: { triggerKind: 1 },
});

async function stop(server) {
  await server.connection.sendRequest(lsp.ShutdownRequest.type);
  await server.connection.sendNotification(lsp.ExitNotification.type);
  assert.equal(await server.exited, 0, server.stderr());
}

const SETTINGS = `import boto3\n\nAWS_ACCESS_KEY_ID = "${AWS_KEY}"\nGITHUB = "${GH_TOKEN}"\n\n\ndef client():\n    return `;
const CURSOR = { line: 7, character: 11 };

for (const [name, args] of [['the document-only path', []], ['--no-repo-context', ['--no-repo-context']]]) {
  test(`a secret in an open, unindexed document is redacted before the model (${name})`, async () => {
    const server = await start(args);
    const uri = 'file:///outside/any/folder/settings.py';
    await open(server, uri, SETTINGS);
    const r = await inline(server, uri, CURSOR);
    assert.equal(r.items.length, 1);
    assert.equal(r.items[0].insertText, '# redacted, as it should be');
    const ctx = await server.connection.sendRequest(lsp.ExecuteCommandRequest.type, {
      command: 'moecode.context', arguments: [{ textDocument: { uri }, position: CURSOR }],
    });
    assert.ok(!ctx.prompt.includes(AWS_KEY) && !ctx.text.includes(GH_TOKEN), ctx.text);
    assert.match(ctx.prompt, /AWS_ACCESS_KEY_ID = "\[REDACTED\]"/);
    await stop(server);
  });
}

test('a secret in a document of the indexed workspace is redacted too', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'moecode-e2e-secrets-'));
  fs.writeFileSync(path.join(dir, 'settings.py'), SETTINGS);
  fs.writeFileSync(path.join(dir, 'app.py'), 'from settings import client\n\nclient()\n');
  const server = await start([], [{ uri: pathToFileURL(dir).href, name: 'ws' }]);
  const uri = pathToFileURL(path.join(dir, 'settings.py')).href;
  await open(server, uri, SETTINGS);
  const r = await inline(server, uri, CURSOR);
  assert.notEqual(r.items[0]?.insertText, 'LEAKED');
  await stop(server);
  fs.rmSync(dir, { recursive: true });
});

test('a secret file (.env) gets no completion, no context, no code action', async () => {
  const server = await start();
  const uri = 'file:///project/.env';
  await open(server, uri, `AWS_ACCESS_KEY_ID=${AWS_KEY}\nAPI_TOKEN=`, 'dotenv');
  const r = await inline(server, uri, { line: 1, character: 10 });
  assert.deepEqual(r.items, []);
  const c = await server.connection.sendRequest(lsp.CompletionRequest.type,
    { textDocument: { uri }, position: { line: 1, character: 10 } });
  assert.deepEqual(c.items, []);
  await assert.rejects(server.connection.sendRequest(lsp.ExecuteCommandRequest.type, {
    command: 'moecode.context', arguments: [{ textDocument: { uri }, position: { line: 1, character: 0 } }],
  }), /secret file/);
  const actions = await server.connection.sendRequest(lsp.CodeActionRequest.type, {
    textDocument: { uri }, range: { start: { line: 0, character: 0 }, end: { line: 1, character: 0 } },
    context: { diagnostics: [{ range: { start: { line: 0, character: 0 }, end: { line: 0, character: 5 } }, message: 'x' }] },
  });
  assert.deepEqual(actions, []);
  await stop(server);
});

test('a fix of a document with a secret sends the redacted text', async () => {
  const server = await start([], null, { replies: [{ match: AWS_KEY, text: 'LEAKED' },
    { match: '', text: '```python\ndef f():\n    return KEY + "!"\n```' }] });
  const uri = 'file:///outside/settings.py';
  const text = `KEY = "${AWS_KEY}"\n\n\ndef f():\n    return KEY +\n`;
  await open(server, uri, text);
  const diag = { range: { start: { line: 4, character: 4 }, end: { line: 4, character: 16 } }, message: 'invalid syntax' };
  const [fix] = await server.connection.sendRequest(lsp.CodeActionRequest.type, {
    textDocument: { uri }, range: { start: diag.range.start, end: diag.range.start }, context: { diagnostics: [diag] },
  });
  // The model answers "LEAKED" if it sees the key, else the fix.
  const resolved = await server.connection.sendRequest(lsp.CodeActionResolveRequest.type, fix);
  assert.deepEqual(resolved.edit.changes[uri].map((e) => e.newText), ['    return KEY + "!"']);
  await stop(server);
});
