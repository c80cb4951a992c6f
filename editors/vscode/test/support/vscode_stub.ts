// A small stand-in for the `vscode` module, so that the extension and vscode-languageclient run
// in plain Node against the real server: the editor API they call (documents, settings, status
// bar, messages, providers, commands) with just enough behaviour, plus `_test` helpers that play
// the user. Anything not written here is a no-op (a Proxy answers it), never an error.
// Loaded by register.ts in place of `vscode`.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CancellationTokenSource, Emitter } from 'vscode-jsonrpc';

// ---- basics ------------------------------------------------------------------------------------

class Disposable {
  static from(...ds: { dispose(): any }[]): Disposable {
    return new Disposable(() => ds.forEach((d) => d.dispose()));
  }
  constructor(private fn_?: () => void) {}
  dispose(): void {
    this.fn_?.();
    this.fn_ = undefined;
  }
}

class EventEmitter<T> extends Emitter<T> {}

class CancellationError extends Error {
  constructor() {
    super('Canceled');
    this.name = 'Canceled';
  }
}

class Position {
  constructor(readonly line: number, readonly character: number) {}
  isBefore(o: Position): boolean {
    return this.line < o.line || (this.line === o.line && this.character < o.character);
  }
  isEqual(o: Position): boolean {
    return this.line === o.line && this.character === o.character;
  }
  translate(dl = 0, dc = 0): Position {
    return new Position(this.line + dl, this.character + dc);
  }
  with(line = this.line, character = this.character): Position {
    return new Position(line, character);
  }
}

class Range {
  readonly start: Position;
  readonly end: Position;
  constructor(a: any, b: any, c?: number, d?: number) {
    if (typeof a === 'number') {
      this.start = new Position(a, b);
      this.end = new Position(c!, d!);
    } else {
      this.start = a;
      this.end = b;
    }
  }
  get isEmpty(): boolean {
    return this.start.isEqual(this.end);
  }
}

class Selection extends Range {
  constructor(readonly anchor: Position, readonly active: Position) {
    super(anchor, active);
  }
}

class InlineCompletionItem {
  constructor(public insertText: string | { value: string }, public range?: Range, public command?: any) {}
}

class InlineCompletionList {
  constructor(public items: InlineCompletionItem[]) {}
}

class ThemeColor {
  constructor(readonly id: string) {}
}

class MarkdownString {
  constructor(public value = '', public supportThemeIcons = false) {}
  appendText(t: string): this {
    this.value += t;
    return this;
  }
  appendMarkdown(t: string): this {
    this.value += t;
    return this;
  }
}

class Diagnostic {
  source?: string;
  code?: string | number | { value: string | number; target: Uri };
  relatedInformation?: any[];
  tags?: number[];
  constructor(public range: Range, public message: string, public severity = 0) {}
}

class TextEdit {
  static replace(range: Range, newText: string): TextEdit {
    return new TextEdit(range, newText);
  }
  static insert(position: Position, newText: string): TextEdit {
    return new TextEdit(new Range(position, position), newText);
  }
  static delete(range: Range): TextEdit {
    return new TextEdit(range, '');
  }
  constructor(public range: Range, public newText: string) {}
}

class CodeAction {
  edit?: WorkspaceEdit;
  command?: any;
  diagnostics?: Diagnostic[];
  isPreferred?: boolean;
  disabled?: { reason: string };
  constructor(public title: string, public kind?: any) {}
}

// The operations of a workspace edit, in order, as VS Code keeps them; applyEdit below performs them.
type EditOp =
  | { kind: 'create'; uri: Uri; options: { overwrite?: boolean; ignoreIfExists?: boolean } }
  | { kind: 'rename'; from: Uri; to: Uri; options: any }
  | { kind: 'delete'; uri: Uri; options: any }
  | { kind: 'edit'; uri: Uri; edits: TextEdit[] };

