// Fixes, rewrites and translation from the editor, end to end in plain Node: the real extension
// (vscode stand-in), the real vscode-languageclient and the real `moecode serve --stdio` answering
// from a scripted generator. The user picks a quick fix (resolved lazily) or runs "Translate
// file…" / "Rewrite selection…"; the tests check what lands in the documents and on disk, and
// what the user is asked and told.
import './support/register';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { kTranslateTargets } from '../src/assist';
import { activate, codeActionProvider, kBinary, requireBinary, scriptFile, stub, vscode, workspaceDir, type Session } from './support/harness';

const SOURCE = 'def area(radius):\n    return 3.14159 * radius ** 2\n\n\ndef total(items):\n' +
  '    s = 0\n    for it in items:\n        s += it\n    return sm\n';
const FIXED_TOTAL = '```python\ndef total(items):\n    s = 0\n    for it in items:\n        s += it\n    return s\n```';
const AREA_JS = '```javascript\nfunction area(radius) {\n  return 3.14159 * radius ** 2;\n}\n```';
const TOTAL_JS = '```javascript\nfunction total(items) {\n  return items.reduce((a, b) => a + b, 0);\n}\n```';
const TRANSLATED = 'function area(radius) {\n  return 3.14159 * radius ** 2;\n}\n\nfunction total(items) {\n  return items.reduce((a, b) => a + b, 0);\n}\n';
const PI_AREA = '```python\ndef area(radius):\n    return math.pi * radius ** 2\n```';

let session: Session | undefined;

before(() => requireBinary());

after(async () => {
  await session?.close();
  if (process.env.MOECODE_TEST_LOG) for (const c of stub.state.outputChannels) console.log(`---- ${c.name}\n${c.lines.join('\n')}`);
});

// A workspace folder holding shapes.py, the extension started on it, and shapes.py open.
async function openShapes(script: object, settings: Record<string, unknown> = {}) {
  await session?.close();
  const dir = workspaceDir({ 'shapes.py': SOURCE });
  session = await activate({ path: kBinary, args: ['--scripted-generator', scriptFile(script)], ...settings }, dir);
  const doc = stub.openDocument(vscode.Uri.file(path.join(dir, 'shapes.py')), 'python', SOURCE);
  return { dir, doc, s: session };
}

const token = () => new vscode.CancellationTokenSource().token;

interface Action {
  title: string;
  kind: { value: string };
  edit?: InstanceType<typeof vscode.WorkspaceEdit>;
  command?: unknown;
  diagnostics?: { message: string }[];
}

function errors(): string[] {
  return stub.state.messages.filter((m) => m.kind === 'error').map((m) => m.message);
}

test('quick fix: "Fix with moecode" in the light bulb, resolved lazily into a minimal edit that VS Code applies', async () => {
  const { doc, s } = await openShapes({ replies: [
    { match: 'make it clearer', text: PI_AREA },
    { match: "undefined name 'sm'", text: FIXED_TOTAL },
  ] });
  const provider = codeActionProvider();
  assert.ok(provider.resolveCodeAction, 'the client resolves code actions (the server advertises resolveProvider)');
  // A diagnostic from another extension (a linter), the cursor on it.
  const sm = new vscode.Diagnostic(new vscode.Range(8, 11, 8, 13), "undefined name 'sm'", vscode.DiagnosticSeverity.Error);
  sm.source = 'pyflakes';
  const at = new vscode.Range(8, 11, 8, 11);
  const actions = (await provider.provideCodeActions(doc, at, { diagnostics: [sm], only: undefined, triggerKind: vscode.CodeActionTriggerKind.Invoke }, token())) as Action[];
  assert.deepEqual(actions.map((a) => [a.title, a.kind.value]), [["Fix with moecode: undefined name 'sm'", 'quickfix']]);
  const [fix] = actions;
  assert.equal(fix.edit, undefined, 'nothing runs before the user picks it');
  assert.equal(fix.command, undefined);
  assert.equal(fix.diagnostics?.[0].message, "undefined name 'sm'");

  const resolved = (await provider.resolveCodeAction!(fix, token())) as Action;
  assert.ok(resolved.edit, 'resolve brings the edit');
  const edits = resolved.edit.get(doc.uri);
  assert.deepEqual(edits.map((e) => [e.range.start.line, e.range.start.character, e.range.end.line, e.range.end.character, e.newText]),
    [[8, 0, 8, 13, '    return s']], 'one line changed, not the whole definition');
  // VS Code applies the picked action's edit.
  assert.equal(await vscode.workspace.applyEdit(resolved.edit), true);
  assert.equal(doc.getText(), SOURCE.replace('return sm', 'return s'));
  // The server got the edit (didChange): its view of the document is the fixed one.
  const ctx = await s.api.client.executeCommand<{ text: string }>('moecode.context', [{ textDocument: { uri: doc.uri.toString() }, position: { line: 8, character: 12 } }]);
  assert.match(ctx.text, /\n {4}return s<CURSOR>\n/);

  // A selection also offers "Rewrite selection with moecode" (refactor.rewrite); resolved and applied the same way.
  const sel = new vscode.Range(0, 0, 1, 10);
  const both = (await provider.provideCodeActions(doc, sel, { diagnostics: [], only: undefined, triggerKind: vscode.CodeActionTriggerKind.Invoke }, token())) as Action[];
  assert.deepEqual(both.map((a) => [a.title, a.kind.value]), [['Rewrite selection with moecode', 'refactor.rewrite']]);
  const rewrite = (await provider.resolveCodeAction!(both[0], token())) as Action;
  assert.equal(await vscode.workspace.applyEdit(rewrite.edit!), true);
  assert.equal(doc.getText().split('\n')[1], '    return math.pi * radius ** 2');
  assert.deepEqual(errors(), []);
});

