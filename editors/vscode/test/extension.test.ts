// The extension end to end in plain Node: activate() with the vscode stand-in, the real
// vscode-languageclient, and the real `moecode serve --stdio` binary answering from a scripted
// generator. Each test plays the user (settings, documents, commands) and checks what the
// server received and what the user would see.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { activate, inlineProvider, kBinary, requireBinary, scriptFile, stub, vscode, waitFor, workspaceDir, type Session } from './support/harness';

const ADD = 'def add(a, b):\n';
const SCRIPT = {
  replies: [
    { match: 'def add(a, b):', text: '    return a + b\n' },
    { match: 'def mul(a, b):', text: '    return a * b\n' },
  ],
  fallback: 'pass',
};
const Invoke = 0;
const Automatic = 1;

interface ServerStatusReply {
  config: Record<string, unknown>;
  completions: { requests: number; cancelled: number; answered: number };
  documents: string[];
}

let session: Session | undefined;

before(() => {
  requireBinary();
});

after(async () => {
  await session?.close();
  if (process.env.MOECODE_TEST_LOG) for (const c of stub.state.outputChannels) console.log(`---- ${c.name}\n${c.lines.join('\n')}`);
});

async function open(settings: Record<string, unknown>, folder?: string): Promise<Session> {
  await session?.close();
  session = await activate({ path: kBinary, ...settings }, folder);
  return session;
}

function scripted(script: object = SCRIPT, extra: string[] = []): string[] {
  return ['--scripted-generator', scriptFile(script), ...extra];
}

async function serverStatus(s: Session): Promise<ServerStatusReply> {
  return s.api.client.executeCommand<ServerStatusReply>('moecode.status', []);
}

function ask(doc: unknown, line: number, character: number, triggerKind = Invoke, token = new vscode.CancellationTokenSource().token) {
  return inlineProvider().provideInlineCompletionItems(doc, new vscode.Position(line, character), { triggerKind, selectedCompletionInfo: undefined }, token) as Promise<
    { items: { insertText: string; range: { start: { line: number; character: number } } }[] } | null
  >;
}

function crashMessages() {
  return stub.state.messages.filter((m) => /crash/i.test(m.message));
}

test('start: the settings reach the server as initializationOptions; the status bar names the model', async () => {
  const s = await open({ args: scripted(), maxLines: 3, contextBudget: 1024, maxTokens: 17, enabledLanguages: ['python', 'cpp'], temperature: 0.5 });
  assert.equal(s.api.client.running, true);
  // the server also pulls workspace/configuration after `initialized`: after two round trips its
  // answer is in, and it must be the server's view (debounceMs 0), not the raw settings (40)
  await serverStatus(s);
  const st = await serverStatus(s);
  assert.equal(st.config.maxLines, 3);
  assert.equal(st.config.contextBudget, 1024);
  assert.equal(st.config.maxTokens, 17);
  assert.equal(st.config.temperature, 0.5);
  assert.deepEqual(st.config.enabledLanguages, ['python', 'cpp']);
  assert.equal(st.config.debounceMs, 0);
  // moecode/status arrives after `initialized`
  await waitFor('the model in the status bar', () => /scripted generator · cpu/.test(s.api.status.view.text));
  assert.equal(s.api.status.view.severity, 'ok');
  const item = stub.state.statusBarItems[stub.state.statusBarItems.length - 1];
  assert.equal(item.text, s.api.status.view.text);
  assert.equal(item.visible, true);
  assert.equal(item.command, 'moecode.showStatus');
  assert.equal(stub.state.messages.length, 0, JSON.stringify(stub.state.messages));
});

