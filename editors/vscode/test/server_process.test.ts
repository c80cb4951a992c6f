// findServer (moecode.path, PATH; clear errors naming the setting), ServerProcess exit reports.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describeExit, findServer, ServerProcess } from '../src/server_process';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'moecode-find-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));
const binDir = path.join(tmp, 'bin');
fs.mkdirSync(binDir);
const exe = path.join(binDir, 'moecode');
fs.writeFileSync(exe, '#!/bin/sh\necho "oops: bad flag" >&2\nexit 3\n', { mode: 0o755 });
const notExe = path.join(tmp, 'plain');
fs.writeFileSync(notExe, 'x', { mode: 0o644 });

test('moecode.path wins over PATH; relative paths resolve against the workspace folder', () => {
  assert.deepEqual(findServer(exe, { PATH: '' }), { ok: true, path: exe });
  assert.deepEqual(findServer('bin/moecode', { PATH: '' }, tmp), { ok: true, path: exe });
});

test('a bad moecode.path says so and names the setting', () => {
  const missing = findServer('/nonexistent/moecode', { PATH: binDir });
  assert.equal(missing.ok, false);
  assert.match((missing as { message: string }).message, /moecode\.path.*does not exist/);
  const plain = findServer(notExe, { PATH: binDir });
  assert.match((plain as { message: string }).message, /not an executable file/);
});

test('PATH is searched when moecode.path is empty; not found names moecode.path', () => {
  assert.deepEqual(findServer('', { PATH: ['/nonexistent', binDir].join(path.delimiter) }), { ok: true, path: exe });
  const r = findServer('  ', { PATH: tmp });
  assert.equal(r.ok, false);
  assert.match((r as { message: string }).message, /not found on PATH.*moecode\.path/);
});

test('ServerProcess reports stderr lines and the exit status', async () => {
  const lines: string[] = [];
  const p = new ServerProcess(exe, [], (l) => lines.push(l));
  const e = await p.exit;
  assert.deepEqual(e, { code: 3, signal: null });
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(lines, ['oops: bad flag']);
  assert.equal(describeExit(e), 'exit code 3');
  assert.equal(describeExit({ code: null, signal: 'SIGKILL' }), 'killed by SIGKILL');
});

test('ServerProcess.stop ends a process that ignores its input', async () => {
  const p = new ServerProcess('/bin/sleep', ['30'], () => {});
  const t0 = Date.now();
  await p.stop(100);
  assert.equal(p.exited?.signal, 'SIGTERM');
  assert.ok(Date.now() - t0 < 3000);
});
