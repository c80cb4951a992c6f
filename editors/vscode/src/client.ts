// Starts `moecode serve --stdio` through vscode-languageclient and keeps it running: settings as
// initializationOptions and on change, restart with backoff after a crash (one notice per
// session, backoff.ts), a clear error when the binary is missing, and the server's status,
// progress and errors fed to the status bar. Each (re)start makes a fresh LanguageClient.
import * as vscode from 'vscode';
import {
  CloseAction,
  ErrorAction,
  LanguageClient,
  RevealOutputChannelOn,
  State,
  type CloseHandlerResult,
  type ErrorHandlerResult,
  type LanguageClientOptions,
  type MessageTransports,
} from 'vscode-languageclient/node';
import { DidChangeConfigurationNotification, ExecuteCommandRequest, Message, MessageType, type NotificationMessage } from 'vscode-languageserver-protocol';
import { RestartPolicy } from './backoff';
import { kRestartKeys, kServerKeys, readSettings, serverSettings, type Settings } from './config';
import type { InlineCompletions } from './inline';
import { describeExit, findServer, ServerProcess } from './server_process';
import type { StatusBar } from './status';
import type { IndexingStatus, ServerStatus } from './status_model';

export const kStatusNotification = 'moecode/status';

// A LanguageClient whose errors go to the output channel and to us, never straight to a popup:
// the extension decides what the user is told (crashes once, not once per restart).
class MoecodeLanguageClient extends LanguageClient {
  onError?: (message: string, data: unknown) => void;

  override error(message: string, data?: unknown, _showNotification?: boolean | 'force'): void {
    super.error(message, data, false);
    this.onError?.(message, data);
  }
}

export function settings(): Settings {
  return readSettings(vscode.workspace.getConfiguration('moecode'));
}

function workspaceDir(): string | undefined {
  const f = vscode.workspace.workspaceFolders?.find((w) => w.uri.scheme === 'file');
  return f?.uri.fsPath;
}

export class MoecodeClient implements vscode.Disposable {
  readonly policy = new RestartPolicy();
  private client_: MoecodeLanguageClient | undefined;
  private process_: ServerProcess | undefined;
  private queue_: Promise<void> = Promise.resolve();
  private restartTimer_: NodeJS.Timeout | undefined;
  private disposed_ = false;
  private shownErrors_ = new Set<string>();
  private progress_ = new Map<string | number, { title: string; message: string; percentage?: number }>();
  private lastStderr_ = '';
  private readonly failed_ = new WeakSet<MoecodeLanguageClient>();
  private readonly disposables_: vscode.Disposable[] = [];

  constructor(
    private readonly output_: vscode.LogOutputChannel,
    private readonly status_: StatusBar,
    private readonly inline_: InlineCompletions,
  ) {
    this.disposables_.push(vscode.workspace.onDidChangeConfiguration((e) => this.onConfigurationChanged(e)));
  }

  get languageClient(): LanguageClient | undefined {
    return this.client_;
  }

  // The running server's process id (tests kill it).
  get pid(): number | undefined {
    return this.process_?.pid;
  }

  get running(): boolean {
    return this.client_?.state === State.Running;
  }

  // Starts the server (or restarts it when it runs). Resolves when it runs or has failed;
  // failures show in the status bar, never as a rejection.
  start(): Promise<void> {
    return this.enqueue(() => this.startNow());
  }

  // "moecode: Restart server": a fresh backoff sequence, and a crash is reported again.
  restart(): Promise<void> {
    this.policy.reset();
    this.shownErrors_.clear();
    return this.start();
  }

  stop(): Promise<void> {
    return this.enqueue(async () => {
      await this.stopNow();
      this.status_.update({ phase: 'stopped' });
    });
  }

  // Sends `workspace/executeCommand` to the server; cancelling `token` sends $/cancelRequest.
  async executeCommand<T>(command: string, args: unknown[], token?: vscode.CancellationToken): Promise<T> {
    const c = this.client_;
    if (!c || !this.running) throw new Error(`the moecode server is not running (${this.status_.view.reason})`);
    return (await c.sendRequest(ExecuteCommandRequest.type, { command, arguments: args }, token)) as T;
  }

  async dispose(): Promise<void> {
    this.disposed_ = true;
    for (const d of this.disposables_) d.dispose();
    await this.enqueue(() => this.stopNow());
  }

  private enqueue(fn: () => Promise<void>): Promise<void> {
    this.queue_ = this.queue_.then(fn, fn);
    return this.queue_;
  }

