// Read-only virtual documents (scheme `moecode-context`): the packed context of the cursor that
// "moecode: Show context" opens, and the status report of "moecode: Show status".
import * as vscode from 'vscode';

export const kContextScheme = 'moecode-context';

// The result of the server's `moecode.context` command (docs/lsp.md).
export interface ContextResult {
  uri?: string;
  format?: string;
  tokens?: number;
  budget?: number;
  approximate?: boolean;  // tokens estimated (no model loaded)
  snippets?: number;
  text?: string;
  prompt?: string;
}

export class ReadonlyDocuments implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly contents_ = new Map<string, string>();
  private readonly changed_ = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed_.event;
  private readonly registration_: vscode.Disposable;

  constructor() {
    this.registration_ = vscode.workspace.registerTextDocumentContentProvider(kContextScheme, this);
  }

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.contents_.get(uri.toString()) ?? '';
  }

  // Sets the text of `moecode-context:/<name>` and shows it beside the editor.
  async show(name: string, text: string): Promise<vscode.TextDocument> {
    const uri = vscode.Uri.from({ scheme: kContextScheme, path: `/${name}` });
    this.contents_.set(uri.toString(), text);
    this.changed_.fire(uri);
    const doc = await vscode.workspace.openTextDocument(uri);
    await vscode.window.showTextDocument(doc, { preview: true, preserveFocus: true, viewColumn: vscode.ViewColumn.Beside });
    return doc;
  }

  dispose(): void {
    this.registration_.dispose();
    this.changed_.dispose();
  }
}

// The document "Show context" opens: a header, the rendering of the packed context (snippets
// labelled with their paths, the prefix, <CURSOR>, the suffix), then the exact prompt.
export function renderContext(r: ContextResult, where: string): string {
  const head = [
    `moecode context for ${where}`,
    `format: ${r.format ?? '?'}   tokens: ${r.approximate ? 'about ' : ''}${r.tokens ?? '?'} of a budget of ${r.budget ?? '?'}` +
      (r.snippets !== undefined ? `   repository snippets: ${r.snippets}` : ''),
    '',
  ];
  const parts = [...head, r.text ?? '(the server sent no text)'];
  if (r.prompt !== undefined) {
    parts.push('', '==================== the exact prompt ====================', r.prompt);
  }
  return parts.join('\n');
}
