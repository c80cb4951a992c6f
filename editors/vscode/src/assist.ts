// "Translate file…" and "Rewrite selection…": the editor side of the server's moecode.translate and
// moecode.rewrite commands (docs/lsp.md). The server does the work and applies it through
// workspace/applyEdit, which vscode-languageclient hands to VS Code; these functions ask the user,
// show progress (cancellable: the request is cancelled with $/cancelRequest), and report.
// "Fix with moecode" needs nothing here: it is a code action that vscode-languageclient offers
// and resolves by itself.
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { MoecodeClient } from './client';
import type { StatusBar } from './status';

// What these commands use.
export interface AssistContext {
  client: MoecodeClient;
  status: StatusBar;
}

// Target languages offered by "Translate file…" (names the server's moecode.translate takes).
export const kTranslateTargets = [
  'javascript', 'typescript', 'python', 'go', 'rust', 'java', 'cpp', 'c', 'c_sharp', 'ruby', 'php', 'lua', 'bash',
] as const;

// VS Code language ids that name the same language as a target (not offered for such a file).
const kSameLanguage: Record<string, string> = { csharp: 'c_sharp', shellscript: 'bash', javascriptreact: 'javascript', typescriptreact: 'typescript' };

export interface TranslatedUnit {
  kind: string;       // "imports", "definition", "statement"
  name: string;
  firstLine: number;  // 1-based, in the source
  lastLine: number;
  ok: boolean;
  error: string;
}

// The result of moecode.translate.
export interface TranslateResult {
  uri: string;
  units: TranslatedUnit[];
  failed: number;
  parses: boolean;
  applied: boolean;
  failureReason?: string;
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function isCancel(e: unknown): boolean {
  return e instanceof vscode.CancellationError || (typeof e === 'object' && e !== null && (e as { code?: number }).code === -32800);
}

// The server refuses to replace an existing file unless told to (lsp/server/assist_actions.cpp).
function existsError(e: unknown): boolean {
  return /exists \(pass "overwrite"/.test(message(e));
}

// "definition total (lines 5-9): does not parse" for each unit that failed.
export function describeFailures(r: TranslateResult): string {
  return r.units
    .filter((u) => !u.ok)
    .map((u) => {
      const lines = u.firstLine === u.lastLine ? `line ${u.firstLine}` : `lines ${u.firstLine}-${u.lastLine}`;
      return `${u.kind}${u.name ? ` ${u.name}` : ''} (${lines})${u.error ? `: ${u.error}` : ''}`;
    })
    .join('; ');
}

// Shows "<what> failed: <why>" unless the server has just said why itself (window/showMessage, which
// the status bar keeps as the last error): a refused fix or rewrite is reported by the server,
// since VS Code says nothing when resolving a code action fails.
function tellFailure(status: StatusBar, what: string, e: unknown): void {
  if (isCancel(e)) return;
  const why = message(e);
  if (status.inputs.lastError?.endsWith(why)) return;
  void vscode.window.showErrorMessage(`moecode: ${what} failed: ${why}`);
}

function runWithProgress<T>(title: string, work: (token: vscode.CancellationToken) => Promise<T>): Thenable<T> {
  return vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title, cancellable: true }, (_p, token) => work(token));
}