  private async stopNow(): Promise<void> {
    clearTimeout(this.restartTimer_);
    this.restartTimer_ = undefined;
    const client = this.client_;
    const proc = this.process_;
    this.client_ = undefined;
    this.process_ = undefined;
    this.progress_.clear();
    if (client) {
      try {
        await client.dispose(2000);
      } catch (e) {
        this.output_.warn(`stopping the server: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    if (proc) await proc.stop(2000);
  }

  private async startNow(): Promise<void> {
    await this.stopNow();
    if (this.disposed_) return;
    this.status_.update({ server: undefined, indexing: undefined, lastError: undefined, lastOutcome: undefined });
    const s = settings();
    const found = findServer(s.path, process.env, workspaceDir());
    if (!found.ok) {
      this.output_.error(found.message);
      this.status_.update({ phase: 'notFound', phaseDetail: found.message });
      this.tellOnce(found.message, 'Open Settings');
      return;
    }
    this.status_.update({ phase: 'starting', phaseDetail: undefined });
    const client = this.createClient(found.path);
    this.client_ = client;
    try {
      await client.start();
    } catch (e) {
      if (this.client_ !== client) return;
      const exit = await this.process_?.ended(500);
      if (exit?.signal) return;  // crashed while starting: onClosed() restarts it
      await new Promise((r) => setTimeout(r, 50));  // onClosed() reports an exit with the server's own words
      const detail = [e instanceof Error ? e.message : String(e), exit ? describeExit(exit) : '', this.lastStderr_]
        .filter((x) => x !== '')
        .join('; ');
      this.reportStartFailure(client, detail);
    }
  }

  // Once per client: the server did not come up, and restarting it would not help.
  private reportStartFailure(client: MoecodeLanguageClient, detail: string): void {
    if (this.client_ !== client || this.failed_.has(client)) return;
    this.failed_.add(client);
    this.output_.error(`the server did not start: ${detail}`);
    this.status_.update({ phase: 'startFailed', phaseDetail: detail });
    this.tellOnce(`moecode: the server did not start: ${detail}`, 'Show Log');
  }

  private createClient(binary: string): MoecodeLanguageClient {
    const args = ['serve', '--stdio', ...settings().args];
    const serverOptions = async (): Promise<MessageTransports> => {
      this.output_.info(`starting ${binary} ${args.join(' ')}`);
      this.lastStderr_ = '';
      const proc = new ServerProcess(binary, args, (line) => this.onStderr(line), workspaceDir());
      this.process_ = proc;
      await new Promise<void>((resolve, reject) => {
        proc.child.once('spawn', () => resolve());
        proc.child.once('error', (err) => reject(new Error(`cannot run ${binary}: ${err.message}`)));
      });
      return proc.transports((m) => this.watch(m));
    };
    const clientOptions: LanguageClientOptions = {
      documentSelector: [{ scheme: 'file' }, { scheme: 'untitled' }],
      outputChannel: this.output_,
      revealOutputChannelOn: RevealOutputChannelOn.Never,
      initializationOptions: () => serverSettings(settings()),
      errorHandler: {
        error: (): ErrorHandlerResult => ({ action: ErrorAction.Continue, handled: true }),
        closed: () => this.onClosed(client),
      },
      middleware: {
        ...this.inline_.middleware,
        workspace: {
          // workspace/configuration: the server's view of the `moecode` section.
          configuration: async (params, token, next) => {
            const result = await next(params, token);
            if (!Array.isArray(result)) return result;
            return params.items.map((item, i) => (item.section === 'moecode' ? serverSettings(settings()) : result[i]));
          },
        },
      },
    };
    const client = new MoecodeLanguageClient('moecode', 'moecode', serverOptions, clientOptions);
    client.onError = (message, data) => {
      if (this.client_ !== client) return;
      const why = data instanceof Error ? `: ${data.message}` : '';
      this.status_.update({ lastError: `${message}${why}` });
    };
    client.onNotification(kStatusNotification, (p: ServerStatus) => {
      if (this.client_ !== client) return;
      this.status_.update(p.lastError ? { server: p, lastError: p.lastError } : { server: p });
    });
    client.onDidChangeState((e) => {
      if (this.client_ !== client || e.newState !== State.Running) return;
      this.policy.started();
      this.status_.update({ phase: 'running', phaseDetail: undefined, crashes: 0, restartInMs: undefined });
    });
    return client;
  }

  // The connection closed without us asking: restart with backoff. The LanguageClient itself
  // is told not to restart (it would report every failed start); startNow() makes a new one.
  private async onClosed(client: MoecodeLanguageClient): Promise<CloseHandlerResult> {
    if (this.disposed_ || this.client_ !== client) return { action: CloseAction.DoNotRestart, handled: true };
    const proc = this.process_;
    const exit = await proc?.ended(1000);
    const wasRunning = this.status_.inputs.phase === 'running';
    const how = describeExit(exit);
    if (this.failed_.has(client)) return { action: CloseAction.DoNotRestart, handled: true };
    // A server that exits by itself with a status before it ever ran is misconfigured
    // (bad moecode.args, say): restarting it would only fail again.
    if (!wasRunning && exit && exit.signal === null) {
      this.reportStartFailure(client, `${how}${this.lastStderr_ ? `: ${this.lastStderr_}` : ''}`);
      return { action: CloseAction.DoNotRestart, handled: true, message: `the moecode server ended (${how})` };
    }
    const d = this.policy.crashed();
    this.output_.error(`the server ended unexpectedly (${how}); restarting it in ${d.delayMs} ms (crash ${d.attempt} in a row)`);
    this.status_.update({ phase: 'restarting', phaseDetail: how, crashes: d.attempt, restartInMs: d.delayMs, server: undefined, indexing: undefined });
    if (d.notify) {
      void vscode.window
        .showWarningMessage(`moecode: the server crashed (${how}); it restarts by itself. Later crashes show in the status bar only.`, 'Show Log')
        .then((choice) => {
          if (choice === 'Show Log') this.output_.show(true);
        });
    }
    clearTimeout(this.restartTimer_);
    this.restartTimer_ = setTimeout(() => {
      this.restartTimer_ = undefined;
      if (!this.disposed_ && this.client_ === client) void this.start();
    }, d.delayMs);
    return { action: CloseAction.DoNotRestart, handled: true, message: `the moecode server ended (${how}); restarting it in ${d.delayMs} ms` };
  }

  private onConfigurationChanged(e: vscode.ConfigurationChangeEvent): void {
    if (!e.affectsConfiguration('moecode') || this.disposed_) return;
    if (kRestartKeys.some((k) => e.affectsConfiguration(`moecode.${k}`))) {
      this.output_.info('moecode.path or moecode.args changed: restarting the server');
      void this.restart();
      return;
    }
    if (!kServerKeys.some((k) => e.affectsConfiguration(`moecode.${k}`))) return;
    const c = this.client_;
    if (!c || !this.running) return;  // the next start sends them as initializationOptions
    void c
      .sendNotification(DidChangeConfigurationNotification.type, { settings: { moecode: serverSettings(settings()) } })
      .catch((err: unknown) => this.output_.warn(`sending the settings: ${err instanceof Error ? err.message : String(err)}`));
  }

  private onStderr(line: string): void {
    if (line.trim() !== '') this.lastStderr_ = line.trim();
    this.output_.appendLine(`[server] ${line}`);
  }

  // Incoming messages, seen before the LanguageClient handles them: indexing progress (not the
  // progress of a translation, which has its own notification) and the errors the server shows.
  private watch(m: Message): void {
    if (!Message.isNotification(m)) return;
    const n = m as NotificationMessage;
    if (n.method === '$/progress') {
      const p = n.params as { token: string | number; value?: { kind?: string; title?: string; message?: string; percentage?: number } };
      const v = p.value;
      if (!v || typeof v !== 'object') return;
      if (v.kind === 'begin') {
        if (!/index/i.test(v.title ?? '')) return;
        this.progress_.set(p.token, { title: v.title ?? '', message: v.message ?? '', percentage: v.percentage });
      } else if (v.kind === 'report' && this.progress_.has(p.token)) {
        const prev = this.progress_.get(p.token)!;
        this.progress_.set(p.token, { title: prev.title, message: v.message ?? prev.message, percentage: v.percentage ?? prev.percentage });
      } else if (v.kind === 'end' && this.progress_.has(p.token)) {
        this.progress_.delete(p.token);
      } else {
        return;
      }
      const last = [...this.progress_.values()].pop();
      const indexing: IndexingStatus = last
        ? { active: true, message: [last.title, last.message].filter((x) => x !== '').join(': '), percentage: last.percentage }
        : { active: false, message: v.message };
      this.status_.update({ indexing });
    } else if (n.method === 'window/showMessage') {
      const p = n.params as { type: number; message: string };
      if (p.type === MessageType.Error || p.type === MessageType.Warning) this.status_.update({ lastError: p.message });
    }
  }

  // Shows the error `message` unless this session has shown it already.
  private tellOnce(message: string, action: 'Open Settings' | 'Show Log'): void {
    if (this.shownErrors_.has(message)) return;
    this.shownErrors_.add(message);
    void vscode.window.showErrorMessage(message, action).then((choice) => {
      if (choice === 'Open Settings') void vscode.commands.executeCommand('workbench.action.openSettings', 'moecode.path');
      if (choice === 'Show Log') this.output_.show(true);
    });
  }
}
