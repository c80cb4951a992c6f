// Test helpers: the server binary, scripted-generator files, a workspace on disk, waiting for a
// condition, and activating the real extension against the vscode stand-in.
import './register';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { MoecodeApi } from '../../src/extension';
import type { StubTest } from './vscode_stub';

export const kRoot = path.resolve(__dirname, '../../..');  // editors/vscode
export const kBinary = process.env.MOECODE_BINARY || path.resolve(kRoot, '../../build/bin/moecode');

export const vscode = require('vscode') as typeof import('vscode') & { _test: StubTest };
export const stub = vscode._test;

export function requireBinary(): void {
  if (!fs.existsSync(kBinary)) {
    throw new Error(`the moecode binary ${kBinary} does not exist: build it first (cmake --build build), or set MOECODE_BINARY`);
  }
}

let n = 0;
export const kTmp = fs.mkdtempSync(path.join(os.tmpdir(), 'moecode-vscode-test-'));
process.on('exit', () => fs.rmSync(kTmp, { recursive: true, force: true }));

// A scripted generator file for `moecode serve --scripted-generator` (lsp/cli/serve_cmd.cpp).
export function scriptFile(script: object): string {
  const file = path.join(kTmp, `script-${n++}.json`);
  fs.writeFileSync(file, JSON.stringify(script));
  return file;
}

// A workspace folder with `files` ({relative path: text}).
export function workspaceDir(files: Record<string, string>): string {
  const dir = path.join(kTmp, `ws-${n++}`);
  for (const [rel, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), text);
  }
  return dir;
}

export async function waitFor<T>(what: string, fn: () => T | undefined | false, timeoutMs = 10000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export interface Session {
  api: MoecodeApi;
  close(): Promise<void>;
}

// Activates the extension with `settings` (moecode.* keys without the prefix) in a clean stub.
// `extensionModule`: another copy of out/src/extension.js (the packaged one).
export async function activate(settings: Record<string, unknown>, folder?: string, extensionModule = '../../src/extension'): Promise<Session> {
  stub.resetSettings();
  stub.state.messages.length = 0;
  stub.state.documents.length = 0;
  stub.state.shownDocuments.length = 0;
  stub.state.executedCommands.length = 0;
  stub.state.appliedEdits.length = 0;
  stub.state.quickPicks.length = 0;
  stub.state.inputBoxes.length = 0;
  stub.state.progress.length = 0;
  stub.state.cancelProgressAfterMs = undefined;
  for (const q of Object.values(stub.state.replies)) q.length = 0;
  stub.state.activeTextEditor = undefined;
  stub.state.workspaceFolders = folder ? [{ uri: vscode.Uri.file(folder), name: path.basename(folder), index: 0 }] : undefined;
  for (const [k, v] of Object.entries(settings)) stub.setSetting(k.includes('.') && !k.startsWith('trace') ? k : `moecode.${k}`, v);
  const ext = require(extensionModule) as typeof import('../../src/extension');
  const ctx = stub.context();
  const api = ext.activate(ctx);
  await api.ready;
  return {
    api,
    close: async () => {
      await ext.deactivate();
      for (const d of ctx.subscriptions) d.dispose();
    },
  };
}

// The code action provider that the client registered with the (stub) editor.
export function codeActionProvider(): { provideCodeActions: (...args: unknown[]) => Promise<unknown>; resolveCodeAction?: (...args: unknown[]) => Promise<unknown> } {
  const p = stub.state.codeActionProviders[stub.state.codeActionProviders.length - 1];
  if (!p) throw new Error('no code action provider is registered');
  return p.provider;
}

// The inline completion provider that the client registered with the (stub) editor.
export function inlineProvider(): { provideInlineCompletionItems: (...args: unknown[]) => Promise<unknown> } {
  const p = stub.state.inlineProviders[stub.state.inlineProviders.length - 1];
  if (!p) throw new Error('no inline completion provider is registered');
  return p.provider;
}