class WorkspaceEdit {
  readonly ops: EditOp[] = [];
  get size(): number {
    return new Set(this.ops.map((o) => ('uri' in o ? o.uri : o.from).toString())).size;
  }
  createFile(uri: Uri, options: any = {}): void {
    this.ops.push({ kind: 'create', uri, options });
  }
  renameFile(from: Uri, to: Uri, options: any = {}): void {
    this.ops.push({ kind: 'rename', from, to, options });
  }
  deleteFile(uri: Uri, options: any = {}): void {
    this.ops.push({ kind: 'delete', uri, options });
  }
  // `edits`: TextEdit[] or [TextEdit, metadata][] (vscode-languageclient passes the latter).
  set(uri: Uri, edits: any[]): void {
    this.ops.push({ kind: 'edit', uri, edits: edits.map((e) => (Array.isArray(e) ? e[0] : e)) });
  }
  replace(uri: Uri, range: Range, newText: string): void {
    this.ops.push({ kind: 'edit', uri, edits: [new TextEdit(range, newText)] });
  }
  insert(uri: Uri, position: Position, newText: string): void {
    this.replace(uri, new Range(position, position), newText);
  }
  delete(uri: Uri, range: Range): void {
    this.replace(uri, range, '');
  }
  has(uri: Uri): boolean {
    return this.ops.some((o) => o.kind === 'edit' && o.uri.toString() === uri.toString());
  }
  get(uri: Uri): TextEdit[] {
    return this.ops.flatMap((o) => (o.kind === 'edit' && o.uri.toString() === uri.toString() ? o.edits : []));
  }
  entries(): [Uri, TextEdit[]][] {
    return this.ops.filter((o): o is Extract<EditOp, { kind: 'edit' }> => o.kind === 'edit').map((o) => [o.uri, o.edits]);
  }
}

// ---- Uri -----------------------------------------------------------------------------------------

class Uri {
  private constructor(
    readonly scheme: string,
    readonly authority: string,
    readonly path: string,
    readonly query: string,
    readonly fragment: string,
  ) {}
  static parse(value: string): Uri {
    const m = /^(([^:/?#]+?):)?(\/\/([^/?#]*))?([^?#]*)(\?([^#]*))?(#(.*))?/.exec(value)!;
    return new Uri(m[2] ?? '', decodeURIComponent(m[4] ?? ''), decodeURIComponent(m[5] ?? ''), m[7] ?? '', m[9] ?? '');
  }
  static file(p: string): Uri {
    return new Uri('file', '', p.split(path.sep).join('/'), '', '');
  }
  static from(c: { scheme: string; authority?: string; path?: string; query?: string; fragment?: string }): Uri {
    return new Uri(c.scheme, c.authority ?? '', c.path ?? '', c.query ?? '', c.fragment ?? '');
  }
  static joinPath(base: Uri, ...parts: string[]): Uri {
    return base.with({ path: path.posix.join(base.path, ...parts) });
  }
  get fsPath(): string {
    return this.path;
  }
  with(c: { scheme?: string; authority?: string; path?: string; query?: string; fragment?: string }): Uri {
    return new Uri(c.scheme ?? this.scheme, c.authority ?? this.authority, c.path ?? this.path, c.query ?? this.query, c.fragment ?? this.fragment);
  }
  toString(): string {
    const enc = (p: string) => p.split('/').map(encodeURIComponent).join('/');
    let s = `${this.scheme}:`;
    if (this.authority !== '' || this.scheme === 'file') s += `//${this.authority}`;
    s += enc(this.path);
    if (this.query) s += `?${this.query}`;
    if (this.fragment) s += `#${this.fragment}`;
    return s;
  }
  toJSON(): any {
    return { scheme: this.scheme, authority: this.authority, path: this.path, query: this.query, fragment: this.fragment };
  }
}

// ---- documents and editors -------------------------------------------------------------------

class TextDocument {
  version = 1;
  isDirty = false;
  isClosed = false;
  readonly eol = 1;
  constructor(readonly uri: Uri, public languageId: string, private text_: string) {}
  get fileName(): string {
    return this.uri.fsPath;
  }
  get isUntitled(): boolean {
    return this.uri.scheme === 'untitled';
  }
  private lines(): string[] {
    return this.text_.split('\n');
  }
  get lineCount(): number {
    return this.lines().length;
  }
  getText(range?: Range): string {
    if (!range) return this.text_;
    return this.text_.slice(this.offsetAt(range.start), this.offsetAt(range.end));
  }
  offsetAt(p: Position): number {
    const lines = this.lines();
    let o = 0;
    for (let i = 0; i < p.line && i < lines.length; i++) o += lines[i].length + 1;
    return Math.min(this.text_.length, o + p.character);
  }
  positionAt(offset: number): Position {
    const before = this.text_.slice(0, offset).split('\n');
    return new Position(before.length - 1, before[before.length - 1].length);
  }
  lineAt(l: number | Position): any {
    const n = typeof l === 'number' ? l : l.line;
    const text = this.lines()[n] ?? '';
    return {
      lineNumber: n,
      text,
      range: new Range(n, 0, n, text.length),
      firstNonWhitespaceCharacterIndex: text.length - text.trimStart().length,
      isEmptyOrWhitespace: text.trim() === '',
    };
  }
  getWordRangeAtPosition(): undefined {
    return undefined;
  }
  validatePosition(p: Position): Position {
    return p;
  }
  validateRange(r: Range): Range {
    return r;
  }
  save(): Promise<boolean> {
    if (this.uri.scheme === 'file') fs.writeFileSync(this.uri.fsPath, this.text_);
    this.isDirty = false;
    return Promise.resolve(true);
  }
  setText(t: string): void {
    this.text_ = t;
  }
}

class TextEditor {
  selection: Selection;
  constructor(readonly document: TextDocument, at: Position) {
    this.selection = new Selection(at, at);
  }
  get selections(): Selection[] {
    return [this.selection];
  }
  readonly options = {};
  readonly visibleRanges: Range[] = [];
  readonly viewColumn = 1;
}

// ---- settings ------------------------------------------------------------------------------------

// Defaults from package.json's contributes.configuration, like VS Code.
const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '../../../package.json'), 'utf8'));
const defaults = new Map<string, unknown>();
for (const [k, v] of Object.entries<any>(pkg.contributes.configuration.properties)) defaults.set(k, v.default);
defaults.set('editor.inlineSuggest.enabled', true);
const userSettings = new Map<string, unknown>();

