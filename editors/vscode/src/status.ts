// The status bar item: model and backend, indexing progress, the last error, and why no
// completion appears (status_model.ts decides the words). Follows the active editor's language
// and the settings by itself; the client and the inline provider feed it the rest.
import * as vscode from 'vscode';
import { languageEnabled, readSettings } from './config';
import { renderStatus, type StatusInputs, type StatusView } from './status_model';

export class StatusBar implements vscode.Disposable {
  private readonly item_: vscode.StatusBarItem;
  private inputs_: StatusInputs = { phase: 'starting', enabled: true, inlineSuggestEnabled: true };
  private view_: StatusView;
  private readonly disposables_: vscode.Disposable[] = [];
  private readonly changed_ = new vscode.EventEmitter<StatusView>();
  readonly onDidChange = this.changed_.event;

  constructor(clickCommand: string) {
    this.item_ = vscode.window.createStatusBarItem('moecode.status', vscode.StatusBarAlignment.Right, 100);
    this.item_.name = 'moecode';
    this.item_.command = clickCommand;
    this.disposables_.push(
      this.item_,
      this.changed_,
      vscode.window.onDidChangeActiveTextEditor(() => this.refreshEditor()),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('moecode') || e.affectsConfiguration('editor.inlineSuggest')) this.refreshEditor();
      }),
    );
    this.view_ = renderStatus(this.inputs_);
    this.refreshEditor();
    this.item_.show();
  }

  get view(): StatusView {
    return this.view_;
  }

  get inputs(): Readonly<StatusInputs> {
    return this.inputs_;
  }

  update(change: Partial<StatusInputs>): void {
    this.inputs_ = { ...this.inputs_, ...change };
    this.render();
  }

  // Settings and the active editor's language.
  refreshEditor(): void {
    const settings = readSettings(vscode.workspace.getConfiguration('moecode'));
    const editor = vscode.window.activeTextEditor;
    const doc = editor?.document;
    const language =
      doc && (doc.uri.scheme === 'file' || doc.uri.scheme === 'untitled')
        ? { id: doc.languageId, enabled: languageEnabled(settings.enabledLanguages, doc.languageId) }
        : undefined;
    const inlineSuggestEnabled = vscode.workspace.getConfiguration('editor').get<boolean>('inlineSuggest.enabled', true);
    this.update({ enabled: settings.enable, language, inlineSuggestEnabled });
  }

  private render(): void {
    const v = renderStatus(this.inputs_);
    this.view_ = v;
    this.item_.text = v.text;
    this.item_.tooltip = v.tooltip;
    this.item_.backgroundColor =
      v.severity === 'error'
        ? new vscode.ThemeColor('statusBarItem.errorBackground')
        : v.severity === 'warning'
          ? new vscode.ThemeColor('statusBarItem.warningBackground')
          : undefined;
    this.changed_.fire(v);
  }

  dispose(): void {
    for (const d of this.disposables_) d.dispose();
  }
}