test('inline completion: a document the client synced, a request through the provider, ghost text at the cursor', async () => {
  const s = await open({ args: scripted() });
  const doc = stub.openDocument(vscode.Uri.file('/work/demo.py'), 'python', ADD);
  const r = await ask(doc, 1, 0);
  assert.ok(r && r.items.length === 1, JSON.stringify(r));
  assert.equal(r.items[0].insertText, '    return a + b');
  const start = r.items[0].range.start;
  assert.deepEqual({ line: start.line, character: start.character }, { line: 1, character: 0 });
  // an edit goes to the server (didChange), and the next completion sees it
  stub.editDocument(doc, 4, 7, 'mul');
  const r2 = await ask(doc, 1, 0);
  assert.equal(r2?.items[0].insertText, '    return a * b');
  assert.deepEqual({ sent: s.api.inline.stats.sent, answered: s.api.inline.stats.answered }, { sent: 2, answered: 2 });
  assert.match(s.api.status.view.tooltip, /Last completion: 1 suggestion/);
  assert.deepEqual((await serverStatus(s)).documents, ['file:///work/demo.py']);
});

test('cancellation: cancelling the token while the server generates sends $/cancelRequest', async () => {
  const s = await open({ args: scripted({ fallback: 'x'.repeat(800), tokenDelayMs: 20 }), maxTokens: 200 });
  const doc = stub.openDocument(vscode.Uri.file('/work/slow.py'), 'python', 'value = ');
  const cts = new vscode.CancellationTokenSource();
  const t0 = Date.now();
  const pending = ask(doc, 0, 8, Invoke, cts.token);
  await waitFor('the server to start generating', () => s.api.inline.stats.sent === 1);
  await new Promise((r) => setTimeout(r, 150));
  cts.cancel();
  assert.equal(await pending, null);
  assert.ok(Date.now() - t0 < 2000, `returned after ${Date.now() - t0} ms; a whole answer takes 4 s`);
  assert.equal(s.api.inline.stats.cancelled, 1);
  // the server saw the cancellation (not just the client giving up)
  let st = await serverStatus(s);
  const t1 = Date.now();
  while (st.completions.cancelled < 1 && Date.now() - t1 < 3000) st = await serverStatus(s);
  assert.equal(st.completions.cancelled, 1);
  assert.equal(st.completions.answered, 0);
});

test('debounce: automatic triggers wait debounceMs; typing within it sends nothing', async () => {
  const s = await open({ args: scripted(), debounceMs: 300 });
  const doc = stub.openDocument(vscode.Uri.file('/work/debounce.py'), 'python', ADD);
  const cts = new vscode.CancellationTokenSource();
  const pending = ask(doc, 1, 0, Automatic, cts.token);
  await new Promise((r) => setTimeout(r, 50));
  cts.cancel();  // the next keystroke
  assert.equal(await pending, null);
  assert.equal(s.api.inline.stats.sent, 0);
  const t0 = Date.now();
  const r = await ask(doc, 1, 0, Automatic);
  assert.ok(Date.now() - t0 >= 290, `answered after ${Date.now() - t0} ms`);
  assert.equal(r?.items[0].insertText, '    return a + b');
  assert.equal((await serverStatus(s)).completions.requests, 1);
});

test('settings change: sent to the running server (workspace/didChangeConfiguration)', async () => {
  const s = await open({ args: scripted(), maxTokens: 64 });
  const pid = s.api.client.pid;
  // The server pulls workspace/configuration after `initialized`: two round trips make sure that
  // answer is in, so the change below can only arrive by didChangeConfiguration.
  await serverStatus(s);
  assert.equal((await serverStatus(s)).config.maxTokens, 64);
  stub.setSetting('moecode.maxTokens', 7);
  stub.setSetting('moecode.enabledLanguages', ['rust']);
  let st = await serverStatus(s);
  const t0 = Date.now();
  while ((st.config.maxTokens !== 7 || (st.config.enabledLanguages as string[])[0] !== 'rust') && Date.now() - t0 < 3000) st = await serverStatus(s);
  assert.equal(st.config.maxTokens, 7);
  assert.deepEqual(st.config.enabledLanguages, ['rust']);
  assert.equal(s.api.client.pid, pid, 'a server setting does not restart the server');
});