function settingValue(full: string): unknown {
  if (userSettings.has(full)) return userSettings.get(full);
  if (defaults.has(full)) return defaults.get(full);
  // a section: the object of its keys
  const obj: Record<string, unknown> = {};
  let any = false;
  for (const key of new Set([...defaults.keys(), ...userSettings.keys()])) {
    if (!key.startsWith(`${full}.`)) continue;
    any = true;
    const parts = key.slice(full.length + 1).split('.');
    let o: any = obj;
    for (const p of parts.slice(0, -1)) o = o[p] ??= {};
    o[parts[parts.length - 1]] = settingValue(key);
  }
  return any ? obj : undefined;
}

const configChanged = new EventEmitter<any>();

function getConfiguration(section?: string): any {
  const full = (key: string) => (section ? `${section}.${key}` : key);
  return {
    get: (key: string, dflt?: unknown) => {
      const v = settingValue(full(key));
      return v === undefined ? dflt : v;
    },
    has: (key: string) => settingValue(full(key)) !== undefined,
    inspect: (key: string) => ({ key: full(key), defaultValue: defaults.get(full(key)), globalValue: userSettings.get(full(key)) }),
    update: async (key: string, value: unknown) => setSetting(full(key), value),
  };
}

function setSetting(key: string, value: unknown): void {
  if (value === undefined) userSettings.delete(key);
  else userSettings.set(key, value);
  configChanged.fire({ affectsConfiguration: (s: string) => key === s || key.startsWith(`${s}.`) || s.startsWith(`${key}.`) });
}

// ---- namespaces -------------------------------------------------------------------------------

// An object whose missing members are: on*/onDid* events, register*/create* functions returning
// disposables, everything else undefined.
function lenient<T extends object>(o: T): T {
  return new Proxy(o, {
    get(target: any, p: string | symbol) {
      if (p in target || typeof p !== 'string') return target[p];
      if (/^on[A-Z]/.test(p)) return new EventEmitter<any>().event;
      if (/^(register|create)/.test(p)) return () => new Disposable();
      return undefined;
    },
  });
}