// moecode: Translate file…  Asks for the target language, translates the active document into a
// new file next to it (the server creates it; inside a workspace folder only), asks before
// replacing an existing file, saves and opens the new file, and lists the units that failed.
// Resolves to the new document (undefined when nothing was made).
export async function translateFile({ client, status }: AssistContext, target?: string): Promise<vscode.TextDocument | undefined> {
  const editor = vscode.window.activeTextEditor;
  if (!editor) {
    void vscode.window.showInformationMessage('moecode: open the file to translate first.');
    return undefined;
  }
  const doc = editor.document;
  const name = path.basename(doc.uri.path);
  let to = target;
  if (!to) {
    const same = kSameLanguage[doc.languageId] ?? doc.languageId;
    const items = kTranslateTargets.filter((t) => t !== same);
    to = await vscode.window.showQuickPick([...items], { placeHolder: `Translate ${name} to…`, title: 'moecode: Translate file' });
    if (!to) return undefined;
  }
  const run = (overwrite: boolean) =>
    runWithProgress(`moecode: translating ${name} to ${to}`, (token) =>
      client.executeCommand<TranslateResult>('moecode.translate', [{ textDocument: { uri: doc.uri.toString() }, to, overwrite }], token),
    );
  let r: TranslateResult;
  try {
    try {
      r = await run(false);
    } catch (e) {
      if (!existsError(e)) throw e;
      const file = message(e).replace(/^moecode\.translate: /, '').replace(/ exists \(pass.*$/, '');
      const choice = await vscode.window.showWarningMessage(`moecode: ${file} exists. Replace it with the translation of ${name}?`, { modal: true }, 'Replace');
      if (choice !== 'Replace') return undefined;
      r = await run(true);
    }
  } catch (e) {
    tellFailure(status, 'Translate', e);
    return undefined;
  }
  if (!r.applied) {
    void vscode.window.showErrorMessage(`moecode: VS Code did not create ${r.uri}${r.failureReason ? `: ${r.failureReason}` : ''}`);
    return undefined;
  }
  // VS Code leaves a created-then-edited file unsaved: save it, so the file on disk is the translation.
  const out = await vscode.workspace.openTextDocument(vscode.Uri.parse(r.uri));
  await out.save();
  await vscode.window.showTextDocument(out, { preview: false });
  const outName = path.basename(out.uri.path);
  if (r.failed > 0) {
    void vscode.window.showWarningMessage(
      `moecode: ${r.failed} of ${r.units.length} units of ${name} did not translate to ${to}` +
        `${r.parses ? '' : ` (${outName} does not parse)`}: ${describeFailures(r)}. Each has a comment in ${outName}.`,
    );
  } else {
    void vscode.window.setStatusBarMessage(`moecode: translated ${name} to ${outName} (${r.units.length} units)`, 5000);
  }
  return out;
}

// moecode: Rewrite selection…  Asks for an instruction and has the server rewrite the selected
// lines (applied as an edit, undoable). Resolves to whether the edit was applied.
export async function rewriteSelection({ client, status }: AssistContext, instruction?: string): Promise<boolean> {
  const editor = vscode.window.activeTextEditor;
  if (!editor || editor.selection.isEmpty) {
    void vscode.window.showInformationMessage('moecode: select the code to rewrite first.');
    return false;
  }
  const doc = editor.document;
  const sel = editor.selection;
  const how =
    instruction ??
    (await vscode.window.showInputBox({
      title: 'moecode: Rewrite selection',
      prompt: 'How should the selected code change?',
      placeHolder: 'e.g. use a list comprehension; handle an empty list',
      validateInput: (v) => (v.trim() === '' ? 'Say what to change' : undefined),
    }));
  if (!how || how.trim() === '') return false;
  const range = { start: { line: sel.start.line, character: sel.start.character }, end: { line: sel.end.line, character: sel.end.character } };
  try {
    const r = await runWithProgress(`moecode: rewriting ${path.basename(doc.uri.path)}:${sel.start.line + 1}-${sel.end.line + 1}`, (token) =>
      client.executeCommand<{ applied: boolean; title?: string; failureReason?: string }>(
        'moecode.rewrite',
        [{ textDocument: { uri: doc.uri.toString() }, range, instruction: how.trim() }],
        token,
      ),
    );
    if (!r.applied) {
      void vscode.window.showErrorMessage(`moecode: the rewrite was not applied${r.failureReason ? `: ${r.failureReason}` : ' (the document changed?)'}`);
      return false;
    }
    return true;
  } catch (e) {
    tellFailure(status, 'Rewrite', e);
    return false;
  }
}
