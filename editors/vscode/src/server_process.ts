// The `moecode serve --stdio` process: finding the binary (moecode.path, else PATH; never a
// download), spawning it, its stderr as log lines, how it ended, and LSP transports whose reader
// lets the extension watch incoming messages ($/progress, window/showMessage) without replacing
// vscode-languageclient's handlers. No `vscode` import: unit tested in plain Node.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { StreamMessageReader, StreamMessageWriter, type DataCallback, type Disposable, type Message } from 'vscode-jsonrpc/node';

export type FindResult = { ok: true; path: string } | { ok: false; message: string };

function executable(file: string): boolean {
  try {
    if (!fs.statSync(file).isFile()) return false;
    fs.accessSync(file, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

// The binary to run: `setting` (moecode.path: absolute, ~/..., or relative to `baseDir`, the first
// workspace folder) when set, else the first `moecode` on PATH.
export function findServer(setting: string, env: NodeJS.ProcessEnv = process.env, baseDir?: string): FindResult {
  const names = process.platform === 'win32' ? ['moecode.exe', 'moecode'] : ['moecode'];
  if (setting.trim() !== '') {
    let p = setting.trim();
    if (p === '~' || p.startsWith('~/')) p = path.join(os.homedir(), p.slice(1));
    if (!path.isAbsolute(p)) p = path.resolve(baseDir ?? process.cwd(), p);
    if (executable(p)) return { ok: true, path: p };
    const why = fs.existsSync(p) ? 'is not an executable file' : 'does not exist';
    return { ok: false, message: `moecode.path is set to '${setting}', but ${p} ${why}. Fix the setting moecode.path (or clear it to use PATH).` };
  }
  const dirs = (env.PATH ?? env.Path ?? '').split(path.delimiter).filter((d) => d !== '');
  for (const dir of dirs) {
    for (const name of names) {
      const p = path.join(dir, name);
      if (executable(p)) return { ok: true, path: p };
    }
  }
  return {
    ok: false,
    message: "The moecode binary was not found on PATH. Set moecode.path to it (a source build puts it in build/bin/moecode; scripts/setup builds it). The extension never downloads it.",
  };
}

// A StreamMessageReader that shows each message to `tap` before the connection handles it.
export class TapReader extends StreamMessageReader {
  constructor(readable: NodeJS.ReadableStream, private readonly tap: (message: Message) => void) {
    super(readable);
  }

  override listen(callback: DataCallback): Disposable {
    return super.listen((message) => {
      try {
        this.tap(message);
      } catch {
        // a watcher's bug must not break the connection
      }
      callback(message);
    });
  }
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export function describeExit(e: ExitInfo | undefined): string {
  if (!e) return 'connection closed';
  if (e.signal) return `killed by ${e.signal}`;
  return `exit code ${e.code}`;
}

// One server process. `exit` resolves when it has ended (also when it could not be spawned).
export class ServerProcess {
  readonly child: ChildProcess;
  readonly exit: Promise<ExitInfo>;
  private exitInfo_: ExitInfo | undefined;
  private spawnError_: Error | undefined;

  constructor(binary: string, args: string[], onStderrLine: (line: string) => void, cwd?: string) {
    this.child = spawn(binary, args, { stdio: ['pipe', 'pipe', 'pipe'], cwd, windowsHide: true });
    this.exit = new Promise((resolve) => {
      this.child.on('error', (err) => {
        this.spawnError_ = err;
        if (this.child.pid === undefined) {
          this.exitInfo_ = { code: null, signal: null };
          resolve(this.exitInfo_);
        }
      });
      this.child.on('exit', (code, signal) => {
        this.exitInfo_ = { code, signal };
        resolve(this.exitInfo_);
      });
    });
    let pending = '';
    this.child.stderr?.setEncoding('utf8');
    this.child.stderr?.on('data', (chunk: string) => {
      pending += chunk;
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        onStderrLine(pending.slice(0, nl).replace(/\r$/, ''));
        pending = pending.slice(nl + 1);
      }
    });
    this.child.stderr?.on('end', () => {
      if (pending !== '') onStderrLine(pending);
      pending = '';
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get exited(): ExitInfo | undefined {
    return this.exitInfo_;
  }

  get spawnError(): Error | undefined {
    return this.spawnError_;
  }

  transports(tap: (message: Message) => void): { reader: TapReader; writer: StreamMessageWriter } {
    return { reader: new TapReader(this.child.stdout!, tap), writer: new StreamMessageWriter(this.child.stdin!) };
  }

  // How it ended, waiting up to `ms` for the exit status (stdout may close before it arrives).
  async ended(ms: number): Promise<ExitInfo | undefined> {
    if (this.exitInfo_) return this.exitInfo_;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => { timer = setTimeout(() => resolve(undefined), ms); });
    const r = await Promise.race([this.exit, timeout]);
    clearTimeout(timer);
    return r;
  }

  // Ends the process if it is still running after `graceMs` (it normally exits on LSP `exit`).
  async stop(graceMs: number): Promise<void> {
    if (this.exitInfo_) return;
    if (await this.ended(graceMs)) return;
    this.child.kill('SIGTERM');
    if (await this.ended(1000)) return;
    this.child.kill('SIGKILL');
    await this.ended(1000);
  }
}