const openEmitter = new EventEmitter<TextDocument>();
const closeEmitter = new EventEmitter<TextDocument>();
const changeEmitter = new EventEmitter<any>();
const activeEditorEmitter = new EventEmitter<TextEditor | undefined>();
const contentProviders = new Map<string, any>();
const commandHandlers = new Map<string, (...args: any[]) => any>();

interface Shown {
  kind: 'error' | 'warning' | 'info';
  message: string;
  items: string[];
  modal?: boolean;
}

const state = {
  documents: [] as TextDocument[],
  activeTextEditor: undefined as TextEditor | undefined,
  workspaceFolders: undefined as any[] | undefined,
  messages: [] as Shown[],
  statusBarItems: [] as any[],
  outputChannels: [] as any[],
  inlineProviders: [] as { selector: any; provider: any }[],
  shownDocuments: [] as TextDocument[],
  executedCommands: [] as { id: string; args: any[] }[],
  codeActionProviders: [] as { selector: any; provider: any; metadata: any }[],
  appliedEdits: [] as WorkspaceEdit[],
  quickPicks: [] as { items: any[]; options: any }[],
  inputBoxes: [] as any[],
  progress: [] as any[],
  cancelProgressAfterMs: undefined as number | undefined,
  // What the user answers, first in first out: a quick pick's item, an input box's text, a
  // message's button (messages with buttons only). Nothing queued: Escape (undefined).
  replies: { quickPick: [] as any[], inputBox: [] as any[], message: [] as (string | undefined)[] },
};

function showMessage(kind: Shown['kind']) {
  return (message: string, ...items: any[]) => {
    const buttons = items.filter((i) => typeof i === 'string');
    const modal = items.some((i) => typeof i === 'object' && i !== null && i.modal === true);
    state.messages.push({ kind, message, items: buttons, ...(modal ? { modal } : {}) });
    return Promise.resolve(buttons.length > 0 && state.replies.message.length > 0 ? state.replies.message.shift() : undefined);
  };
}

function outputChannel(name: string): any {
  const lines: string[] = [];
  const ch = {
    name,
    lines,
    shown: false,
    logLevel: 3,
    onDidChangeLogLevel: new EventEmitter<number>().event,
    append: (s: string) => lines.push(s),
    appendLine: (s: string) => lines.push(s),
    replace: (s: string) => lines.splice(0, lines.length, s),
    clear: () => lines.splice(0, lines.length),
    trace: (s: string) => lines.push(`[trace] ${s}`),
    debug: (s: string) => lines.push(`[debug] ${s}`),
    info: (s: string) => lines.push(`[info] ${s}`),
    warn: (s: string) => lines.push(`[warn] ${s}`),
    error: (s: any) => lines.push(`[error] ${s instanceof Error ? s.message : s}`),
    show: () => {
      ch.shown = true;
    },
    hide: () => {},
    dispose: () => {},
  };
  state.outputChannels.push(ch);
  return ch;
}

function matchScore(selector: any, doc: TextDocument): number {
  const filters = Array.isArray(selector) ? selector : [selector];
  for (const f of filters) {
    if (typeof f === 'string') {
      if (f === doc.languageId || f === '*') return 10;
      continue;
    }
    if (f.scheme && f.scheme !== doc.uri.scheme) continue;
    if (f.language && f.language !== '*' && f.language !== doc.languageId) continue;
    return 10;
  }
  return 0;
}

const kLanguageByExt: Record<string, string> = { '.py': 'python', '.js': 'javascript', '.ts': 'typescript', '.go': 'go', '.rs': 'rust', '.lua': 'lua', '.cpp': 'cpp', '.c': 'c' };