test('pause: the toggle command stops requests and says so; toggling again resumes', async () => {
  const s = await open({ args: scripted() });
  const doc = stub.openDocument(vscode.Uri.file('/work/pause.py'), 'python', ADD);
  stub.setActiveEditor(doc);
  await vscode.commands.executeCommand('moecode.toggleCompletions');
  assert.equal(vscode.workspace.getConfiguration('moecode').get('enable'), false);
  assert.match(s.api.status.view.text, /moecode: paused/);
  assert.equal(await ask(doc, 1, 0), null);
  assert.equal(s.api.inline.stats.sent, 0);
  assert.equal((await serverStatus(s)).completions.requests, 0);
  await vscode.commands.executeCommand('moecode.toggleCompletions');
  assert.doesNotMatch(s.api.status.view.text, /paused/);
  assert.equal((await ask(doc, 1, 0))?.items[0].insertText, '    return a + b');
});

test('language disabled: the status bar says so for the active editor, and nothing is requested', async () => {
  const s = await open({ args: scripted(), enabledLanguages: ['cpp'] });
  const doc = stub.openDocument(vscode.Uri.file('/work/off.py'), 'python', ADD);
  stub.setActiveEditor(doc);
  assert.match(s.api.status.view.text, /off for python/);
  assert.match(s.api.status.view.reason, /moecode\.enabledLanguages/);
  assert.equal(await ask(doc, 1, 0), null);
  assert.equal(s.api.inline.stats.skipped, 1);
  const cpp = stub.openDocument(vscode.Uri.file('/work/on.cpp'), 'cpp', 'int main() {\n');
  stub.setActiveEditor(cpp);
  assert.doesNotMatch(s.api.status.view.text, /off for/);
});

test('no model: without any model the status bar says "no model" (and why)', async () => {
  const saved = { ...process.env };
  const empty = workspaceDir({ 'README.txt': 'no models here\n' });
  process.env.XDG_CACHE_HOME = path.join(empty, 'cache');
  process.env.HOME = empty;
  delete process.env.MOECODE_MODEL;
  try {
    const s = await open({}, empty);
    await waitFor('no model', () => /no model/.test(s.api.status.view.text), 15000);
    assert.equal(s.api.status.view.severity, 'warning');
    assert.match(s.api.status.view.reason, /moecode\.model/);
  } finally {
    process.env = saved;
  }
});

test('model error: a model file that cannot load shows as an error with the reason', async () => {
  const bad = workspaceDir({ 'bad.gguf': 'not a gguf file' });
  const s = await open({ model: path.join(bad, 'bad.gguf') });
  await waitFor('the error state', () => /moecode: error/.test(s.api.status.view.text), 15000);
  assert.match(s.api.status.view.tooltip, /bad\.gguf/);
  // The message comes on its own notification, which may follow the status (it did, under
  // the sanitizers' slower server).
  await waitFor(
    'the error message',
    () => stub.state.messages.some((m) => m.kind === 'error' && /completions are off/.test(m.message)),
    15000,
  );
});

test('indexing: progress of the workspace index shows in the status bar, then the model', async () => {
  const files: Record<string, string> = {};
  for (let i = 0; i < 300; i++) files[`pkg/mod${i}.py`] = `def f${i}(x):\n    return x + ${i}\n`.repeat(20);
  const dir = workspaceDir(files);
  const texts: string[] = [];
  const progress: string[] = [];
  let s: Session | undefined;
  const sub = { dispose: () => {} };
  // A cold index, as on a first start (the server inherits this environment): every file is
  // parsed, where files in the index cache from an earlier run would take a few ms in all.
  const savedCache = process.env.MOECODE_INDEX_CACHE;
  process.env.MOECODE_INDEX_CACHE = 'off';
  try {
    s = await open({ args: scripted() }, dir);
    const listener = s.api.status.onDidChange((v) => {
      texts.push(v.text);
      // what $/progress alone says (the tap on incoming messages), apart from moecode/status
      if (s!.api.status.inputs.indexing?.active) progress.push(s!.api.status.inputs.indexing.message ?? '');
    });
    sub.dispose = () => listener.dispose();
    texts.push(s.api.status.view.text);
    // Finished means the summary ("indexed N files ..."): before indexing begins (the server asks
    // for a progress token first) the status already says "not indexing", and the model may be
    // loaded by then.
    await waitFor('the index to finish', () => {
      const ix = s!.api.status.inputs.server?.indexing;
      return ix && !ix.active && /^indexed/.test(ix.message ?? '') && /scripted generator/.test(s!.api.status.view.text) ? true : undefined;
    }, 15000);
  } finally {
    sub.dispose();
    if (savedCache === undefined) delete process.env.MOECODE_INDEX_CACHE;
    else process.env.MOECODE_INDEX_CACHE = savedCache;
  }
  // Every text the status item showed since the extension started (indexing may end before the
  // listener above is attached).
  const shown: string[] = stub.state.statusBarItems.flatMap((i: { history: string[] }) => i.history);
  assert.ok(shown.some((t) => /moecode: indexing/.test(t)), [...shown, ...texts].join('\n'));
  assert.ok(progress.some((m) => /^moecode: indexing/.test(m)), `$/progress seen: ${progress.join(' | ')}`);
  assert.equal(s!.api.status.inputs.indexing?.active, false);
  assert.match(s!.api.status.view.text, /scripted generator · cpu/);
});

