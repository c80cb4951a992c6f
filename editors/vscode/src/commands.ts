// Every command of the extension, declared once in kCommands (package.json's
// contributes.commands must list the same ids; a test checks). Commands that run on the server
// go through `workspace/executeCommand`. "Fix with moecode" is no command here: it is the server's
// code action, which vscode-languageclient offers in the light bulb and resolves; Review will be
// a row here when the server has it.
import * as path from 'node:path';
import * as vscode from 'vscode';
import { rewriteSelection, translateFile } from './assist';
import type { MoecodeClient } from './client';
import { renderContext, type ContextResult, type ReadonlyDocuments } from './context_doc';
import type { InlineCompletions } from './inline';
import type { StatusBar } from './status';

// What a command may use.
export interface CommandContext {
  client: MoecodeClient;
  status: StatusBar;
  inline: InlineCompletions;
  docs: ReadonlyDocuments;
  output: vscode.LogOutputChannel;
}

export interface CommandSpec {
  id: string;     // VS Code command id; never one the server advertises (the client registers those)
  title: string;  // shown as "moecode: <title>"
  run(ctx: CommandContext, ...args: unknown[]): unknown;
}

// The cursor of the active editor as the server's `{textDocument, position}` argument.
function cursorArgument(): { arg: object; where: string } | undefined {
  const editor = vscode.window.activeTextEditor;
  if (!editor) return undefined;
  const doc = editor.document;
  const pos = editor.selection.active;
  return {
    arg: { textDocument: { uri: doc.uri.toString() }, position: { line: pos.line, character: pos.character } },
    where: `${path.basename(doc.uri.path)}:${pos.line + 1}:${pos.character + 1}`,
  };
}

async function showContext(ctx: CommandContext): Promise<vscode.TextDocument | undefined> {
  const at = cursorArgument();
  if (!at) {
    void vscode.window.showInformationMessage('moecode: open a file and put the cursor where a completion would go.');
    return undefined;
  }
  try {
    const r = await ctx.client.executeCommand<ContextResult>('moecode.context', [at.arg]);
    return await ctx.docs.show(`moecode context ${at.where.replace(/:/g, ' ')}`, renderContext(r, at.where));
  } catch (e) {
    void vscode.window.showErrorMessage(`moecode: Show context failed: ${e instanceof Error ? e.message : String(e)}`);
    return undefined;
  }
}

async function showStatus(ctx: CommandContext): Promise<vscode.TextDocument> {
  const v = ctx.status.view;
  const details = v.tooltip.split('\n').slice(1).filter((l) => l !== 'Click for details.');
  const lines = [v.text.replace(/\$\([^)]*\)\s*/g, ''), '', `Why: ${v.reason}`, ...details];
  lines.push('', `Inline requests: ${JSON.stringify(ctx.inline.stats)}`);
  if (ctx.client.running) {
    try {
      const s = await ctx.client.executeCommand<unknown>('moecode.status', []);
      lines.push('', 'Server (moecode.status):', JSON.stringify(s, null, 2));
    } catch (e) {
      lines.push('', `moecode.status failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return ctx.docs.show('moecode status', lines.join('\n'));
}

async function toggleCompletions(): Promise<boolean> {
  const config = vscode.workspace.getConfiguration('moecode');
  const enable = !config.get<boolean>('enable', true);
  await config.update('enable', enable, vscode.ConfigurationTarget.Global);
  void vscode.window.setStatusBarMessage(`moecode: completions ${enable ? 'on' : 'paused'}`, 3000);
  return enable;
}

export const kCommands: readonly CommandSpec[] = [
  { id: 'moecode.showContext', title: 'Show context', run: (ctx) => showContext(ctx) },
  { id: 'moecode.restartServer', title: 'Restart server', run: (ctx) => ctx.client.restart() },
  { id: 'moecode.showLog', title: 'Show log', run: (ctx) => ctx.output.show(true) },
  { id: 'moecode.toggleCompletions', title: 'Toggle (pause) completions', run: () => toggleCompletions() },
  { id: 'moecode.showStatus', title: 'Show status', run: (ctx) => showStatus(ctx) },
  // args (for keybindings and tests): the target language; the instruction.
  { id: 'moecode.translateFile', title: 'Translate file…', run: (ctx, to) => translateFile(ctx, typeof to === 'string' ? to : undefined) },
  { id: 'moecode.rewriteSelection', title: 'Rewrite selection…', run: (ctx, how) => rewriteSelection(ctx, typeof how === 'string' ? how : undefined) },
];

export function registerCommands(ctx: CommandContext): vscode.Disposable[] {
  return kCommands.map((c) => vscode.commands.registerCommand(c.id, (...args: unknown[]) => c.run(ctx, ...args)));
}