test('quick fix: a malformed answer is refused: resolve fails, nothing is applied, the server tells the user why', async () => {
  const { doc } = await openShapes({ replies: [{ match: '', text: '```python\ndef total(items:\n    return s\n```' }] });
  const provider = codeActionProvider();
  const sm = new vscode.Diagnostic(new vscode.Range(8, 11, 8, 13), "undefined name 'sm'", vscode.DiagnosticSeverity.Error);
  const [fix] = (await provider.provideCodeActions(doc, sm.range, { diagnostics: [sm], only: undefined, triggerKind: vscode.CodeActionTriggerKind.Invoke }, token())) as Action[];
  await assert.rejects(provider.resolveCodeAction!(fix, token()), (e: { code?: number; message?: string }) =>
    e.code === -32803 && /does not parse/.test(e.message ?? ''));
  assert.equal(doc.getText(), SOURCE);
  assert.equal(stub.state.appliedEdits.length, 0);
  await waitForMessage(/moecode could not fix this: .*does not parse/);
});

async function waitForMessage(re: RegExp): Promise<void> {
  const t0 = Date.now();
  while (!stub.state.messages.some((m) => re.test(m.message))) {
    if (Date.now() - t0 > 5000) assert.fail(`no message matching ${re}: ${JSON.stringify(stub.state.messages)}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('Translate file…: pick a language, the new file is created, saved and opened', async () => {
  const { dir, doc } = await openShapes({ replies: [{ match: 'def area', text: AREA_JS }, { match: 'def total', text: TOTAL_JS }] });
  stub.setActiveEditor(doc);
  stub.state.replies.quickPick.push('javascript');
  const out = (await vscode.commands.executeCommand('moecode.translateFile')) as InstanceType<typeof stub.TextDocument>;
  assert.deepEqual(errors(), []);
  // The targets offered: every language but the file's own.
  assert.equal(stub.state.quickPicks.length, 1);
  assert.deepEqual(stub.state.quickPicks[0].items, kTranslateTargets.filter((t) => t !== 'python'));
  assert.match(stub.state.quickPicks[0].options.placeHolder, /Translate shapes\.py to/);
  const js = path.join(dir, 'shapes.js');
  assert.equal(out.uri.fsPath, js);
  assert.equal(fs.readFileSync(js, 'utf8'), TRANSLATED, 'saved to disk');
  assert.equal(out.isDirty, false);
  assert.ok(stub.state.shownDocuments.includes(out), 'opened in an editor');
  assert.ok(stub.state.progress.some((p) => /translating shapes\.py to javascript/.test(p.title) && p.cancellable));
  assert.equal(stub.state.messages.filter((m) => m.kind === 'warning').length, 0);

  // The file exists now: the user is asked (modal) before it is replaced; Escape leaves it.
  stub.closeDocument(out);
  fs.writeFileSync(js, '// mine\n');
  stub.state.replies.message.push(undefined);
  assert.equal(await vscode.commands.executeCommand('moecode.translateFile', 'javascript'), undefined);
  const asked = stub.state.messages.filter((m) => m.modal);
  assert.equal(asked.length, 1);
  assert.match(asked[0].message, /shapes\.js exists\. Replace it with the translation of shapes\.py\?/);
  assert.deepEqual(asked[0].items, ['Replace']);
  assert.equal(fs.readFileSync(js, 'utf8'), '// mine\n');
  // "Replace": translated again with overwrite.
  stub.state.replies.message.push('Replace');
  const again = (await vscode.commands.executeCommand('moecode.translateFile', 'javascript')) as { uri: { fsPath: string } };
  assert.equal(again.uri.fsPath, js);
  assert.equal(fs.readFileSync(js, 'utf8'), TRANSLATED);
  assert.deepEqual(errors(), []);
});

test('Translate file…: units that did not translate are listed; the rest of the file is written', async () => {
  const { dir, doc } = await openShapes({ replies: [
    { match: 'def area', text: AREA_JS },
    { match: 'def total', text: '```javascript\nfunction total(items {\n```' },
  ] });
  stub.setActiveEditor(doc);
  const out = (await vscode.commands.executeCommand('moecode.translateFile', 'javascript')) as { getText(): string };
  assert.ok(out);
  const warnings = stub.state.messages.filter((m) => m.kind === 'warning').map((m) => m.message);
  assert.equal(warnings.length, 1, JSON.stringify(stub.state.messages));
  assert.match(warnings[0], /1 of 2 units of shapes\.py did not translate to javascript/);
  assert.match(warnings[0], /definition total \(lines 5-9\): the translation does not parse as JavaScript/);
  const text = fs.readFileSync(path.join(dir, 'shapes.js'), 'utf8');
  assert.match(text, /^function area\(radius\) \{/);
  assert.match(text, /\/\/ moecode: could not translate definition 'total'/, 'the failed unit is left as a comment');
});

test('Translate file…: refusals and cancellation reach the user as such', async () => {
  const { doc } = await openShapes({ fallback: 'x'.repeat(4000), tokenDelayMs: 5 });
  // No editor: nothing to translate.
  assert.equal(await vscode.commands.executeCommand('moecode.translateFile', 'javascript'), undefined);
  assert.match(stub.state.messages.pop()!.message, /open the file to translate first/);
  // Escape in the quick pick: nothing happens.
  stub.setActiveEditor(doc);
  assert.equal(await vscode.commands.executeCommand('moecode.translateFile'), undefined);
  assert.equal(stub.state.messages.length, 0);
  // A file outside the workspace folder: its translation would be too, which the server refuses.
  const elsewhere = workspaceDir({ 'far.py': 'x = 1\n' });
  const far = stub.openDocument(vscode.Uri.file(path.join(elsewhere, 'far.py')), 'python', 'x = 1\n');
  stub.setActiveEditor(far);
  assert.equal(await vscode.commands.executeCommand('moecode.translateFile', 'go'), undefined);
  assert.match(errors().pop()!, /Translate failed: moecode\.translate: .*outside the workspace/);
  assert.equal(fs.existsSync(path.join(elsewhere, 'far.go')), false);
  // Cancel in the progress notification: the request is cancelled, nothing is created, no error.
  stub.setActiveEditor(doc);
  stub.state.messages.length = 0;
  stub.state.cancelProgressAfterMs = 200;
  const t0 = Date.now();
  assert.equal(await vscode.commands.executeCommand('moecode.translateFile', 'rust'), undefined);
  assert.ok(Date.now() - t0 < 3000, `took ${Date.now() - t0} ms; the whole answer takes 5 s`);
  assert.deepEqual(stub.state.messages, []);
  assert.equal(fs.existsSync(doc.uri.fsPath.replace(/\.py$/, '.rs')), false);
});

test('Rewrite selection…: an instruction for the selected lines, applied as an edit', async () => {
  const { doc, s } = await openShapes({ replies: [{ match: 'use math.pi', text: PI_AREA }] });
  // Nothing selected: say so, ask nothing.
  stub.setActiveEditor(doc, new vscode.Position(1, 4));
  assert.equal(await vscode.commands.executeCommand('moecode.rewriteSelection'), false);
  assert.match(stub.state.messages.pop()!.message, /select the code to rewrite/);
  assert.equal(stub.state.inputBoxes.length, 0);
  const editor = stub.setActiveEditor(doc)!;
  editor.selection = new vscode.Selection(new vscode.Position(0, 0), new vscode.Position(2, 0));
  // Escape in the input box: nothing is sent.
  assert.equal(await vscode.commands.executeCommand('moecode.rewriteSelection'), false);
  assert.equal(stub.state.inputBoxes.length, 1);
  stub.state.replies.inputBox.push('use math.pi');
  assert.equal(await vscode.commands.executeCommand('moecode.rewriteSelection'), true);
  assert.equal(doc.getText(), SOURCE.replace('3.14159', 'math.pi'));
  assert.equal(doc.isDirty, true, 'an edit like any other: unsaved, undoable');
  assert.ok(stub.state.progress.some((p) => /rewriting shapes\.py:1-3/.test(p.title)));
  assert.deepEqual(errors(), []);
  // An answer without code is refused: the command's error says why, once (the server shows
  // nothing for commands), and nothing changes.
  stub.state.replies.inputBox.push('something else');
  assert.equal(await vscode.commands.executeCommand('moecode.rewriteSelection'), false);
  assert.deepEqual(stub.state.messages.map((m) => m.message), ["moecode: Rewrite failed: the model's answer holds no code"]);
  assert.equal(doc.getText(), SOURCE.replace('3.14159', 'math.pi'));
  assert.equal(s.api.client.running, true);
});