test('crash: a killed server restarts with backoff, the user is told once, completions come back', async () => {
  const s = await open({ args: scripted({ ...SCRIPT, fallback: 'y'.repeat(400), tokenDelayMs: 20 }), maxTokens: 100 });
  s.api.client.policy.options = { initialMs: 200, maxMs: 1000, stableMs: 60000 };
  const doc = stub.openDocument(vscode.Uri.file('/work/crash.py'), 'python', ADD);
  const views: { text: string; restartInMs?: number }[] = [];
  const listener = s.api.status.onDidChange((v) => views.push({ text: v.text, restartInMs: s.api.status.inputs.restartInMs }));
  try {
    // 1st crash, in the middle of a completion
    const slow = stub.openDocument(vscode.Uri.file('/work/slow2.py'), 'python', 'z = ');
    const pending = ask(slow, 0, 4);
    await waitFor('a request in flight', () => s.api.inline.stats.sent === 1);
    const pid1 = s.api.client.pid!;
    process.kill(pid1, 'SIGKILL');
    assert.equal(await pending, null, 'the request in flight ends empty, without an exception');
    await waitFor('the crash in the status bar', () => views.some((v) => /crashed, restarting/.test(v.text)));
    await waitFor('a new server', () => s.api.client.running && s.api.client.pid !== pid1, 5000);
    // The provider comes back once the new server's capabilities are in (a moment later on a busy machine).
    await waitFor('the completion provider again', () => stub.state.inlineProviders.length > 0, 5000);
    assert.equal(crashMessages().length, 1);
    assert.match(crashMessages()[0].message, /SIGKILL/);
    assert.equal((await ask(doc, 1, 0))?.items[0].insertText, '    return a + b', 'completions work after the restart');
    // 2nd crash: a longer wait, no second popup
    const pid2 = s.api.client.pid!;
    const t0 = Date.now();
    process.kill(pid2, 'SIGKILL');
    await waitFor('another new server', () => s.api.client.running && s.api.client.pid !== pid2, 5000);
    await waitFor('the completion provider again', () => stub.state.inlineProviders.length > 0, 5000);
    assert.ok(Date.now() - t0 >= 380, `restarted after ${Date.now() - t0} ms; the backoff asks for 400`);
    assert.deepEqual(views.filter((v) => /crashed/.test(v.text)).map((v) => v.restartInMs).filter((x, i, a) => a.indexOf(x) === i), [200, 400]);
    assert.match(views.filter((v) => /crashed/.test(v.text)).pop()!.text, /restarting \(2\)/);
    assert.equal(crashMessages().length, 1, 'told once: ' + JSON.stringify(stub.state.messages));
    assert.equal((await ask(doc, 1, 0))?.items[0].insertText, '    return a + b');
    assert.ok(stub.state.outputChannels.some((c) => c.lines.some((l: string) => /restarting it in 400 ms \(crash 2 in a row\)/.test(l))));
  } finally {
    listener.dispose();
  }
});

