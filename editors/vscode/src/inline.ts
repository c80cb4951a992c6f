// Inline completions (ghost text): vscode-languageclient's inline completion feature sends
// `textDocument/inlineCompletion` (LSP 3.18) and cancels it with `$/cancelRequest` when VS Code
// cancels the token; this middleware decides whether to ask at all (paused, language off, server
// down), debounces automatic triggers, and records what happened for the status bar.
import * as vscode from 'vscode';
import type { Middleware } from 'vscode-languageclient/node';
import { languageEnabled, type Settings } from './config';

export interface InlineStats {
  requested: number;  // times VS Code asked
  skipped: number;    // answered nothing without asking the server (paused, language off, server down)
  sent: number;       // requests sent to the server
  answered: number;   // answers with at least one item
  empty: number;      // answers without items
  cancelled: number;  // cancelled while debouncing or in flight
  failed: number;
}

export interface InlineDeps {
  settings(): Settings;
  serverReady(): boolean;
  outcome(text: string, error?: string): void;  // for the status bar
}

type Items = vscode.InlineCompletionItem[] | vscode.InlineCompletionList;
type ProvideInline = NonNullable<Middleware['provideInlineCompletionItems']>;
type Next = Parameters<ProvideInline>[4];

// Resolves true after `ms`, or false as soon as `token` is cancelled.
export function delay(ms: number, token: vscode.CancellationToken): Promise<boolean> {
  if (token.isCancellationRequested) return Promise.resolve(false);
  return new Promise((resolve) => {
    const sub = token.onCancellationRequested(() => {
      clearTimeout(timer);
      sub.dispose();
      resolve(false);
    });
    const timer = setTimeout(() => {
      sub.dispose();
      resolve(true);
    }, ms);
  });
}

function countItems(r: Items | null | undefined): number {
  if (!r) return 0;
  return Array.isArray(r) ? r.length : r.items.length;
}

function isCancellation(e: unknown): boolean {
  return e instanceof vscode.CancellationError || (e instanceof Error && e.name === 'Canceled');
}

export class InlineCompletions {
  readonly stats: InlineStats = { requested: 0, skipped: 0, sent: 0, answered: 0, empty: 0, cancelled: 0, failed: 0 };

  constructor(private readonly deps_: InlineDeps) {}

  readonly middleware: Pick<Middleware, 'provideInlineCompletionItems'> = {
    provideInlineCompletionItems: (document, position, context, token, next) =>
      this.provide(document, position, context, token, next),
  };

  // Why a request for `document` would not be sent, or undefined when it would.
  blockedReason(document: vscode.TextDocument): string | undefined {
    const s = this.deps_.settings();
    if (!s.enable) return 'paused (moecode.enable is off)';
    if (!languageEnabled(s.enabledLanguages, document.languageId)) return `off for ${document.languageId} (moecode.enabledLanguages)`;
    if (!this.deps_.serverReady()) return 'the server is not running';
    return undefined;
  }

  async provide(
    document: vscode.TextDocument,
    position: vscode.Position,
    context: vscode.InlineCompletionContext,
    token: vscode.CancellationToken,
    next: Next,
  ): Promise<Items | null> {
    this.stats.requested++;
    const blocked = this.blockedReason(document);
    if (blocked) {
      this.stats.skipped++;
      this.deps_.outcome(`not requested: ${blocked}`);
      return null;
    }
    const { debounceMs } = this.deps_.settings();
    if (context.triggerKind === vscode.InlineCompletionTriggerKind.Automatic && debounceMs > 0) {
      if (!(await delay(debounceMs, token))) {
        this.stats.cancelled++;
        return null;
      }
    }
    if (token.isCancellationRequested) {
      this.stats.cancelled++;
      return null;
    }
    this.stats.sent++;
    try {
      const result = await next(document, position, context, token);
      if (token.isCancellationRequested) {
        this.stats.cancelled++;
        return null;
      }
      const n = countItems(result);
      if (n > 0) {
        this.stats.answered++;
        this.deps_.outcome(`${n} suggestion${n > 1 ? 's' : ''}`);
      } else {
        this.stats.empty++;
        this.deps_.outcome('the server answered nothing at this position');
      }
      return result ?? null;
    } catch (e) {
      if (isCancellation(e)) {
        this.stats.cancelled++;
        return null;
      }
      this.stats.failed++;
      const msg = e instanceof Error ? e.message : String(e);
      this.deps_.outcome('failed', `inline completion failed: ${msg}`);
      return null;
    }
  }
}
