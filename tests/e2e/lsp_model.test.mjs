// End-to-end with real models through the engine: the tiny fixture model (random weights, a
// FIM vocabulary: fast) and the default model (SmolLM2-135M-Instruct Q4_1, prefix-only).
// The default model comes from scripts/setup; without it that test is skipped with a message
// saying so (every other test here needs only tests/data).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from './lsp_client.mjs';

const require = createRequire(import.meta.url);
const lsp = require('vscode-languageserver-protocol/node');

const here = path.dirname(fileURLToPath(import.meta.url));
const TINY = path.resolve(here, '../data/fixtures/models/tiny-qwen2.f32.gguf');
const DEFAULT = process.env.MOECODE_DEFAULT_MODEL ||
  path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'moecode/models/default.gguf');
const URI = 'file:///work/fib.py';

async function start(model) {
  const server = startServer({ model }, ['--threads', '2']);
  await server.connection.sendRequest(lsp.InitializeRequest.type, {
    processId: process.pid, rootUri: null, capabilities: {}, initializationOptions: { maxTokens: 16 },
  });
  await server.connection.sendNotification(lsp.InitializedNotification.type, {});
  return server;
}

const status = (server) => server.connection.sendRequest(lsp.ExecuteCommandRequest.type, { command: 'moecode.status' });

async function stop(server) {
  await server.connection.sendRequest(lsp.ShutdownRequest.type);
  await server.connection.sendNotification(lsp.ExitNotification.type);
  assert.equal(await server.exited, 0, server.stderr());
}

const SOURCE = [
  'import math',
  '',
  '',
  'def is_prime(n):',
  '    """Return True when n is a prime number."""',
  '    if n < 2:',
  '        return False',
  '    for d in range(2, int(math.sqrt(n)) + 1):',
  '        if n % d == 0:',
  '            return False',
  '    return True',
  '',
  '',
  'def fibonacci(n):',
  '    """Return the n-th Fibonacci number."""',
  '    ',
].join('\n');
const CURSOR = { line: 15, character: 4 };

test('tiny fixture model: completion through the engine, FIM tokens from GGUF metadata, KV prefix reuse', async () => {
  const server = await start(TINY);
  await server.connection.sendNotification(lsp.DidOpenTextDocumentNotification.type, {
    textDocument: { uri: URI, languageId: 'python', version: 1, text: SOURCE },
  });
  const params = { textDocument: { uri: URI }, position: CURSOR, context: { triggerKind: 1 } };
  const r1 = await server.connection.sendRequest(lsp.InlineCompletionRequest.type, params);
  assert.ok(Array.isArray(r1.items));
  const s1 = await status(server);
  assert.equal(s1.modelLoaded, true, s1.model);
  assert.match(s1.model, /tiny-qwen2/);
  assert.equal(s1.completions.format, 'gguf', 'FIM tokens from the GGUF metadata');
  assert.ok(s1.completions.promptTokens > 50);
  assert.ok(s1.completions.generatedTokens >= 1);
  // Type one character: the second prompt shares its start with the first.
  await server.connection.sendNotification(lsp.DidChangeTextDocumentNotification.type, {
    textDocument: { uri: URI, version: 2 },
    contentChanges: [{ range: { start: CURSOR, end: CURSOR }, text: 'i' }],
  });
  const r2 = await server.connection.sendRequest(lsp.CompletionRequest.type,
    { ...params, position: { line: 15, character: 5 } });
  assert.ok(Array.isArray(r2.items));
  const s2 = await status(server);
  const prompt2 = s2.completions.promptTokens - s1.completions.promptTokens;
  const cached2 = s2.completions.cachedTokens - s1.completions.cachedTokens;
  assert.ok(cached2 > 0.5 * prompt2, `cached ${cached2} of ${prompt2} prompt tokens`);
  await stop(server);
});

const HAVE_DEFAULT = fs.existsSync(DEFAULT);
if (!HAVE_DEFAULT) console.log(`# SKIP default-model e2e: no model at ${DEFAULT} (run scripts/setup)`);

test('default model (SmolLM2-135M): inline completion and completion of a Python function',
  { skip: HAVE_DEFAULT ? false : `the default model is missing at ${DEFAULT}: run scripts/setup` }, async () => {
  const server = await start(DEFAULT);
  await server.connection.sendNotification(lsp.DidOpenTextDocumentNotification.type, {
    textDocument: { uri: URI, languageId: 'python', version: 1, text: SOURCE },
  });
  const params = { textDocument: { uri: URI }, position: CURSOR, context: { triggerKind: 1 } };
  const inline = await server.connection.sendRequest(lsp.InlineCompletionRequest.type, params);
  assert.equal(inline.items.length, 1, 'a suggestion');
  console.log(`# suggestion: ${JSON.stringify(inline.items[0].insertText)}`);
  assert.ok(inline.items[0].insertText.trim().length > 0);
  assert.deepEqual(inline.items[0].range.start, CURSOR);
  const list = await server.connection.sendRequest(lsp.CompletionRequest.type, params);
  assert.equal(list.items.length, 1);
  assert.ok(list.items[0].textEdit.newText.trim().length > 0);
  const s = await status(server);
  assert.equal(s.completions.format, 'prefix-only', 'SmolLM2 has no FIM tokens');
  assert.ok(s.completions.cachedTokens > 0, 'the second request reused the first one\'s KV cache');
  await stop(server);
});