test('restart command: a new server, no crash report', async () => {
  const s = await open({ args: scripted() });
  const pid = s.api.client.pid;
  await vscode.commands.executeCommand('moecode.restartServer');
  assert.equal(s.api.client.running, true);
  assert.notEqual(s.api.client.pid, pid);
  assert.equal(crashMessages().length, 0);
});

test('Show log: reveals the moecode output channel, which holds the log', async () => {
  const s = await open({ args: [...scripted(), '--log-level', 'info'] });
  // This session's channel: every activation (one per test) makes its own.
  const channel = stub.state.outputChannels.filter((c: { name: string }) => c.name === 'moecode').at(-1);
  assert.ok(channel, 'an output channel named moecode');
  assert.equal(channel.shown, false, 'not revealed by itself (revealOutputChannelOn: never)');
  await vscode.commands.executeCommand('moecode.showLog');
  assert.equal(channel.shown, true);
  // The extension's messages and the server's stderr (its log) go to this channel.
  await waitFor('the log in the channel', () => channel.lines.some((l: string) => /moecode/i.test(l)), 5000);
  assert.ok(s.api.client.running);
});

test('not found: a clear error naming moecode.path, once; setting the path starts the server', async () => {
  const s = await open({ path: '/nonexistent/bin/moecode', args: scripted() });
  assert.match(s.api.status.view.text, /not found/);
  assert.equal(s.api.status.view.severity, 'error');
  const errors = stub.state.messages.filter((m) => m.kind === 'error');
  assert.equal(errors.length, 1);
  assert.match(errors[0].message, /moecode\.path/);
  assert.deepEqual(errors[0].items, ['Open Settings']);
  assert.equal(stub.state.inlineProviders.length, 0);
  stub.setSetting('moecode.path', kBinary);
  await waitFor('the server', () => s.api.client.running, 5000);
  assert.ok(fs.existsSync(kBinary));
});

test('start failure: a server that exits at once (bad moecode.args) is reported, not restarted in a loop', async () => {
  const s = await open({ args: ['--no-such-flag'] });
  await waitFor('failed to start', () => /failed to start/.test(s.api.status.view.text), 5000);
  assert.match(s.api.status.view.reason, /exit code/);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(s.api.status.inputs.phase, 'startFailed');
  assert.equal(crashMessages().length, 0);
  assert.equal(stub.state.messages.filter((m) => /did not start/.test(m.message)).length, 1);
});

test('Show context: the packed context of the cursor in a read-only moecode-context document', async () => {
  const s = await open({ args: scripted() });
  const doc = stub.openDocument(vscode.Uri.file('/work/ctx.py'), 'python', 'import os\n\ndef add(a, b):\n    \n\nprint(add(1, 2))\n');
  stub.setActiveEditor(doc, new vscode.Position(3, 4));
  const shown = (await vscode.commands.executeCommand('moecode.showContext')) as { uri: { scheme: string }; getText(): string };
  assert.ok(shown, JSON.stringify(stub.state.messages));
  assert.equal(shown.uri.scheme, 'moecode-context');
  const text = shown.getText();
  assert.match(text, /moecode context for ctx\.py:4:5/);
  assert.match(text, /def add\(a, b\):\n {4}<CURSOR>/);
  assert.match(text, /print\(add\(1, 2\)\)/);
  assert.match(text, /the exact prompt/);
  assert.match(text, /format: \S+ +tokens: \d+ of a budget of 2048/);
  assert.ok(stub.state.shownDocuments.includes(shown as never));
  assert.equal(s.api.client.running, true);
});

test('Show status: why, the inline counters and the server status in one document', async () => {
  const s = await open({ args: scripted() });
  await waitFor('the model loaded', () => s.api.status.inputs.server?.state === 'ready');
  const shown = (await vscode.commands.executeCommand('moecode.showStatus')) as { getText(): string };
  const text = shown.getText();
  assert.match(text, /^moecode: scripted generator · cpu\n\nWhy: ready\nModel: scripted generator \(cpu\)/);
  assert.match(text, /Inline requests: \{"requested":0/);
  assert.match(text, /"modelLoaded": true/);
});