// The open document of a file, or the file opened (the client sends didOpen), like VS Code.
function openFile(uri: Uri): TextDocument {
  const open = state.documents.find((d) => d.uri.toString() === uri.toString());
  if (open) return open;
  return _test.openDocument(uri, kLanguageByExt[path.extname(uri.fsPath)] ?? 'plaintext', fs.readFileSync(uri.fsPath, 'utf8'));
}

// Replaces each edit's range in `doc`, in one change event (one version), as VS Code does.
function editText(doc: TextDocument, edits: TextEdit[]): void {
  const sorted = [...edits].sort((a, b) => doc.offsetAt(b.range.start) - doc.offsetAt(a.range.start));
  let text = doc.getText();
  const contentChanges = sorted.map((e) => {
    const start = doc.offsetAt(e.range.start);
    const end = doc.offsetAt(e.range.end);
    return { range: e.range, rangeOffset: start, rangeLength: end - start, text: e.newText };
  });
  for (const c of contentChanges) text = text.slice(0, c.rangeOffset) + c.text + text.slice(c.rangeOffset + c.rangeLength);
  doc.setText(text);
  doc.version++;
  doc.isDirty = true;
  changeEmitter.fire({ document: doc, contentChanges, reason: undefined });
}

// workspace.applyEdit: creates files on disk (refusing an existing one unless told to replace it)
// and edits documents, opening those that are not open; edited documents are left unsaved.
function applyEdit(edit: WorkspaceEdit): boolean {
  state.appliedEdits.push(edit);
  for (const op of edit.ops) {
    if (op.kind === 'create') {
      const exists = fs.existsSync(op.uri.fsPath);
      if (exists && !op.options.overwrite) {
        if (op.options.ignoreIfExists) continue;
        return false;
      }
      fs.mkdirSync(path.dirname(op.uri.fsPath), { recursive: true });
      fs.writeFileSync(op.uri.fsPath, '');
      const open = state.documents.find((d) => d.uri.toString() === op.uri.toString());
      if (open) editText(open, [new TextEdit(new Range(new Position(0, 0), open.positionAt(open.getText().length)), '')]);
    } else if (op.kind === 'edit') {
      editText(openFile(op.uri), op.edits);
    } else {
      throw new Error(`stub: applyEdit cannot ${op.kind} yet`);
    }
  }
  return true;
}

const workspace = lenient({
  get textDocuments() {
    return state.documents;
  },
  get workspaceFolders() {
    return state.workspaceFolders;
  },
  notebookDocuments: [],
  getConfiguration,
  onDidChangeConfiguration: configChanged.event,
  onDidOpenTextDocument: openEmitter.event,
  onDidCloseTextDocument: closeEmitter.event,
  onDidChangeTextDocument: changeEmitter.event,
  getWorkspaceFolder: (uri: Uri) => state.workspaceFolders?.find((f) => uri.path.startsWith(f.uri.path)),
  registerTextDocumentContentProvider: (scheme: string, provider: any) => {
    contentProviders.set(scheme, provider);
    return new Disposable(() => contentProviders.delete(scheme));
  },
  openTextDocument: async (uri: Uri) => {
    if (uri.scheme === 'file') return openFile(uri);
    const provider = contentProviders.get(uri.scheme);
    if (!provider) throw new Error(`stub: cannot open ${uri.toString()}`);
    return new TextDocument(uri, 'plaintext', await provider.provideTextDocumentContent(uri, new CancellationTokenSource().token));
  },
  createFileSystemWatcher: () =>
    lenient({ dispose: () => {}, onDidCreate: new EventEmitter().event, onDidChange: new EventEmitter().event, onDidDelete: new EventEmitter().event }),
  applyEdit: async (edit: WorkspaceEdit) => applyEdit(edit),
  fs: {},
});

