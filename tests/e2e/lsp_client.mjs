// Helpers for the end-to-end tests: start `moecode serve --stdio` with a real LSP client
// connection (vscode-languageserver-protocol), UTF-16 positions of a JS string (JS strings are
// UTF-16, like the LSP's default encoding), a seeded random generator.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after } from 'node:test';

const require = createRequire(import.meta.url);
const lsp = require('vscode-languageserver-protocol/node');

const here = path.dirname(fileURLToPath(import.meta.url));
export const binary = process.env.MOECODE_BINARY || path.resolve(here, '../../build/bin/moecode');

let scriptCounter = 0;

// Servers still running when the file's tests end (a test that failed before shutting its
// server down) are killed, so that a failure ends the run instead of hanging it.
const live = new Set();
after(() => {
  for (const child of live) child.kill('SIGKILL');
});

// Starts the server. `script` (an object) makes it answer from a scripted generator; with
// `{ model: PATH }` instead it runs that GGUF model. Returns { connection, child, exited, stderr }.
export function startServer(script, extraArgs = []) {
  const args = ['serve', '--stdio', '--log-level', 'info'];
  if (script && script.model) {
    args.push('-m', script.model);
  } else {
    const file = path.join(os.tmpdir(), `moecode-e2e-script-${process.pid}-${scriptCounter++}.json`);
    fs.writeFileSync(file, JSON.stringify(script ?? {}));
    args.push('--scripted-generator', file);
  }
  const child = spawn(binary, [...args, ...extraArgs], { stdio: ['pipe', 'pipe', 'pipe'] });
  live.add(child);
  child.on('exit', () => live.delete(child));
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d.toString(); });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? 128 + (signal ? 1 : 0))));
  const connection = lsp.createProtocolConnection(
    new lsp.StreamMessageReader(child.stdout), new lsp.StreamMessageWriter(child.stdin));
  connection.onError(() => {});
  connection.listen();
  exited.then(() => connection.dispose());
  return { connection, child, exited, stderr: () => stderr };
}

// The LSP position (UTF-16) of offset `offset` in `text`; lines end at \n, \r\n or \r.
export function utf16Position(text, offset) {
  let line = 0;
  let lineStart = 0;
  for (let i = 0; i < offset; i++) {
    const c = text[i];
    if (c === '\n' || (c === '\r' && text[i + 1] !== '\n')) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, character: offset - lineStart };
}

export function applyEdit(text, start, end, insert) {
  return text.slice(0, start) + insert + text.slice(end);
}

// A seeded generator of numbers in [0, 1).
export function lcg(seed) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

// Polls `predicate` (sync or async) every 10 ms until it holds; `what` names it on a timeout.
export async function waitFor(predicate, timeoutMs = 10000, what = () => 'a condition') {
  const t0 = Date.now();
  while (!(await predicate())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what()}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
