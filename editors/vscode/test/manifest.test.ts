// package.json against the code and the docs: the settings schema mirrors docs/lsp.md's table
// (same keys, same defaults), the commands are kCommands, the pins are exact, keybindings exist.
import './support/register';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { kServerKeys, readSettings, serverSettings, languageEnabled } from '../src/config';
import { kCommands } from '../src/commands';
import { kRoot } from './support/harness';

const pkg = JSON.parse(fs.readFileSync(path.join(kRoot, 'package.json'), 'utf8'));
const props: Record<string, { default: unknown; type: string }> = pkg.contributes.configuration.properties;

// docs/lsp.md "Settings": | `key` | `default` | meaning |
function docsSettings(): Map<string, unknown> {
  const md = fs.readFileSync(path.join(kRoot, '../../docs/lsp.md'), 'utf8');
  const section = md.slice(md.indexOf('## Settings'));
  const rows = new Map<string, unknown>();
  for (const m of section.slice(0, section.indexOf('\n## ', 3)).matchAll(/^\| `(\w+)` \| `([^`]*)` \|/gm)) rows.set(m[1], JSON.parse(m[2]));
  return rows;
}

test('every server setting of docs/lsp.md is in contributes.configuration, with its default', () => {
  const docs = docsSettings();
  assert.ok(docs.size >= 9, `parsed ${docs.size} settings from docs/lsp.md`);
  for (const [key, dflt] of docs) {
    const p = props[`moecode.${key}`];
    assert.ok(p, `moecode.${key} is missing from package.json`);
    assert.deepEqual(p.default, dflt, `default of moecode.${key}`);
  }
  assert.deepEqual([...docs.keys()].sort(), [...kServerKeys].sort());
});

test('the client-only settings exist', () => {
  for (const key of ['path', 'args', 'enable', 'trace.server']) assert.ok(props[`moecode.${key}`], key);
  assert.deepEqual(props['moecode.trace.server'].default, 'off');
});

test('readSettings reads every key with package.json defaults; serverSettings sends only server keys', () => {
  const seen: string[] = [];
  const s = readSettings({
    get<T>(key: string, dflt: T): T {
      seen.push(key);
      assert.deepEqual(dflt, props[`moecode.${key}`]?.default, `the default readSettings uses for ${key}`);
      return dflt;
    },
  });
  assert.deepEqual(seen.sort(), Object.keys(props).map((k) => k.slice('moecode.'.length)).sort());
  const sent = serverSettings({ ...s, maxLines: 3 });
  assert.deepEqual(Object.keys(sent).sort(), [...kServerKeys].sort());
  assert.equal(sent.maxLines, 3);
  assert.equal(sent.debounceMs, 0, 'the client debounces, so the server does not wait again');
});

test('languageEnabled follows the server rule', () => {
  assert.equal(languageEnabled(['*'], 'python'), true);
  assert.equal(languageEnabled(['cpp', 'python'], 'python'), true);
  assert.equal(languageEnabled(['cpp'], 'python'), false);
  assert.equal(languageEnabled([], 'python'), false);
});

// The server's commands (executeCommandProvider, lsp/server/server.cpp): vscode-languageclient
// registers each as a VS Code command, so none of ours may take one of these ids.
const kServerCommands = ['moecode.status', 'moecode.context', 'moecode.insertCompletion', 'moecode.fix', 'moecode.rewrite', 'moecode.translate'];

test('contributes.commands is kCommands, and no id collides with a server command', () => {
  const declared = pkg.contributes.commands.map((c: { command: string; title: string; category: string }) => [c.command, c.title, c.category]);
  assert.deepEqual(declared, kCommands.map((c) => [c.id, c.title, 'moecode']));
  for (const c of kCommands) assert.ok(!kServerCommands.includes(c.id), c.id);
  assert.ok(kCommands.some((c) => c.id === 'moecode.translateFile' && c.title === 'Translate file…'));
  assert.ok(kCommands.some((c) => c.id === 'moecode.rewriteSelection' && c.title === 'Rewrite selection…'));
});

test('menus name only commands of kCommands', () => {
  const ids = new Set(kCommands.map((c) => c.id));
  for (const [menu, entries] of Object.entries<{ command: string; when?: string }[]>(pkg.contributes.menus)) {
    for (const e of entries) assert.ok(ids.has(e.command), `${menu}: ${e.command}`);
  }
  assert.ok(pkg.contributes.menus['editor/context'].some((e: { command: string; when: string }) => e.command === 'moecode.rewriteSelection' && /editorHasSelection/.test(e.when)));
});

test('keybindings: partial accept by word and by line with VS Code commands', () => {
  const cmds = pkg.contributes.keybindings.map((k: { command: string; when: string }) => {
    assert.match(k.when, /inlineSuggestionVisible/);
    return k.command;
  });
  assert.ok(cmds.includes('editor.action.inlineSuggest.acceptNextWord'));
  assert.ok(cmds.includes('editor.action.inlineSuggest.acceptNextLine'));
});

test('pins are exact (TOOLCHAIN.md section 4) and the manifest is packageable', () => {
  const want: Record<string, string> = {
    'vscode-languageclient': '11.0.0', 'vscode-jsonrpc': '10.0.0', 'vscode-languageserver-protocol': '3.18.5',
    typescript: '5.9.3', '@types/vscode': '1.91.0', '@vscode/vsce': '3.9.2',
  };
  const all = { ...pkg.dependencies, ...pkg.devDependencies };
  for (const [name, version] of Object.entries(want)) assert.equal(all[name], version, name);
  assert.match(all['@types/node'], /^20\.\d+\.\d+$/);
  assert.equal(pkg.engines.vscode, '^1.91.0');
  assert.ok(pkg.repository && pkg.license && pkg.publisher);
  assert.ok(fs.existsSync(path.join(kRoot, 'LICENSE')));
  assert.equal(pkg.main, './out/src/extension.js');
});