const window = lenient({
  get activeTextEditor() {
    return state.activeTextEditor;
  },
  get visibleTextEditors() {
    return state.activeTextEditor ? [state.activeTextEditor] : [];
  },
  onDidChangeActiveTextEditor: activeEditorEmitter.event,
  tabGroups: lenient({ all: [] }),
  showErrorMessage: showMessage('error'),
  showWarningMessage: showMessage('warning'),
  showInformationMessage: showMessage('info'),
  setStatusBarMessage: () => new Disposable(),
  createOutputChannel: outputChannel,
  createStatusBarItem: (id?: string) => {
    // `history` keeps every text the item showed, so that a test sees states that came and went
    // before it looked.
    let text = '';
    const item: any = {
      id, tooltip: '', visible: false, history: [] as string[],
      get text() { return text; },
      set text(t: string) { text = t; item.history.push(t); },
      show() { item.visible = true; }, hide() { item.visible = false; }, dispose() {},
    };
    state.statusBarItems.push(item);
    return item;
  },
  showTextDocument: async (doc: TextDocument) => {
    state.shownDocuments.push(doc);
    return new TextEditor(doc, new Position(0, 0));
  },
  // The user presses Cancel state.cancelProgressAfterMs after the notification appears (if set).
  withProgress: async (options: any, task: any) => {
    state.progress.push(options);
    const cts = new CancellationTokenSource();
    const timer = state.cancelProgressAfterMs === undefined ? undefined : setTimeout(() => cts.cancel(), state.cancelProgressAfterMs);
    try {
      return await task({ report: () => {} }, cts.token);
    } finally {
      clearTimeout(timer);
    }
  },
  showQuickPick: async (items: any, options?: any) => {
    const list = await items;
    state.quickPicks.push({ items: list, options });
    return state.replies.quickPick.shift();
  },
  showInputBox: async (options?: any) => {
    state.inputBoxes.push(options);
    const v = state.replies.inputBox.shift();
    if (v !== undefined && options?.validateInput && (await options.validateInput(v))) return undefined;
    return v;
  },
});

const languages = lenient({
  match: matchScore,
  registerInlineCompletionItemProvider: (selector: any, provider: any) => {
    const entry = { selector, provider };
    state.inlineProviders.push(entry);
    return new Disposable(() => {
      const i = state.inlineProviders.indexOf(entry);
      if (i >= 0) state.inlineProviders.splice(i, 1);
    });
  },
  registerCodeActionsProvider: (selector: any, provider: any, metadata?: any) => {
    const entry = { selector, provider, metadata };
    state.codeActionProviders.push(entry);
    return new Disposable(() => {
      const i = state.codeActionProviders.indexOf(entry);
      if (i >= 0) state.codeActionProviders.splice(i, 1);
    });
  },
  createDiagnosticCollection: () =>
    lenient({ set() {}, delete() {}, clear() {}, dispose() {}, forEach() {}, get: () => undefined, has: () => false }),
  getLanguages: async () => [],
});

const commands = lenient({
  registerCommand: (id: string, fn: (...args: any[]) => any) => {
    if (commandHandlers.has(id)) throw new Error(`command '${id}' already exists`);
    commandHandlers.set(id, fn);
    return new Disposable(() => commandHandlers.delete(id));
  },
  executeCommand: async (id: string, ...args: any[]) => {
    state.executedCommands.push({ id, args });
    const fn = commandHandlers.get(id);
    return fn ? fn(...args) : undefined;
  },
  getCommands: async () => [...commandHandlers.keys()],
});

// ---- what tests use ----------------------------------------------------------------------------

const _test = {
  state,
  commandHandlers,
  TextDocument,
  setSetting,
  resetSettings(): void {
    userSettings.clear();
  },
  // Opens a document as VS Code would (the client sends didOpen).
  openDocument(uri: Uri, languageId: string, text: string): TextDocument {
    const doc = new TextDocument(uri, languageId, text);
    state.documents.push(doc);
    openEmitter.fire(doc);
    return doc;
  },
  closeDocument(doc: TextDocument): void {
    state.documents = state.documents.filter((d) => d !== doc);
    doc.isClosed = true;
    closeEmitter.fire(doc);
  },
  // Replaces [start, end) (offsets) by `text` (the client sends didChange).
  editDocument(doc: TextDocument, start: number, end: number, text: string): void {
    const range = new Range(doc.positionAt(start), doc.positionAt(end));
    const old = doc.getText();
    doc.setText(old.slice(0, start) + text + old.slice(end));
    doc.version++;
    changeEmitter.fire({ document: doc, contentChanges: [{ range, rangeOffset: start, rangeLength: end - start, text }], reason: undefined });
  },
  setActiveEditor(doc: TextDocument | undefined, at = new Position(0, 0)): TextEditor | undefined {
    state.activeTextEditor = doc ? new TextEditor(doc, at) : undefined;
    activeEditorEmitter.fire(state.activeTextEditor);
    return state.activeTextEditor;
  },
  context(): any {
    return { subscriptions: [] as { dispose(): any }[], extensionPath: path.join(__dirname, '../../..'), globalState: new Map(), workspaceState: new Map() };
  },
};

// Hierarchical code action kinds ("refactor.rewrite"), as vscode-languageclient builds them.
class CodeActionKind {
  static readonly Empty = new CodeActionKind('');
  static readonly QuickFix = new CodeActionKind('quickfix');
  static readonly Refactor = new CodeActionKind('refactor');
  static readonly RefactorExtract = new CodeActionKind('refactor.extract');
  static readonly RefactorInline = new CodeActionKind('refactor.inline');
  static readonly RefactorRewrite = new CodeActionKind('refactor.rewrite');
  static readonly Source = new CodeActionKind('source');
  static readonly SourceOrganizeImports = new CodeActionKind('source.organizeImports');
  static readonly SourceFixAll = new CodeActionKind('source.fixAll');
  constructor(readonly value: string) {}
  append(part: string): CodeActionKind {
    return new CodeActionKind(this.value ? `${this.value}.${part}` : part);
  }
  contains(other: CodeActionKind): boolean {
    return this.value === '' || other.value === this.value || other.value.startsWith(`${this.value}.`);
  }
  intersects(other: CodeActionKind): boolean {
    return this.contains(other) || other.contains(this);
  }
}

const vscode = {
  __esModule: true,
  CodeActionKind,
  CodeAction,
  CodeActionTriggerKind: { Invoke: 1, Automatic: 2 },
  Diagnostic,
  DiagnosticSeverity: { Error: 0, Warning: 1, Information: 2, Hint: 3 },
  DiagnosticTag: { Unnecessary: 1, Deprecated: 2 },
  TextEdit,
  WorkspaceEdit,
  version: '1.91.0',
  Disposable,
  EventEmitter,
  CancellationTokenSource,
  CancellationError,
  Position,
  Range,
  Selection,
  Uri,
  InlineCompletionItem,
  InlineCompletionList,
  ThemeColor,
  MarkdownString,
  InlineCompletionTriggerKind: { Invoke: 0, Automatic: 1 },
  StatusBarAlignment: { Left: 1, Right: 2 },
  ConfigurationTarget: { Global: 1, Workspace: 2, WorkspaceFolder: 3 },
  ViewColumn: { Active: -1, Beside: -2, One: 1, Two: 2 },
  ProgressLocation: { SourceControl: 1, Window: 10, Notification: 15 },
  LogLevel: { Off: 0, Trace: 1, Debug: 2, Info: 3, Warning: 4, Error: 5 },
  EndOfLine: { LF: 1, CRLF: 2 },
  TextDocumentSaveReason: { Manual: 1, AfterDelay: 2, FocusOut: 3 },
  workspace,
  window,
  languages,
  commands,
  env: lenient({ language: 'en', appName: 'vscode-stub', machineId: 'stub', openExternal: async () => true }),
  extensions: lenient({ all: [], getExtension: () => undefined }),
  _test,
};

// Other classes (CompletionItem, CodeLens...) that vscode-languageclient extends or builds.
const generic = new Map<string, any>();
module.exports = new Proxy(vscode, {
  get(target: any, p: string | symbol) {
    if (p in target || typeof p !== 'string') return target[p];
    if (/^[A-Z]/.test(p)) {
      if (!generic.has(p)) {
        generic.set(p, class {
          constructor(...args: any[]) {
            Object.assign(this, { args });
          }
        });
      }
      return generic.get(p);
    }
    return undefined;
  },
});

export type StubTest = typeof _test;
export type StubUri = Uri;
